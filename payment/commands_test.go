package payment

import (
	"errors"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/prism-cqrs/prism/payment/schemas"
	"github.com/prism-cqrs/prism/payment/schemas/schematest"
	"github.com/prism-cqrs/prism/producers"
	"github.com/prism-cqrs/prism/records"
)

// jsonLines is the JSON Lines reader of `prism produce --file` with
// Payment's codec: the path every line of a file takes.
func jsonLines(t testing.TB) *producers.CommandSet {
	t.Helper()
	codec, err := schemas.NewCodec()
	if err != nil {
		t.Fatal(err)
	}
	set, err := producers.NewCommandSet(NewCommandCodec(codec))
	if err != nil {
		t.Fatal(err)
	}
	return set
}

// readLine parses line as the JSON Lines reader does.
func readLine(t testing.TB, line string) (*schemas.CommandEnvelope, error) {
	t.Helper()
	cmd, err := jsonLines(t).Parse([]byte(line))
	if err != nil {
		return nil, err
	}
	return cmd.(*schemas.CommandEnvelope), nil
}

// commandID is the command id of a parsed line.
func commandID(c records.Command) string { return c.CommandMeta().CommandID }

func TestParseCommandLineValid(t *testing.T) {
	v3 := int64(3)
	tests := []struct {
		name string
		line string
		want schemas.CommandEnvelope
	}{
		{
			name: "create from the docs",
			line: `{"type":"CreatePayment","commandId":"c-1","paymentId":"p-1","organizationId":"org-1","userId":"u-1","amount":"100.00","currency":"EUR","description":"GPU hours","correlationId":"wf-9"}`,
			want: schemas.CommandEnvelope{CommandID: "c-1", Type: "CreatePayment", PaymentID: "p-1", OrganizationID: "org-1", UserID: "u-1", CorrelationID: "wf-9",
				Payload: schemas.CommandPayload{Create: &schemas.CreatePayment{AmountMinor: 10000, Currency: "EUR", Description: "GPU hours"}}},
		},
		{
			name: "create in a zero-decimal currency, fewer decimals, issuedAt and causation",
			line: `{"type":"CreatePayment","commandId":"c-2","paymentId":"p-2","organizationId":"o","userId":"u","amount":"1500","currency":"JPY","correlationId":"w","causationId":"c-1","issuedAt":"2026-03-01T10:00:00+01:00"}`,
			want: schemas.CommandEnvelope{CommandID: "c-2", Type: "CreatePayment", PaymentID: "p-2", OrganizationID: "o", UserID: "u", CorrelationID: "w", CausationID: "c-1",
				IssuedAt: time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC),
				Payload:  schemas.CommandPayload{Create: &schemas.CreatePayment{AmountMinor: 1500, Currency: "JPY"}}},
		},
		{
			name: "create with three-decimal currency and one decimal given",
			line: `{"type":"CreatePayment","commandId":"c","paymentId":"p","organizationId":"o","userId":"u","amount":"2.5","currency":"KWD","correlationId":"w"}`,
			want: schemas.CommandEnvelope{CommandID: "c", Type: "CreatePayment", PaymentID: "p", OrganizationID: "o", UserID: "u", CorrelationID: "w",
				Payload: schemas.CommandPayload{Create: &schemas.CreatePayment{AmountMinor: 2500, Currency: "KWD"}}},
		},
		{
			name: "update amount only, with expected version",
			line: `{"type":"UpdatePayment","commandId":"c","paymentId":"p","organizationId":"o","userId":"u","amount":"12.34","currency":"USD","expectedVersion":3,"correlationId":"w"}`,
			want: schemas.CommandEnvelope{CommandID: "c", Type: "UpdatePayment", PaymentID: "p", OrganizationID: "o", UserID: "u", CorrelationID: "w", ExpectedVersion: &v3,
				Payload: schemas.CommandPayload{Update: &schemas.UpdatePayment{AmountMinor: ptr(int64(1234)), Currency: ptr("USD")}}},
		},
		{
			name: "update description only",
			line: `{"type":"UpdatePayment","commandId":"c","paymentId":"p","organizationId":"o","userId":"u","description":"","correlationId":"w"}`,
			want: schemas.CommandEnvelope{CommandID: "c", Type: "UpdatePayment", PaymentID: "p", OrganizationID: "o", UserID: "u", CorrelationID: "w",
				Payload: schemas.CommandPayload{Update: &schemas.UpdatePayment{Description: ptr("")}}},
		},
		{
			name: "status change with reason",
			line: `{"type":"ChangePaymentStatus","commandId":"c","paymentId":"p","organizationId":"o","userId":"u","status":"FAILED","reason":"card declined","correlationId":"w"}`,
			want: schemas.CommandEnvelope{CommandID: "c", Type: "ChangePaymentStatus", PaymentID: "p", OrganizationID: "o", UserID: "u", CorrelationID: "w",
				Payload: schemas.CommandPayload{ChangeStatus: &schemas.ChangePaymentStatus{Status: schemas.StatusFailed, Reason: "card declined"}}},
		},
		{
			name: "delete without reason",
			line: `  {"type":"DeletePayment","commandId":"c","paymentId":"p","organizationId":"o","userId":"u","correlationId":"w"}  `,
			want: schemas.CommandEnvelope{CommandID: "c", Type: "DeletePayment", PaymentID: "p", OrganizationID: "o", UserID: "u", CorrelationID: "w",
				Payload: schemas.CommandPayload{Delete: &schemas.DeletePayment{}}},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ParseCommandLine([]byte(tc.line))
			if err != nil {
				t.Fatalf("ParseCommandLine: %v", err)
			}
			if diff := schematest.DiffEnvelope(got, &tc.want); diff != "" {
				t.Fatalf("envelope differs: %s", diff)
			}
			got, err = readLine(t, tc.line)
			if err != nil {
				t.Fatalf("JSON Lines reader: %v", err)
			}
			if diff := schematest.DiffEnvelope(got, &tc.want); diff != "" {
				t.Fatalf("envelope differs: %s", diff)
			}
		})
	}
}

func TestParseCommandLineGeneratesMissingIDs(t *testing.T) {
	line := []byte(`{"type":"DeletePayment","paymentId":"p","organizationId":"o","userId":"u"}`)
	a, err := ParseCommandLine(line)
	if err != nil {
		t.Fatal(err)
	}
	b, err := ParseCommandLine(line)
	if err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{a.CommandID, a.CorrelationID, b.CommandID} {
		if len(id) != 36 || strings.Count(id, "-") != 4 {
			t.Fatalf("generated id %q is not a UUID", id)
		}
	}
	if a.CommandID == b.CommandID || a.CommandID == a.CorrelationID {
		t.Fatalf("generated ids collide: %q %q %q", a.CommandID, a.CorrelationID, b.CommandID)
	}
	if !a.IssuedAt.IsZero() {
		t.Fatalf("issuedAt %v, want zero (stamped at send)", a.IssuedAt)
	}
}

func TestParseCommandLineErrors(t *testing.T) {
	const common = `"commandId":"c","paymentId":"p","organizationId":"o","userId":"u"`
	tests := []struct {
		name      string
		line      string
		field     string // "" means not a field error: ErrInvalidJSON
		reasonHas string
	}{
		{"not JSON", `type=CreatePayment`, "", "invalid character"},
		{"truncated JSON", `{"type":"CreatePayment"`, "", "unexpected EOF"},
		{"empty line", ``, "", "empty line"},
		{"JSON array", `[1,2]`, "", "cannot unmarshal array"},
		{"two values", `{"type":"DeletePayment",` + common + `} {}`, "", "more than one JSON value"},
		{"missing type", `{` + common + `}`, "type", "required"},
		{"unknown type", `{"type":"RefundPayment",` + common + `}`, "type", `unknown command type "RefundPayment"`},
		{"unknown field", `{"type":"DeletePayment",` + common + `,"ammount":"1.00"}`, "ammount", "unknown field"},
		{"missing paymentId", `{"type":"DeletePayment","commandId":"c","organizationId":"o","userId":"u"}`, "paymentId", "required"},
		{"blank paymentId", `{"type":"DeletePayment","commandId":"c","paymentId":" ","organizationId":"o","userId":"u"}`, "paymentId", "required"},
		{"missing organizationId", `{"type":"DeletePayment","commandId":"c","paymentId":"p","userId":"u"}`, "organizationId", "required"},
		{"missing userId", `{"type":"DeletePayment","commandId":"c","paymentId":"p","organizationId":"o"}`, "userId", "required"},
		{"id not a string", `{"type":"DeletePayment","commandId":7,"paymentId":"p","organizationId":"o","userId":"u"}`, "commandId", "must be a string"},
		{"create without amount", `{"type":"CreatePayment",` + common + `,"currency":"EUR"}`, "amount", "required"},
		{"create without currency", `{"type":"CreatePayment",` + common + `,"amount":"1.00"}`, "currency", "required"},
		{"amount as a JSON number", `{"type":"CreatePayment",` + common + `,"amount":100.5,"currency":"EUR"}`, "amount", "decimal string"},
		{"too many decimals", `{"type":"CreatePayment",` + common + `,"amount":"100.001","currency":"EUR"}`, "amount", "3 decimals, EUR allows 2"},
		{"decimals on a zero-decimal currency", `{"type":"CreatePayment",` + common + `,"amount":"100.5","currency":"JPY"}`, "amount", "JPY allows 0"},
		{"amount not a number", `{"type":"CreatePayment",` + common + `,"amount":"ten","currency":"EUR"}`, "amount", "not a decimal number"},
		{"amount in exponent form", `{"type":"CreatePayment",` + common + `,"amount":"1e3","currency":"EUR"}`, "amount", "not a decimal number"},
		{"amount out of range", `{"type":"CreatePayment",` + common + `,"amount":"99999999999999999999","currency":"EUR"}`, "amount", "out of range"},
		{"unknown currency", `{"type":"CreatePayment",` + common + `,"amount":"1.00","currency":"XYZ"}`, "currency", `unknown ISO 4217 currency "XYZ"`},
		{"lower-case currency", `{"type":"CreatePayment",` + common + `,"amount":"1.00","currency":"eur"}`, "currency", "unknown ISO 4217"},
		{"status on a create", `{"type":"CreatePayment",` + common + `,"amount":"1.00","currency":"EUR","status":"PENDING"}`, "status", "not allowed for CreatePayment"},
		{"reason on a create", `{"type":"CreatePayment",` + common + `,"amount":"1.00","currency":"EUR","reason":"x"}`, "reason", "not allowed for CreatePayment"},
		{"update without changes", `{"type":"UpdatePayment",` + common + `}`, "amount", "needs amount"},
		{"update currency alone", `{"type":"UpdatePayment",` + common + `,"currency":"EUR"}`, "currency", "only allowed together with amount"},
		{"update currency and description without amount", `{"type":"UpdatePayment",` + common + `,"currency":"EUR","description":"d"}`, "currency", "only allowed together with amount"},
		{"update amount without currency", `{"type":"UpdatePayment",` + common + `,"amount":"1.00"}`, "currency", "required with amount"},
		{"update with too many decimals", `{"type":"UpdatePayment",` + common + `,"amount":"1.001","currency":"USD"}`, "amount", "USD allows 2"},
		{"status on an update", `{"type":"UpdatePayment",` + common + `,"description":"d","status":"FAILED"}`, "status", "not allowed for UpdatePayment"},
		{"status change without status", `{"type":"ChangePaymentStatus",` + common + `}`, "status", "required"},
		{"unknown status", `{"type":"ChangePaymentStatus",` + common + `,"status":"PAID"}`, "status", `unknown status "PAID"`},
		{"amount on a status change", `{"type":"ChangePaymentStatus",` + common + `,"status":"FAILED","amount":"1.00"}`, "amount", "not allowed for ChangePaymentStatus"},
		{"description on a delete", `{"type":"DeletePayment",` + common + `,"description":"d"}`, "description", "not allowed for DeletePayment"},
		{"negative expected version", `{"type":"DeletePayment",` + common + `,"expectedVersion":-1}`, "expectedVersion", "must be >= 0"},
		{"fractional expected version", `{"type":"DeletePayment",` + common + `,"expectedVersion":1.5}`, "expectedVersion", "must be an integer"},
		{"expected version as a string", `{"type":"DeletePayment",` + common + `,"expectedVersion":"2"}`, "expectedVersion", "must be an integer"},
		{"key differing only by case", `{"type":"DeletePayment","commandId":"c","PaymentId":"p","organizationId":"o","userId":"u"}`, "PaymentId", `keys are case-sensitive: "paymentId"`},
		{"upper-case type key", `{"TYPE":"DeletePayment",` + common + `}`, "TYPE", "unknown field"},
		{"empty key", `{"type":"DeletePayment",` + common + `,"":"x"}`, `""`, "unknown field (an empty key)"},
		{"key with quotes", `{"type":"DeletePayment",` + common + `,"\"reason\"":"x"}`, `"reason"`, "unknown field"},
		{"duplicate key", `{"type":"DeletePayment",` + common + `,"paymentId":"p2"}`, "paymentId", "given twice"},
		{"duplicate key, same value", `{"type":"DeletePayment",` + common + `,"reason":"a","reason":"a"}`, "reason", "given twice"},
		{"duplicate key, one escaped", `{"type":"DeletePayment",` + common + `,"payment\u0049d":"p2"}`, "payment\\u0049d", "given twice"},
		{"case-differing key after a nested value", `{"type":"DeletePayment",` + common + `,"reason":"a,\"b\"}{","Reason":"x"}`, "Reason", "keys are case-sensitive"},
		{"amount zero", `{"type":"CreatePayment",` + common + `,"amount":"0","currency":"EUR"}`, "amount", `"0" must be greater than 0`},
		{"amount zero with decimals", `{"type":"CreatePayment",` + common + `,"amount":"0.00","currency":"EUR"}`, "amount", "must be greater than 0"},
		{"amount negative", `{"type":"CreatePayment",` + common + `,"amount":"-1","currency":"EUR"}`, "amount", `"-1" must be greater than 0`},
		{"update amount negative", `{"type":"UpdatePayment",` + common + `,"amount":"-0.01","currency":"EUR"}`, "amount", "must be greater than 0"},
		{"description over the limit", `{"type":"CreatePayment",` + common + `,"amount":"1","currency":"EUR","description":"` + strings.Repeat("é", 1001) + `"}`, "description", "is 1001 characters long, at most 1000 allowed"},
		{"description with an escaped NUL", `{"type":"CreatePayment",` + common + `,"amount":"1","currency":"EUR","description":"gpu\u0000"}`, "description", "control character U+0000 at character 4"},
		{"description with a newline", `{"type":"UpdatePayment",` + common + `,"description":"a\nb"}`, "description", "control character U+000A"},
		{"reason with a C1 control", `{"type":"DeletePayment",` + common + `,"reason":"a\u0085"}`, "reason", "control character U+0085"},
		{"paymentId with an escaped NUL", `{"type":"DeletePayment","commandId":"c","paymentId":"p\u0000","organizationId":"o","userId":"u"}`, "paymentId", "control character U+0000"},
		{"organizationId too long", `{"type":"DeletePayment","commandId":"c","paymentId":"p","organizationId":"` + strings.Repeat("o", 129) + `","userId":"u"}`, "organizationId", "129 bytes long"},
		{"causationId with DEL", `{"type":"DeletePayment",` + common + `,"causationId":"\u007f"}`, "causationId", "control character U+007F"},
		{"issuedAt not RFC 3339", `{"type":"DeletePayment",` + common + `,"issuedAt":"2026-03-01 10:00"}`, "issuedAt", "not an RFC 3339 time"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			env, err := readLine(t, tc.line)
			if err == nil {
				t.Fatalf("accepted an invalid line, got %+v", env)
			}
			var fe *producers.FieldError
			if tc.field == "" {
				if !errors.Is(err, producers.ErrInvalidJSON) || errors.As(err, &fe) {
					t.Fatalf("error %q: want ErrInvalidJSON", err)
				}
			} else {
				if !errors.As(err, &fe) {
					t.Fatalf("error %q is not a *FieldError", err)
				}
				if fe.Field != tc.field {
					t.Fatalf("error %q names field %q, want %q", err, fe.Field, tc.field)
				}
				if !strings.HasPrefix(err.Error(), "field "+tc.field+": ") {
					t.Fatalf("error %q does not start with the field", err)
				}
			}
			if !strings.Contains(err.Error(), tc.reasonHas) {
				t.Fatalf("error %q does not say %q", err, tc.reasonHas)
			}
		})
	}
}

func TestReadJSONLNumbersLines(t *testing.T) {
	input := strings.Join([]string{
		`{"type":"DeletePayment","commandId":"c1","paymentId":"p","organizationId":"o","userId":"u"}`,
		``,
		`{"type":"DeletePayment","commandId":"c3","paymentId":"p","organizationId":"o"}`,
		`   `,
		`{"type":"CreatePayment","commandId":"c5","paymentId":"p","organizationId":"o","userId":"u","amount":"1.234","currency":"EUR"}`,
		`{"type":"DeletePayment","commandId":"c6","paymentId":"p","organizationId":"o","userId":"u"}`,
		`{"type":"DeletePayment","commandId":"c7","paymentId":"p","organizationId":"o","userId":"u"}`, // no final newline
	}, "\r\n")
	ok, bad, err := producers.ReadJSONL(strings.NewReader(input), jsonLines(t))
	if err != nil {
		t.Fatal(err)
	}
	var gotOK []string
	for _, p := range ok {
		gotOK = append(gotOK, commandID(p.Command)+"@"+strconv.Itoa(p.Line))
	}
	if want := "c1@1 c6@6 c7@7"; strings.Join(gotOK, " ") != want {
		t.Fatalf("valid lines %v, want %s", gotOK, want)
	}
	if len(bad) != 2 || bad[0].Line != 3 || bad[1].Line != 5 {
		t.Fatalf("invalid lines %v, want lines 3 and 5", bad)
	}
	if got := bad[0].Error(); got != "line 3: field userId: required" {
		t.Fatalf("line error %q", got)
	}
	if got := bad[1].Error(); !strings.HasPrefix(got, "line 5: field amount: ") {
		t.Fatalf("line error %q", got)
	}
}

func TestReadJSONLRejectsOverlongLine(t *testing.T) {
	long := `{"type":"DeletePayment","paymentId":"p","organizationId":"o","userId":"u","reason":"` + strings.Repeat("x", producers.MaxLineBytes) + `"}`
	input := long + "\n" + `{"type":"DeletePayment","commandId":"c2","paymentId":"p","organizationId":"o","userId":"u"}` + "\n"
	ok, bad, err := producers.ReadJSONL(strings.NewReader(input), jsonLines(t))
	if err != nil {
		t.Fatal(err)
	}
	if len(bad) != 1 || bad[0].Line != 1 || !strings.Contains(bad[0].Error(), "longer than") {
		t.Fatalf("bad = %v, want line 1 too long", bad)
	}
	if len(ok) != 1 || ok[0].Line != 2 || commandID(ok[0].Command) != "c2" {
		t.Fatalf("ok = %+v, want c2 on line 2", ok)
	}
}

func TestReadJSONLIgnoresByteOrderMark(t *testing.T) {
	input := "\xEF\xBB\xBF" + `{"type":"DeletePayment","commandId":"c1","paymentId":"p","organizationId":"o","userId":"u"}` + "\n"
	ok, bad, err := producers.ReadJSONL(strings.NewReader(input), jsonLines(t))
	if err != nil || len(bad) != 0 || len(ok) != 1 || commandID(ok[0].Command) != "c1" {
		t.Fatalf("ok=%v bad=%v err=%v, want c1 parsed", ok, bad, err)
	}
}

func TestParseCommandLineRejectsInvalidUTF8(t *testing.T) {
	const head = `{"type":"CreatePayment","commandId":"c","paymentId":"p","organizationId":"o","userId":"u","amount":"1","currency":"EUR","description":"`
	for _, tc := range []struct{ name, desc string }{
		{"invalid byte", "caf\xe9"},
		{"truncated sequence", "\xe2\x82"},
		{"encoded surrogate", "\xed\xa0\x80"},
		{"unpaired high surrogate escape", `\ud800`},
		{"unpaired low surrogate escape", `x\udc00y`},
		{"high surrogate escape followed by a non-surrogate", `\ud83d\u0041`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			env, err := readLine(t, head+tc.desc+`"}`)
			if !errors.Is(err, producers.ErrInvalidUTF8) {
				t.Fatalf("got %+v, %v; want ErrInvalidUTF8", env, err)
			}
		})
	}
	for _, desc := range []string{`\ud83d\ude80`, "🚀", `\\ud800`, strings.Repeat("😀", 1000)} {
		env, err := ParseCommandLine([]byte(head + desc + `"}`))
		if err != nil {
			t.Fatalf("description %.40q: %v", desc, err)
		}
		if d := env.Payload.Create.Description; strings.ContainsRune(d, '\uFFFD') {
			t.Fatalf("description %.40q decoded to %.40q", desc, d)
		}
	}
}

func TestReadJSONLReportsInvalidUTF8ByLine(t *testing.T) {
	input := `{"type":"DeletePayment","commandId":"c1","paymentId":"p","organizationId":"o","userId":"u"}` + "\n" +
		`{"type":"DeletePayment","commandId":"c2","paymentId":"p","organizationId":"o","userId":"u","reason":"caf` + "\xe9" + `"}` + "\n"
	ok, bad, err := producers.ReadJSONL(strings.NewReader(input), jsonLines(t))
	if err != nil {
		t.Fatal(err)
	}
	if len(ok) != 1 || len(bad) != 1 || bad[0].Error() != "line 2: not valid UTF-8" {
		t.Fatalf("ok=%v bad=%v, want line 2: not valid UTF-8", ok, bad)
	}
}
