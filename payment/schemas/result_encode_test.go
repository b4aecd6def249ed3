package schemas

import (
	"bytes"
	"math"
	"math/rand/v2"
	"strings"
	"testing"
)

// TestResultEncoderMatchesHamba holds the hand-written result encoder to
// the bytes hamba/avro writes with the current CommandResult schema (the
// reference), over edge cases and random results.
func TestResultEncoderMatchesHamba(t *testing.T) {
	c, err := NewCodec()
	if err != nil {
		t.Fatal(err)
	}
	cases := []CommandResult{
		{},
		{CommandID: "c-1", PaymentID: "p-1", Accepted: true, EventVersion: 1, CorrelationID: "c-1"},
		{CommandID: "c-2", PaymentID: "p-2", Reason: ReasonInvalidField, Field: "amountMinor", Message: "négatif ✗", EventVersion: -1},
		{CommandID: strings.Repeat("x", 64), PaymentID: strings.Repeat("y", 8192), Accepted: true, Duplicate: true,
			EventVersion: math.MaxInt64, CorrelationID: "\xff\xfe not UTF-8"},
		{EventVersion: math.MinInt64, Message: strings.Repeat("m", 63)},
	}
	r := rand.New(rand.NewPCG(1, 2))
	str := func() string {
		b := make([]byte, r.IntN(300))
		for i := range b {
			b[i] = byte(r.IntN(256))
		}
		return string(b)
	}
	for range 2000 {
		cases = append(cases, CommandResult{
			CommandID: str(), PaymentID: str(), Accepted: r.IntN(2) == 0, Reason: str(), Message: str(), Field: str(),
			EventVersion: int64(r.Uint64()) >> r.IntN(64), Duplicate: r.IntN(2) == 0, CorrelationID: str(),
		})
	}
	for i := range cases {
		want, err := c.core.Encode(KindResult, &cases[i])
		if err != nil {
			t.Fatalf("case %d: hamba: %v", i, err)
		}
		got, err := c.EncodeResult(&cases[i])
		if err != nil {
			t.Fatalf("case %d: %v", i, err)
		}
		if !bytes.Equal(got, want) {
			t.Fatalf("case %d: %+v\n got %x\nwant %x", i, cases[i], got, want)
		}
		back, err := c.DecodeResult(got)
		if err != nil || *back != cases[i] {
			t.Fatalf("case %d: decoded %+v, %v; want %+v", i, back, err, cases[i])
		}
	}
}
