package schemas

import (
	"math/rand/v2"
	"reflect"
	"testing"
	"time"

	"github.com/prism-cqrs/prism/records/avrorec"
)

// TestCommandDecoderMatchesHamba holds DecodeCommand (the hand-written
// reader of the current schema, falling back to hamba/avro) to
// hamba/avro's decoding alone, on random commands of every branch and on
// random corruptions of them: the same envelope, or the same error.
func TestCommandDecoderMatchesHamba(t *testing.T) {
	c, err := NewCodec()
	if err != nil {
		t.Fatal(err)
	}
	r := rand.New(rand.NewPCG(5, 6))
	str := func(max int) string {
		b := make([]byte, r.IntN(max+1))
		for i := range b {
			b[i] = byte(r.IntN(256))
		}
		return string(b)
	}
	long := func() int64 { return int64(r.Uint64()) >> r.IntN(64) }
	statuses := []PaymentStatus{StatusPending, StatusAuthorized, StatusCaptured, StatusFailed, StatusCancelled, StatusRefunded}
	var inputs [][]byte
	for i := range 3000 {
		cmd := &CommandEnvelope{
			CommandID: str(40), PaymentID: str(40), OrganizationID: str(20), UserID: str(20), CorrelationID: str(40),
			CausationID: str(40), IssuedAt: time.UnixMilli(long() >> 10),
		}
		if r.IntN(2) == 0 {
			v := long()
			cmd.ExpectedVersion = &v
		}
		switch i % 4 {
		case 0:
			cmd.Type = TypeCreatePayment
			cmd.Payload.Create = &CreatePayment{AmountMinor: long(), Currency: str(3), Description: str(300)}
		case 1:
			cmd.Type = TypeUpdatePayment
			up := &UpdatePayment{}
			if r.IntN(2) == 0 {
				a, cur := long(), str(3)
				up.AmountMinor, up.Currency = &a, &cur
			}
			if r.IntN(2) == 0 {
				d := str(100)
				up.Description = &d
			}
			cmd.Payload.Update = up
		case 2:
			cmd.Type = TypeChangePaymentStatus
			cmd.Payload.ChangeStatus = &ChangePaymentStatus{Status: statuses[r.IntN(len(statuses))], Reason: str(50)}
		case 3:
			cmd.Type = TypeDeletePayment
			cmd.Payload.Delete = &DeletePayment{Reason: str(50)}
		}
		b, err := c.EncodeCommand(cmd)
		if err != nil {
			t.Fatal(err)
		}
		inputs = append(inputs, b)
		// Corruptions: a byte changed, the body cut, bytes appended.
		bad := append([]byte(nil), b...)
		bad[headerLen+r.IntN(len(b)-headerLen)] = byte(r.IntN(256))
		inputs = append(inputs, bad, b[:headerLen+r.IntN(len(b)-headerLen)], append(append([]byte(nil), b...), byte(r.IntN(256))))
	}
	var fast int
	for i, b := range inputs {
		got, gerr := c.DecodeCommand(b)
		want, werr := c.decodeCommandHamba(b)
		if (gerr == nil) != (werr == nil) || gerr != nil && gerr.Error() != werr.Error() {
			t.Fatalf("input %d (%x): error %v, hamba %v", i, b, gerr, werr)
		}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("input %d (%x):\n got %+v\nwant %+v", i, b, got, want)
		}
		if shared, serr := c.DecodeCommandShared(b); (serr == nil) != (gerr == nil) || !reflect.DeepEqual(shared, got) {
			t.Fatalf("input %d (%x): DecodeCommandShared %+v, %v; DecodeCommand %+v, %v", i, b, shared, serr, got, gerr)
		}
		if _, body, err := avrorec.ParseHeader(b); err == nil {
			if _, ok := decodeCurrentCommand(body, false); ok {
				fast++
			}
		}
	}
	if fast < 3000 {
		t.Errorf("only %d of %d inputs took the hand-written path; every valid command should", fast, len(inputs))
	}
}
