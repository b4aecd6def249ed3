package schemas

import (
	"bytes"
	"encoding/binary"
	"math"
	"math/rand/v2"
	"strings"
	"testing"
	"time"
)

// hambaEncodeEvent is the reference: ev written by hamba/avro with the
// current EventEnvelope schema, as the codec did before appendEventBody.
func hambaEncodeEvent(t *testing.T, c *Codec, ev *EventEnvelope) []byte {
	t.Helper()
	branch, _, err := ev.Payload.Branch()
	if err != nil {
		t.Fatal(err)
	}
	var w eventWire
	w.fromEnvelope(ev, branch)
	b, err := c.core.Encode(KindEvent, &w)
	if err != nil {
		t.Fatalf("hamba: %v", err)
	}
	return b
}

// TestEventEncoderMatchesHamba holds the hand-written event encoder to the
// bytes hamba/avro writes, over every payload branch, states with and
// without remembered commands (arrays of several blocks included), times
// before 1970 and with sub-millisecond parts, and random strings.
func TestEventEncoderMatchesHamba(t *testing.T) {
	c, err := NewCodec()
	if err != nil {
		t.Fatal(err)
	}
	r := rand.New(rand.NewPCG(3, 4))
	str := func(max int) string {
		b := make([]byte, r.IntN(max+1))
		for i := range b {
			b[i] = byte(r.IntN(256))
		}
		return string(b)
	}
	statuses := []PaymentStatus{StatusPending, StatusAuthorized, StatusCaptured, StatusFailed, StatusCancelled, StatusRefunded}
	status := func() PaymentStatus { return statuses[r.IntN(len(statuses))] }
	long := func() int64 { return int64(r.Uint64()) >> r.IntN(64) }
	when := func() time.Time {
		return time.Unix(r.Int64N(8e9)-4e9, r.Int64N(1e9)).In(time.FixedZone("x", 3600*r.IntN(5)))
	}
	var events []*EventEnvelope
	for i := range 3000 {
		ev := &EventEnvelope{
			EventID: str(40), AggregateID: str(40), Version: long(), CommandID: str(40), CorrelationID: str(40),
			CausationID: str(40), OccurredAt: when(), OrganizationID: str(20),
		}
		switch i % 4 {
		case 0:
			ev.Type = TypePaymentCreated
			ev.Payload.Created = &PaymentCreated{AmountMinor: long(), Currency: str(3), Description: str(200), UserID: str(20)}
		case 1:
			ev.Type = TypePaymentUpdated
			ev.Payload.Updated = &PaymentUpdated{AmountMinor: long(), Currency: str(3), Description: str(200), PreviousAmount: -long()}
		case 2:
			ev.Type = TypePaymentStatusChanged
			ev.Payload.StatusChanged = &PaymentStatusChanged{From: status(), To: status(), Reason: str(50)}
		case 3:
			ev.Type = TypePaymentDeleted
			ev.Payload.Deleted = &PaymentDeleted{Reason: str(50)}
		}
		if i%7 != 3 {
			ev.State = &Payment{
				ID: str(40), OrganizationID: str(20), UserID: str(20), AmountMinor: long(), Currency: str(3),
				Description: str(100), Status: status(), CreatedAt: when(), UpdatedAt: when(), Version: long(),
			}
			n := r.IntN(20)
			if i%50 == 0 {
				n = 100 + r.IntN(250) // more than one block
			}
			for range n {
				ev.State.RecentCommands = append(ev.State.RecentCommands, RecentCommand{CommandID: str(20), Version: long()})
			}
		}
		events = append(events, ev)
	}
	edge := sampleEvent()
	edge.Version, edge.OccurredAt = math.MinInt64, time.Unix(-1, 999_999_999)
	edge.State.Description = strings.Repeat("é", 700)
	edge.State.RecentCommands = make([]RecentCommand, 100) // exactly one full block
	events = append(events, edge)
	for i, ev := range events {
		want := hambaEncodeEvent(t, c, ev)
		got, err := c.EncodeEvent(ev)
		if err != nil {
			t.Fatalf("event %d: %v", i, err)
		}
		if !bytes.Equal(got, want) {
			t.Fatalf("event %d: %+v\n got %x\nwant %x", i, ev, got, want)
		}
	}
}

// TestBodySizesAreExact checks that the size helpers give the length the
// encoders write, so an output is allocated once and holds no slack.
func TestBodySizesAreExact(t *testing.T) {
	c, err := NewCodec()
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range []int64{0, 1, -1, 63, -64, 64, -65, 8191, 8192, math.MaxInt64, math.MinInt64} {
		if got, want := avroLongSize(v), len(binary.AppendVarint(nil, v)); got != want {
			t.Errorf("avroLongSize(%d) = %d, want %d", v, got, want)
		}
	}
	ev := sampleEvent()
	ev.State.RecentCommands = make([]RecentCommand, 250)
	b, err := c.EncodeEvent(ev)
	if err != nil {
		t.Fatal(err)
	}
	if len(b) != cap(b) {
		t.Errorf("event: %d bytes in a buffer of %d", len(b), cap(b))
	}
	rb, err := c.EncodeResult(&CommandResult{CommandID: strings.Repeat("c", 200), EventVersion: -70})
	if err != nil {
		t.Fatal(err)
	}
	if len(rb) != cap(rb) {
		t.Errorf("result: %d bytes in a buffer of %d", len(rb), cap(rb))
	}
}
