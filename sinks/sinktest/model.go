package sinktest

import (
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/prism-cqrs/prism/payment/schemas"
	"github.com/prism-cqrs/prism/records"
	"github.com/prism-cqrs/prism/sinks"
)

// Want is what a store must hold after the events written so far, computed
// by the suite's own reference model.
type Want struct {
	// Payments are the live payments by id (full state of the highest
	// version applied; deleted payments absent).
	Payments map[string]schemas.Payment
	// Events are the distinct events applied so far (each event id once,
	// stale re-sends excluded, tombstones excluded), in the order first
	// written; within a partition that is offset order.
	Events []records.Event
}

// model is the reference: each (partition, offset) applied once, in order;
// per key the highest version wins; PaymentDeleted and tombstones remove.
type model struct {
	next     map[int32]int64 // next offset to apply, per partition
	payments map[string]schemas.Payment
	seen     map[string]bool // event ids applied
	events   []records.Event
}

func newModel() *model {
	return &model{next: map[int32]int64{}, payments: map[string]schemas.Payment{}, seen: map[string]bool{}}
}

func (m *model) apply(batch []sinks.Event) {
	for _, ev := range batch {
		if ev.Offset < m.next[ev.Partition] {
			continue // already applied: replay
		}
		m.next[ev.Partition] = ev.Offset + 1
		env := ev.Envelope
		if env == nil {
			delete(m.payments, ev.Key)
			continue
		}
		cur, ok := m.payments[env.AggregateID]
		if ok && cur.Version >= env.Version {
			continue // stale
		}
		if m.seen[env.EventID] {
			continue
		}
		m.seen[env.EventID] = true
		m.events = append(m.events, *env)
		if env.State == nil {
			delete(m.payments, env.AggregateID)
			continue
		}
		m.payments[env.AggregateID] = *env.State.(*schemas.Payment)
	}
}

func (m *model) want() Want {
	w := Want{Payments: make(map[string]schemas.Payment, len(m.payments)), Events: append([]records.Event(nil), m.events...)}
	for k, v := range m.payments {
		w.Payments[k] = v
	}
	return w
}

// Field names a Payment field for IgnoreFields.
type Field string

const (
	FieldUserID      Field = "UserID"
	FieldDescription Field = "Description"
	FieldCreatedAt   Field = "CreatedAt"
	FieldUpdatedAt   Field = "UpdatedAt"
)

// normalize makes two payments comparable: times in UTC at millisecond
// precision, RecentCommands dropped, ignored fields zeroed.
func normalize(p schemas.Payment, ignore map[Field]bool) schemas.Payment {
	p.RecentCommands = nil
	p.CreatedAt = p.CreatedAt.UTC().Truncate(time.Millisecond)
	p.UpdatedAt = p.UpdatedAt.UTC().Truncate(time.Millisecond)
	if ignore[FieldUserID] {
		p.UserID = ""
	}
	if ignore[FieldDescription] {
		p.Description = ""
	}
	if ignore[FieldCreatedAt] {
		p.CreatedAt = time.Time{}
	}
	if ignore[FieldUpdatedAt] {
		p.UpdatedAt = time.Time{}
	}
	return p
}

// DiffPayments lists how got differs from want (empty: equal), at most max
// lines. Exported so a sink's own end-to-end test can reuse the comparison.
func DiffPayments(want, got map[string]schemas.Payment, max int, ignore ...Field) []string {
	ig := map[Field]bool{}
	for _, f := range ignore {
		ig[f] = true
	}
	var out []string
	ids := make([]string, 0, len(want)+len(got))
	for id := range want {
		ids = append(ids, id)
	}
	for id := range got {
		if _, ok := want[id]; !ok {
			ids = append(ids, id)
		}
	}
	sort.Strings(ids)
	for _, id := range ids {
		w, wok := want[id]
		g, gok := got[id]
		switch {
		case !gok:
			out = append(out, fmt.Sprintf("%s: missing (want version %d)", id, w.Version))
		case !wok:
			out = append(out, fmt.Sprintf("%s: present (version %d, status %s) but should be absent", id, g.Version, g.Status))
		default:
			wn, gn := normalize(w, ig), normalize(g, ig)
			if d := diffFields(wn, gn); d != "" {
				out = append(out, id+": "+d)
			}
		}
		if len(out) >= max {
			out = append(out, "...")
			break
		}
	}
	return out
}

func diffFields(w, g schemas.Payment) string {
	var d []string
	add := func(name string, wv, gv any) {
		if fmt.Sprint(wv) != fmt.Sprint(gv) {
			d = append(d, fmt.Sprintf("%s want %v got %v", name, wv, gv))
		}
	}
	add("OrganizationID", w.OrganizationID, g.OrganizationID)
	add("UserID", w.UserID, g.UserID)
	add("AmountMinor", w.AmountMinor, g.AmountMinor)
	add("Currency", w.Currency, g.Currency)
	add("Description", w.Description, g.Description)
	add("Status", w.Status, g.Status)
	add("Version", w.Version, g.Version)
	if !w.CreatedAt.Equal(g.CreatedAt) {
		add("CreatedAt", w.CreatedAt, g.CreatedAt)
	}
	if !w.UpdatedAt.Equal(g.UpdatedAt) {
		add("UpdatedAt", w.UpdatedAt, g.UpdatedAt)
	}
	return strings.Join(d, "; ")
}
