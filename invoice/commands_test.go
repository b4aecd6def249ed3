package invoice

import (
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/prism-cqrs/prism/invoice/schemas"
	"github.com/prism-cqrs/prism/producers/jsonl"
)

func TestParseCommandLineEveryType(t *testing.T) {
	common := `"invoiceId":"inv-1","organizationId":"org-1","userId":"u-1","commandId":"c-1","correlationId":"k-1"`
	cases := map[string]schemas.CommandPayload{
		`{"type":"CreateInvoice",` + common + `,"currency":"EUR","dueDate":"2027-01-31"}`:                        {Create: &schemas.CreateInvoice{Currency: "EUR", DueDate: due}},
		`{"type":"AddInvoiceLine",` + common + `,"lineId":"l1","description":"Consulting","amountMinor":125000}`: {AddLine: &schemas.AddInvoiceLine{LineID: "l1", Description: "Consulting", AmountMinor: 125_000}},
		`{"type":"AddInvoiceLine",` + common + `,"lineId":"l1","amountMinor":9007199254740993}`:                  {AddLine: &schemas.AddInvoiceLine{LineID: "l1", AmountMinor: 9_007_199_254_740_993}},
		`{"type":"RemoveInvoiceLine",` + common + `,"lineId":"l1"}`:                                              {RemoveLine: &schemas.RemoveInvoiceLine{LineID: "l1"}},
		`{"type":"IssueInvoice",` + common + `}`:                                                                 {Issue: &schemas.IssueInvoice{}},
		`{"type":"MarkInvoicePaid",` + common + `,"paymentIds":["p1","p2"]}`:                                     {MarkPaid: &schemas.MarkInvoicePaid{PaymentIDs: []string{"p1", "p2"}}},
		`{"type":"VoidInvoice",` + common + `,"reason":"sent twice"}`:                                            {Void: &schemas.VoidInvoice{Reason: "sent twice"}},
		`{"type":"VoidInvoice",` + common + `}`:                                                                  {Void: &schemas.VoidInvoice{}},
	}
	for line, want := range cases {
		env, err := ParseCommandLine([]byte(line))
		if err != nil {
			t.Errorf("%s: %v", line, err)
			continue
		}
		if env.CommandID != "c-1" || env.InvoiceID != "inv-1" || env.OrganizationID != "org-1" || env.CorrelationID != "k-1" ||
			!reflect.DeepEqual(env.Payload, want) {
			t.Errorf("%s: %+v payload %s", line, env, toJSON(env.Payload))
		}
		if _, name, err := env.Payload.Branch(); err != nil || name != env.Type {
			t.Errorf("%s: branch %s, %v", line, name, err)
		}
	}
}

func TestParseCommandLineDefaults(t *testing.T) {
	env, err := ParseCommandLine([]byte(`{"type":"IssueInvoice","invoiceId":"i","organizationId":"o","userId":"u","expectedVersion":3,"issuedAt":"2026-12-03T21:00:00+01:00"}`))
	if err != nil {
		t.Fatal(err)
	}
	if len(env.CommandID) != 36 || len(env.CorrelationID) != 36 || env.CommandID == env.CorrelationID ||
		*env.ExpectedVersion != 3 || !env.IssuedAt.Equal(time.Date(2026, 12, 3, 20, 0, 0, 0, time.UTC)) {
		t.Errorf("defaults: %+v", env)
	}
}

func TestParseCommandLineErrors(t *testing.T) {
	common := `"invoiceId":"inv-1","organizationId":"org-1","userId":"u-1"`
	cases := map[string]string{
		`{"type":"PayInvoice",` + common + `}`:                                                           "type",
		`{` + common + `}`:                                                                               "type",
		`{"type":"IssueInvoice","organizationId":"o","userId":"u"}`:                                      "invoiceId",
		`{"type":"IssueInvoice",` + common + `,"reason":"x"}`:                                            "reason",
		`{"type":"CreateInvoice",` + common + `,"currency":"EUR"}`:                                       "dueDate",
		`{"type":"CreateInvoice",` + common + `,"currency":"EUX","dueDate":"2027-01-31"}`:                "currency",
		`{"type":"CreateInvoice",` + common + `,"currency":"EUR","dueDate":"31/01/2027"}`:                "dueDate",
		`{"type":"CreateInvoice",` + common + `,"currency":"EUR","dueDate":"1969-12-31"}`:                "dueDate",
		`{"type":"AddInvoiceLine",` + common + `,"lineId":"l","amountMinor":0}`:                          "amountMinor",
		`{"type":"AddInvoiceLine",` + common + `,"lineId":"l","amountMinor":"12.50"}`:                    "amountMinor",
		`{"type":"AddInvoiceLine",` + common + `,"lineId":"l","amountMinor":12.5}`:                       "amountMinor",
		`{"type":"AddInvoiceLine",` + common + `,"amountMinor":5}`:                                       "lineId",
		`{"type":"AddInvoiceLine",` + common + `,"lineId":"l","amountMinor":5,"currency":"EUR"}`:         "currency",
		`{"type":"AddInvoiceLine",` + common + `,"lineId":"l","description":"a\u0000b","amountMinor":5}`: "description",
		`{"type":"MarkInvoicePaid",` + common + `,"paymentIds":[]}`:                                      "paymentIds",
		`{"type":"MarkInvoicePaid",` + common + `,"paymentIds":["p","p"]}`:                               "paymentIds",
		`{"type":"MarkInvoicePaid",` + common + `}`:                                                      "paymentIds",
		`{"type":"IssueInvoice",` + common + `,"InvoiceId":"x"}`:                                         "InvoiceId",
		`{"type":"IssueInvoice",` + common + `,"expectedVersion":-1}`:                                    "expectedVersion",
	}
	for line, field := range cases {
		_, err := ParseCommandLine([]byte(line))
		var fe *jsonl.FieldError
		if !errors.As(err, &fe) || fe.Field != field {
			t.Errorf("%s: %v, want a field error on %s", line, err, field)
		}
	}
	if _, err := ParseCommandLine([]byte("{\"type\":\"IssueInvoice\",\"invoiceId\":\"\xff\"}")); !errors.Is(err, jsonl.ErrInvalidUTF8) {
		t.Errorf("invalid UTF-8: %v", err)
	}
	if _, err := ParseCommandLine([]byte(`[1]`)); err == nil || !strings.Contains(err.Error(), "") {
		t.Errorf("not an object: %v", err)
	}
}

func TestCommandCodecEncodes(t *testing.T) {
	codec, err := schemas.NewCodec()
	if err != nil {
		t.Fatal(err)
	}
	cc := NewCommandCodec(codec)
	cmd, err := cc.ParseCommand([]byte(`{"type":"AddInvoiceLine","commandId":"c-9","invoiceId":"inv-1","organizationId":"o","userId":"u","lineId":"l","amountMinor":5}`))
	if err != nil {
		t.Fatal(err)
	}
	enc, err := cc.EncodeCommand(cmd, t0)
	if err != nil {
		t.Fatal(err)
	}
	back, err := codec.DecodeCommand(enc.Value)
	if err != nil {
		t.Fatal(err)
	}
	if enc.Meta.AggregateID != "inv-1" || enc.Meta.CommandID != "c-9" || enc.Meta.Type != schemas.TypeAddInvoiceLine ||
		string(enc.Schema) != schemas.FingerprintHex(codec.CommandFingerprint()) || !back.IssuedAt.Equal(t0) ||
		back.Payload.AddLine.AmountMinor != 5 {
		t.Errorf("encoded %+v, decoded %+v", enc.Meta, back)
	}
	if cmd.(*schemas.CommandEnvelope).IssuedAt.IsZero() == false {
		t.Error("EncodeCommand modified the caller's command")
	}
	if cc.AggregateIDField() != "invoiceId" || len(cc.CommandTypes()) != 6 {
		t.Error("codec names")
	}
}
