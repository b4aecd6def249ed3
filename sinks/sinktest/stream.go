package sinktest

import (
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/prism-cqrs/prism/payment/schemas"
	"github.com/prism-cqrs/prism/sinks"
)

// StreamConfig shapes a generated event stream.
type StreamConfig struct {
	Topic      string // default "sinktest.payments.events"
	Partitions int    // default 3
	Payments   int    // default 60
	Seed       uint64 // same seed, same stream
	// Start is the occurredAt of the first event (default 2026-01-01 UTC);
	// events are spread over several days.
	Start time.Time
}

func (c *StreamConfig) defaults() {
	if c.Topic == "" {
		c.Topic = "sinktest.payments.events"
	}
	if c.Partitions <= 0 {
		c.Partitions = 3
	}
	if c.Payments <= 0 {
		c.Payments = 60
	}
	if c.Start.IsZero() {
		c.Start = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	}
}

var (
	orgs       = []string{"org-a", "org-b", "org-c"}
	currencies = []string{"EUR", "USD", "JPY"}
)

// lifecycle is one payment's planned life: the status path after creation,
// whether its amount is updated first, whether it is deleted at the end.
type lifecycle struct {
	update  bool
	path    []schemas.PaymentStatus
	deleted bool
}

var paths = [][]schemas.PaymentStatus{
	nil,
	{schemas.StatusAuthorized},
	{schemas.StatusAuthorized, schemas.StatusCaptured},
	{schemas.StatusAuthorized, schemas.StatusCaptured, schemas.StatusRefunded},
	{schemas.StatusFailed},
	{schemas.StatusCancelled},
	{schemas.StatusAuthorized, schemas.StatusCancelled},
}

// GenerateStream returns a deterministic stream of payment events as the
// processor would emit them, per partition in offset order (offsets from
// 0): PaymentCreated, optional PaymentUpdated (while PENDING), status
// changes along the status machine, and for some payments PaymentDeleted
// followed by a tombstone. Events of different payments interleave within a
// partition. Every event carries the full state after it (nil after
// PaymentDeleted) and a unique event id.
func GenerateStream(cfg StreamConfig) [][]sinks.Event {
	cfg.defaults()
	rng := rand.New(rand.NewPCG(cfg.Seed, cfg.Seed^0x9e3779b97f4a7c15))
	ps := make([]*genPayment, cfg.Payments)
	for i := range ps {
		ps[i] = &genPayment{
			id: fmt.Sprintf("pay-%05d", i),
			p:  int32(i % cfg.Partitions),
			life: lifecycle{
				update:  rng.IntN(3) == 0,
				path:    paths[rng.IntN(len(paths))],
				deleted: rng.IntN(4) == 0,
			},
			corr: fmt.Sprintf("corr-%05d", i/2), // two payments share a correlation id
			org:  orgs[rng.IntN(len(orgs))],
		}
	}
	out := make([][]sinks.Event, cfg.Partitions)
	clock := cfg.Start
	seq := 0
	emit := func(l *genPayment, env *schemas.EventEnvelope) {
		p := l.p
		var raw sinks.RawRecord
		raw.Topic = cfg.Topic
		raw.Key = []byte(l.id)
		out[p] = append(out[p], sinks.Event{
			Partition: p,
			Offset:    int64(len(out[p])),
			Key:       l.id,
			Envelope:  env.Record(),
			Raw:       raw,
		})
	}
	remaining := len(ps)
	for remaining > 0 {
		l := ps[rng.IntN(len(ps))]
		if l.done {
			continue
		}
		clock = clock.Add(time.Duration(5+rng.IntN(90)) * time.Minute)
		seq++
		env := &schemas.EventEnvelope{
			EventID:        fmt.Sprintf("evt-%07d", seq),
			AggregateID:    l.id,
			CommandID:      fmt.Sprintf("cmd-%07d", seq),
			CorrelationID:  l.corr,
			CausationID:    fmt.Sprintf("cmd-%07d", seq),
			OccurredAt:     clock,
			OrganizationID: l.org,
		}
		if l.state == nil {
			if l.step > 0 { // deleted, tombstone next
				emit(l, nil)
				l.done = true
				remaining--
				continue
			}
			cur := currencies[rng.IntN(len(currencies))]
			amount := int64(100 + rng.IntN(1_000_000))
			l.state = &schemas.Payment{
				ID:             l.id,
				OrganizationID: env.OrganizationID,
				UserID:         fmt.Sprintf("user-%d", rng.IntN(7)),
				AmountMinor:    amount,
				Currency:       cur,
				Description:    fmt.Sprintf("invoice %d", seq),
				Status:         schemas.StatusPending,
				CreatedAt:      clock,
				UpdatedAt:      clock,
				Version:        1,
			}
			env.Type = schemas.TypePaymentCreated
			env.Version = 1
			env.Payload.Created = &schemas.PaymentCreated{AmountMinor: amount, Currency: cur, Description: l.state.Description, UserID: l.state.UserID}
			env.State = clonePayment(l.state)
			l.step = 1
			emit(l, env)
			continue
		}
		next := *l.state
		next.Version++
		next.UpdatedAt = clock
		env.Version = next.Version
		switch {
		case l.life.update && l.step == 1:
			prev := next.AmountMinor
			next.AmountMinor = prev + int64(1+rng.IntN(5000))
			next.Description += " (amended)"
			env.Type = schemas.TypePaymentUpdated
			env.Payload.Updated = &schemas.PaymentUpdated{AmountMinor: next.AmountMinor, Currency: next.Currency, Description: next.Description, PreviousAmount: prev}
		case l.changes < len(l.life.path):
			to := l.life.path[l.changes]
			l.changes++
			env.Type = schemas.TypePaymentStatusChanged
			env.Payload.StatusChanged = &schemas.PaymentStatusChanged{From: next.Status, To: to, Reason: "test"}
			next.Status = to
		case l.life.deleted:
			env.Type = schemas.TypePaymentDeleted
			env.Payload.Deleted = &schemas.PaymentDeleted{Reason: "test"}
			l.state = nil
			l.step++
			emit(l, env)
			continue
		default:
			l.done = true
			remaining--
			seq--
			continue
		}
		l.step++
		l.state = &next
		env.State = clonePayment(&next)
		emit(l, env)
	}
	return out
}

// genPayment is one payment while its stream is generated.
type genPayment struct {
	id      string
	p       int32
	life    lifecycle
	step    int // events emitted so far
	changes int // status changes emitted so far
	state   *schemas.Payment
	done    bool
	corr    string
	org     string
}

func clonePayment(p *schemas.Payment) *schemas.Payment {
	c := *p
	c.RecentCommands = nil
	return &c
}

// Interleave merges per-partition streams (GenerateStream's) round-robin,
// as partitions interleave on a topic: offsets stay increasing within
// each partition.
func Interleave(parts [][]sinks.Event) []sinks.Event {
	var out []sinks.Event
	for i := 0; ; i++ {
		more := false
		for _, p := range parts {
			if i < len(p) {
				out = append(out, p[i])
				more = true
			}
		}
		if !more {
			return out
		}
	}
}

// EndOffsets are the next offsets after evs, per partition.
func EndOffsets(evs []sinks.Event) map[int32]int64 {
	out := map[int32]int64{}
	for _, ev := range evs {
		out[ev.Partition] = max(out[ev.Partition], ev.Offset+1)
	}
	return out
}

// Between returns the events of evs at or after from and below until
// (nil: no bound), in order: what a rebuild of that range reads.
func Between(evs []sinks.Event, from, until map[int32]int64) []sinks.Event {
	var out []sinks.Event
	for _, ev := range evs {
		if ev.Offset < from[ev.Partition] || until != nil && ev.Offset >= until[ev.Partition] {
			continue
		}
		out = append(out, ev)
	}
	return out
}
