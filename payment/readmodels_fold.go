package payment

import (
	"encoding/json"
	"time"

	"github.com/prism-cqrs/prism/payment/schemas"
	"github.com/prism-cqrs/prism/records"
	"github.com/prism-cqrs/prism/sinks"
)

// readModelState is one row of readmodel_state.
type readModelState struct {
	org, status, currency string
	amount, version       int64
	deleted               bool
}

type summaryKey struct{ org, status, currency string }

type summaryDelta struct{ count, amount int64 }

type dailyKey struct {
	org      string
	day      time.Time
	currency string
}

type dailyDelta struct{ createdCount, createdAmount, captured, refunded int64 }

// readModelFold is the effect of a batch: the states to store, the summary and
// daily deltas.
type readModelFold struct {
	states  map[string]readModelState // dirty states to upsert
	summary map[summaryKey]summaryDelta
	daily   map[dailyKey]dailyDelta
}

// foldReadModels applies the fresh events in order to the previous states. newEvent
// reports whether an event's timeline row was inserted by this batch (its
// first occurrence); others have been applied before and only a tombstone
// (no event id) can act without one.
func foldReadModels(events []sinks.Event, prev map[string]readModelState, newEvent func(eventID string) bool) readModelFold {
	f := readModelFold{states: map[string]readModelState{}, summary: map[summaryKey]summaryDelta{}, daily: map[dailyKey]dailyDelta{}}
	cur := func(id string) (readModelState, bool) {
		if s, ok := f.states[id]; ok {
			return s, true
		}
		s, ok := prev[id]
		return s, ok
	}
	move := func(s readModelState, sign int64) {
		k := summaryKey{s.org, s.status, s.currency}
		d := f.summary[k]
		d.count += sign
		d.amount += sign * s.amount
		f.summary[k] = d
	}
	for _, ev := range events {
		env := ev.Envelope
		if env == nil { // tombstone
			if s, ok := cur(ev.Key); ok && !s.deleted {
				move(s, -1)
				s.deleted = true
				f.states[ev.Key] = s
			}
			continue
		}
		if !newEvent(env.EventID) {
			continue
		}
		id := env.AggregateID
		s, ok := cur(id)
		if ok && env.Version <= s.version && !(s.deleted && env.Type == schemas.TypePaymentCreated) {
			continue // an older version than the state we hold
		}
		if ok && !s.deleted {
			move(s, -1)
		}
		if env.Type == schemas.TypePaymentDeleted {
			s.deleted, s.version = true, env.Version
			if !ok {
				s.org = env.OrganizationID
			}
			f.states[id] = s
			continue
		}
		st := env.State.(*schemas.Payment)
		pl := env.Payload.(*schemas.EventPayload)
		next := readModelState{org: st.OrganizationID, status: string(st.Status), currency: st.Currency, amount: st.AmountMinor, version: env.Version}
		move(next, +1)
		f.states[id] = next
		day := env.OccurredAt.UTC().Truncate(24 * time.Hour)
		dk := dailyKey{st.OrganizationID, day, st.Currency}
		switch {
		case env.Type == schemas.TypePaymentCreated:
			d := f.daily[dk]
			d.createdCount++
			d.createdAmount += st.AmountMinor
			f.daily[dk] = d
		case pl.StatusChanged != nil && pl.StatusChanged.To == schemas.StatusCaptured:
			d := f.daily[dk]
			d.captured += st.AmountMinor
			f.daily[dk] = d
		case pl.StatusChanged != nil && pl.StatusChanged.To == schemas.StatusRefunded:
			d := f.daily[dk]
			d.refunded += st.AmountMinor
			f.daily[dk] = d
		}
	}
	return f
}

// timelineData is the event's change as JSON: the one payload branch set.
func timelineData(env *records.Event) []byte {
	var v any = struct{}{}
	switch p := env.Payload.(*schemas.EventPayload); {
	case p.Created != nil:
		v = p.Created
	case p.Updated != nil:
		v = p.Updated
	case p.StatusChanged != nil:
		v = p.StatusChanged
	case p.Deleted != nil:
		v = p.Deleted
	}
	b, _ := json.Marshal(v) // plain structs of strings and ints: cannot fail
	return b
}

type timelineMeta struct {
	CommandID     string `json:"commandId"`
	CausationID   string `json:"causationId"`
	CorrelationID string `json:"correlationId"`
	Topic         string `json:"topic"`
	Partition     int32  `json:"partition"`
	Offset        int64  `json:"offset"`
}

func timelineMetadata(topic string, ev sinks.Event) []byte {
	env := ev.Envelope
	b, _ := json.Marshal(timelineMeta{CommandID: env.CommandID, CausationID: env.CausationID, CorrelationID: env.CorrelationID,
		Topic: topic, Partition: ev.Partition, Offset: ev.Offset})
	return b
}
