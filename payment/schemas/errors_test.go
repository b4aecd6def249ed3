package schemas

import (
	"errors"
	"strings"
	"testing"

	"github.com/prism-cqrs/prism/records"
)

// commandHead writes the fields of a v2 CommandEnvelope before the payload
// union, with the given type field.
func commandHead(typ string) *refWriter {
	w := &refWriter{}
	for _, s := range []string{"c-1", typ, "p-1", "org-1", "u-1", "wf-9", ""} {
		w.str(s)
	}
	w.millis(t0)
	w.union(0) // expectedVersion null
	return w
}

func TestDecodeErrorsNameTheProblem(t *testing.T) {
	c := newTestCodec(t)
	cmdHeader := refHeader(c.CommandFingerprint())
	valid, err := c.EncodeCommand(sampleCommand())
	if err != nil {
		t.Fatal(err)
	}
	event, err := c.EncodeEvent(sampleEvent())
	if err != nil {
		t.Fatal(err)
	}
	body := func(w *refWriter) []byte { return append(append([]byte{}, cmdHeader...), w.b...) }

	unionIndex := func(i int64) []byte {
		w := commandHead(TypeDeletePayment)
		w.long(i)
		w.str("x")
		return body(w)
	}
	badExpectedVersion := func() []byte {
		w := &refWriter{}
		for _, s := range []string{"c-1", TypeDeletePayment, "p-1", "org-1", "u-1", "wf-9", ""} {
			w.str(s)
		}
		w.millis(t0)
		w.union(2) // ["null","long"] has 2 branches
		w.long(1)
		w.union(3)
		w.str("x")
		return body(w)
	}
	typeMismatch := func() []byte {
		w := commandHead(TypeCreatePayment)
		w.union(3) // DeletePayment
		w.str("x")
		return body(w)
	}
	badEnum := func() []byte {
		w := commandHead(TypeChangePaymentStatus)
		w.union(2)
		w.long(6) // 6 symbols: 0..5
		w.str("x")
		return body(w)
	}
	negativeLength := append(append([]byte{}, cmdHeader...), 0x01) // zig-zag -1
	hugeLength := func() []byte {
		w := &refWriter{}
		w.long(1 << 40)
		return body(w)
	}

	hugeArray := func() []byte {
		ev := sampleEvent()
		ev.State.RecentCommands = nil
		full := refEventBody(ev)
		// Replace the closing 0 of the empty recentCommands array with a
		// count above the limit and no items.
		w := &refWriter{b: append([]byte{}, full[:len(full)-1]...)}
		w.long(maxArrayItems + 1)
		return append(refHeader(c.EventFingerprint()), w.b...)
	}

	cases := []struct {
		name   string
		decode func([]byte) error
		in     []byte
		want   error
		class  string
		says   string // part of the message a human needs
	}{
		{"empty", decodeCommand(c), nil, records.ErrTruncated, "truncated", "got 0"},
		{"json instead of avro", decodeCommand(c), []byte(`{"type":"CreatePayment"}`), records.ErrBadMagic, "bad-magic", "7b 22"},
		{"second magic byte wrong", decodeCommand(c), []byte{0xC3, 0x02, 1, 2, 3, 4, 5, 6, 7, 8, 0}, records.ErrBadMagic, "bad-magic", "c3 02"},
		{"one byte C3", decodeCommand(c), []byte{0xC3}, records.ErrTruncated, "truncated", "got 1"},
		{"header cut", decodeCommand(c), valid[:6], records.ErrTruncated, "truncated", "header needs 10 bytes"},
		{"header without body", decodeCommand(c), valid[:10], records.ErrTruncated, "truncated", "body ends"},
		{"body cut by one byte", decodeCommand(c), valid[:len(valid)-1], records.ErrTruncated, "truncated", "body ends"},
		{"body cut in half", decodeCommand(c), valid[:10+(len(valid)-10)/2], records.ErrTruncated, "truncated", "body ends"},
		{"unknown fingerprint", decodeCommand(c), append(refHeader(0xdeadbeef), valid[10:]...), records.ErrUnknownFingerprint, "unknown-fingerprint", "00000000deadbeef"},
		{"event given to the command decoder", decodeCommand(c), event, records.ErrUnknownFingerprint, "unknown-fingerprint", "EventEnvelope schema"},
		{"command given to the event decoder", decodeEvent(c), valid, records.ErrUnknownFingerprint, "unknown-fingerprint", "CommandEnvelope schema"},
		{"payload union index 4 of 4", decodeCommand(c), unionIndex(4), records.ErrBadUnion, "bad-union", "union"},
		{"payload union index -1", decodeCommand(c), unionIndex(-1), records.ErrBadUnion, "bad-union", "union"},
		{"expectedVersion union index 2", decodeCommand(c), badExpectedVersion(), records.ErrBadUnion, "bad-union", "union"},
		{"type field names another branch", decodeCommand(c), typeMismatch(), records.ErrBadUnion, "bad-union", `type "CreatePayment" but payload branch DeletePayment`},
		{"enum symbol out of range", decodeCommand(c), badEnum(), records.ErrMalformed, "malformed", "enum"},
		{"negative string length", decodeCommand(c), negativeLength, records.ErrMalformed, "malformed", "length"},
		{"string longer than 1 MiB", decodeCommand(c), hugeLength(), records.ErrMalformed, "malformed", "MaxByteSliceSize"},
		{"array longer than the limit", decodeEvent(c), hugeArray(), records.ErrMalformed, "malformed", "MaxSliceAllocSize"},
		{"trailing bytes", decodeCommand(c), append(append([]byte{}, valid...), 0), records.ErrMalformed, "malformed", "bytes left"},
		{"result trailing bytes", decodeResult(c), append(mustEncodeResult(t, c), 0, 0), records.ErrMalformed, "malformed", "bytes left"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.decode(tc.in)
			if !errors.Is(err, tc.want) {
				t.Fatalf("err = %v, want it to wrap %v", err, tc.want)
			}
			if got := records.ErrorClass(err); got != tc.class {
				t.Errorf("ErrorClass = %q, want %q", got, tc.class)
			}
			if !strings.Contains(err.Error(), tc.says) {
				t.Errorf("message %q does not say %q", err.Error(), tc.says)
			}
			for _, other := range []error{records.ErrBadMagic, records.ErrTruncated, records.ErrUnknownFingerprint, records.ErrBadUnion, records.ErrMalformed} {
				if other != tc.want && errors.Is(err, other) {
					t.Errorf("error also wraps %v", other)
				}
			}
		})
	}
}

func TestErrorClassOfOtherErrors(t *testing.T) {
	if records.ErrorClass(errors.New("boom")) != "malformed" || records.ErrorClass(nil) != "malformed" {
		t.Fatal("an error without a sentinel must be classed malformed")
	}
}

func decodeCommand(c *Codec) func([]byte) error {
	return func(b []byte) error { _, err := c.DecodeCommand(b); return err }
}

func decodeEvent(c *Codec) func([]byte) error {
	return func(b []byte) error { _, err := c.DecodeEvent(b); return err }
}

func decodeResult(c *Codec) func([]byte) error {
	return func(b []byte) error { _, err := c.DecodeResult(b); return err }
}

func mustEncodeResult(t *testing.T, c *Codec) []byte {
	t.Helper()
	b, err := c.EncodeResult(sampleResults()["accepted"])
	if err != nil {
		t.Fatal(err)
	}
	return b
}
