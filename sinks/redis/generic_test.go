package redis_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/prism-cqrs/prism/internal/testkit"
	"github.com/prism-cqrs/prism/payment"
	"github.com/prism-cqrs/prism/payment/schemas"
	"github.com/prism-cqrs/prism/projections"
	"github.com/prism-cqrs/prism/records"
	"github.com/prism-cqrs/prism/sinks"
	redissink "github.com/prism-cqrs/prism/sinks/redis"
)

// note is the state of a test-only aggregate that is not Payment: a note
// of a tenant (its organization).
type note struct {
	ID, Tenant, Text string
	Version          int64
	At               time.Time
}

// noteCache is the note's cache projection: its own key part, recent
// index, counter and field names. NoteErased removes a note.
type noteCache struct{}

func (noteCache) CacheLayout() projections.CacheLayout {
	return projections.CacheLayout{Key: "note", Recent: "recent:notes", CacheVersion: "cachever:notes",
		OrganizationField: "tenant", IDField: "noteId"}
}

func (noteCache) Check(*records.Event) string { return "" }

func (noteCache) CacheDoc(ev *records.Event) (projections.CacheDoc, error) {
	if ev.Type == "NoteErased" {
		return projections.CacheDoc{Delete: true, ID: ev.AggregateID, OrganizationID: ev.OrganizationID, Version: ev.Version}, nil
	}
	n, ok := ev.State.(*note)
	if !ok {
		return projections.CacheDoc{}, fmt.Errorf("%s event %s carries no note", ev.Type, ev.EventID)
	}
	b, err := json.Marshal(struct {
		Version int64  `json:"version"`
		ID      string `json:"id"`
		Tenant  string `json:"tenant"`
		Text    string `json:"text"`
	}{n.Version, n.ID, n.Tenant, n.Text})
	if err != nil {
		return projections.CacheDoc{}, err
	}
	return projections.CacheDoc{ID: n.ID, OrganizationID: n.Tenant, Version: n.Version, Score: float64(n.At.UnixMilli()), JSON: b}, nil
}

func noteEvent(off int64, id string, v int64, text string, at time.Time) sinks.Event {
	env := &records.Event{EventID: fmt.Sprintf("%s-%d", id, v), Type: "NoteWritten", AggregateID: id, Version: v, OrganizationID: "t1",
		State: &note{ID: id, Tenant: "t1", Text: text, Version: v, At: at}}
	if text == "" {
		env.Type, env.State = "NoteErased", nil
	}
	return sinks.Event{Partition: 0, Offset: off, Key: id, Envelope: env}
}

// TestAnotherAggregate runs the sink end to end against real Redis for an
// aggregate that is not Payment (noteCache), next to a Payment target in
// the same namespace and organization: documents, recent index, counter
// and invalidation messages under the note's own names; a replay and an
// older version re-sent at a new offset change nothing; a delete and a
// tombstone remove; Payment's keys are untouched by all of it.
func TestAnotherAggregate(t *testing.T) {
	ctx := testkit.Context(t, time.Minute)
	s := newStore(t, "notes", noteCache{})
	ns := s.names.Namespace
	tg, err := s.NewTarget(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer tg.Close()
	pnames := s.names.Aggregate("payments")
	pays := &store{url: s.url, names: pnames, keys: redissink.NewKeys(pnames, payment.RedisCache{}.CacheLayout()), client: s.client, cache: payment.RedisCache{}}
	ptg, err := pays.NewTarget(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer ptg.Close()
	for _, x := range []sinks.Target{tg, ptg} {
		if err := x.Setup(ctx); err != nil {
			t.Fatal(err)
		}
	}
	sub := s.client.Subscribe(ctx, ns+":invalidate")
	defer sub.Close()
	if _, err := sub.Receive(ctx); err != nil {
		t.Fatal(err)
	}
	msgs := sub.Channel()
	expect := func(step, want string) {
		t.Helper()
		select {
		case m := <-msgs:
			if m.Payload != want {
				t.Fatalf("%s: message %s, want %s", step, m.Payload, want)
			}
		case <-time.After(5 * time.Second):
			t.Fatalf("%s: no message, want %s", step, want)
		}
	}
	silence := func(step string) {
		t.Helper()
		select {
		case m := <-msgs:
			t.Fatalf("%s: unexpected message %s", step, m.Payload)
		case <-time.After(300 * time.Millisecond):
		}
	}
	write := func(step string, x sinks.Target, topic string, evs ...sinks.Event) {
		t.Helper()
		if rej, err := x.Write(ctx, topic, evs); err != nil || len(rej) > 0 {
			t.Fatalf("%s: Write: rejected %v, err %v", step, rej, err)
		}
	}
	get := func(key string) string {
		t.Helper()
		v, err := s.client.Get(ctx, key).Result()
		if errors.Is(err, goredis.Nil) {
			return "(absent)"
		}
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	recent := func(key string) string {
		t.Helper()
		zs, err := s.client.ZRangeWithScores(ctx, key, 0, -1).Result()
		if err != nil {
			t.Fatal(err)
		}
		out := ""
		for _, z := range zs {
			out += fmt.Sprintf("%s=%.0f ", z.Member, z.Score)
		}
		return out
	}
	t0 := time.Date(2026, 5, 1, 8, 0, 0, 0, time.UTC)
	ms := t0.UnixMilli()
	notes := s.names.EventsTopic() // the offsets of each target are per topic

	// A payment of the same organization, written by Payment's target.
	pstate := &schemas.Payment{ID: "n1", OrganizationID: "t1", UserID: "u", AmountMinor: 100, Currency: "EUR", Status: schemas.StatusPending,
		CreatedAt: t0, UpdatedAt: t0, Version: 1}
	penv := &schemas.EventEnvelope{EventID: "p", Type: schemas.TypePaymentCreated, AggregateID: "n1", OrganizationID: "t1", Version: 1, State: pstate}
	write("payment", ptg, pays.names.EventsTopic(), sinks.Event{Key: "n1", Envelope: penv.Record()})
	expect("payment", `[{"organizationId":"t1","paymentId":"n1","version":1}]`)

	// 1. Two notes: documents, recent index, counter, one message.
	first := []sinks.Event{noteEvent(0, "n1", 1, "hello", t0), noteEvent(1, "n2", 1, "<world>", t0.Add(time.Second))}
	write("written", tg, notes, first...)
	expect("written", `[{"tenant":"t1","noteId":"n1","version":1},{"tenant":"t1","noteId":"n2","version":1}]`)
	if got := get(ns + ":note:n1"); got != `{"version":1,"id":"n1","tenant":"t1","text":"hello"}` {
		t.Fatalf("note n1 stored as %s", got)
	}
	if ttl := s.client.TTL(ctx, ns+":note:n1").Val(); ttl < 23*time.Hour {
		t.Fatalf("note n1 TTL %s, want the default 24h", ttl)
	}
	if got, want := recent(ns+":org:t1:recent:notes"), fmt.Sprintf("n1=%d n2=%d ", ms, ms+1000); got != want {
		t.Fatalf("recent notes %q, want %q", got, want)
	}
	if got := get(ns + ":org:t1:cachever:notes"); got != "1" {
		t.Fatalf("note cachever %s, want 1", got)
	}

	// 2. Replays change nothing: no message, no counter move.
	write("n1 v2", tg, notes, noteEvent(2, "n1", 2, "hello again", t0))
	expect("n1 v2", `[{"tenant":"t1","noteId":"n1","version":2}]`)
	write("replay", tg, notes, append(first, noteEvent(2, "n1", 2, "hello again", t0))...)
	silence("replay")

	// 3. An older version re-sent at a new offset is ignored.
	stale := first[0]
	stale.Offset = 3
	write("stale", tg, notes, stale)
	silence("stale")
	if got := get(ns + ":note:n1"); got != `{"version":2,"id":"n1","tenant":"t1","text":"hello again"}` {
		t.Fatalf("after replay and stale version: n1 stored as %s", got)
	}
	if got := get(ns + ":org:t1:cachever:notes"); got != "2" {
		t.Fatalf("note cachever %s after replay and stale version, want 2", got)
	}

	// 4. NoteErased deletes; its tombstone after it is a no-op.
	write("erased", tg, notes, noteEvent(4, "n1", 3, "", t0), sinks.Event{Partition: 0, Offset: 5, Key: "n1"})
	expect("erased", `[{"tenant":"t1","noteId":"n1","version":3}]`)
	silence("tombstone after erase")
	if got := get(ns + ":note:n1"); got != "(absent)" {
		t.Fatalf("erased n1 still stored: %s", got)
	}
	if got, want := recent(ns+":org:t1:recent:notes"), fmt.Sprintf("n2=%d ", ms+1000); got != want {
		t.Fatalf("recent notes after erase %q, want %q", got, want)
	}

	// 5. A lone tombstone of a live note deletes it: the organization is
	// read from the stored document's "tenant".
	write("tombstone", tg, notes, sinks.Event{Partition: 0, Offset: 6, Key: "n2"})
	expect("tombstone", `[{"tenant":"t1","noteId":"n2","version":1}]`)
	if got := get(ns + ":note:n2"); got != "(absent)" {
		t.Fatalf("n2 after its tombstone: %s", got)
	}
	if got := recent(ns + ":org:t1:recent:notes"); got != "" {
		t.Fatalf("recent notes after the tombstone %q, want empty", got)
	}

	// 6. The id created again starts a new life at version 1.
	write("recreated", tg, notes, noteEvent(7, "n1", 1, "new life", t0.Add(time.Hour)))
	expect("recreated", `[{"tenant":"t1","noteId":"n1","version":1}]`)
	if got := get(ns + ":note:n1"); got != `{"version":1,"id":"n1","tenant":"t1","text":"new life"}` {
		t.Fatalf("recreated n1 stored as %s", got)
	}

	// Offsets per topic; Payment's keys untouched by the notes.
	if off, err := tg.CommittedOffsets(ctx, notes, []int32{0}); err != nil || off[0] != 8 {
		t.Fatalf("notes offsets %v (%v), want partition 0 at 8", off, err)
	}
	if off, err := ptg.CommittedOffsets(ctx, pays.names.EventsTopic(), []int32{0}); err != nil || off[0] != 1 {
		t.Fatalf("payments offsets %v (%v), want partition 0 at 1", off, err)
	}
	if got, want := recent(ns+":org:t1:recent"), fmt.Sprintf("n1=%d ", ms); got != want {
		t.Fatalf("payments' recent index %q, want %q", got, want)
	}
	if got := get(ns + ":org:t1:cachever"); got != "1" {
		t.Fatalf("payments' cachever %s, want 1", got)
	}
	if got := get(ns + ":payment:n1"); !strings.HasPrefix(got, `{"version":1,"id":"n1","organizationId":"t1",`) {
		t.Fatalf("payment n1 stored as %s", got)
	}
}
