package integration

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/prism-cqrs/prism/internal/testkit"
	"github.com/prism-cqrs/prism/payment"
	"github.com/prism-cqrs/prism/payment/schemas"
	"github.com/prism-cqrs/prism/records"
	"github.com/prism-cqrs/prism/sinks"
	redissink "github.com/prism-cqrs/prism/sinks/redis"
	"github.com/prism-cqrs/prism/sinks/sinktest"
	"github.com/prism-cqrs/prism/topology"
)

// redisStore is one namespace of the real Redis, for the conformance suite
// and the target tests.
type redisStore struct {
	t      testing.TB
	url    string
	names  topology.Names
	keys   redissink.Keys
	client *goredis.Client
	cfg    func(*redissink.Config)
}

func newRedisStore(t testing.TB) *redisStore {
	url := testkit.RedisURL(t)
	names := topology.NewNames(testkit.Namespace(t)).Aggregate("payments")
	opts, err := goredis.ParseURL(url)
	if err != nil {
		t.Fatal(err)
	}
	s := &redisStore{t: t, url: url, names: names, keys: redissink.NewKeys(names, payment.RedisCache{}.CacheLayout()), client: goredis.NewClient(opts)}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		var cursor uint64
		for {
			keys, next, err := s.client.Scan(ctx, cursor, names.RedisPrefix()+"*", 1000).Result()
			if err != nil {
				break
			}
			if len(keys) > 0 {
				s.client.Unlink(ctx, keys...)
			}
			if cursor = next; cursor == 0 {
				break
			}
		}
		s.client.Close()
	})
	return s
}

func (s *redisStore) config() redissink.Config {
	cfg := redissink.DefaultConfig(s.url, s.names)
	if s.cfg != nil {
		s.cfg(&cfg)
	}
	return cfg
}

func (s *redisStore) NewTarget(context.Context) (sinks.Target, error) {
	return redissink.NewTarget(s.config(), payment.RedisCache{})
}

// openTarget builds a target from s.config(), set up (closed at cleanup,
// before the namespace's keys are deleted); any error fails the test.
func (s *redisStore) openTarget(ctx context.Context) *redissink.Target {
	s.t.Helper()
	tg, err := redissink.NewTarget(s.config(), payment.RedisCache{})
	if err != nil {
		s.t.Fatal(err)
	}
	s.t.Cleanup(func() { _ = tg.Close() })
	if err := tg.Setup(ctx); err != nil {
		s.t.Fatal(err)
	}
	return tg
}

// Payments reads every payment document of the namespace back, as a query
// reader would: SCAN the payment keys, GET each JSON document.
func (s *redisStore) Payments(ctx context.Context) (map[string]schemas.Payment, error) {
	out := map[string]schemas.Payment{}
	var cursor uint64
	prefix := s.keys.Doc("")
	for {
		keys, next, err := s.client.Scan(ctx, cursor, prefix+"*", 1000).Result()
		if err != nil {
			return nil, err
		}
		var docKeys []string
		for _, k := range keys {
			if !strings.HasSuffix(k, ":v") {
				docKeys = append(docKeys, k)
			}
		}
		if len(docKeys) > 0 {
			vals, err := s.client.MGet(ctx, docKeys...).Result()
			if err != nil {
				return nil, err
			}
			for i, v := range vals {
				str, ok := v.(string)
				if !ok {
					continue // expired or deleted between SCAN and MGET
				}
				p, err := redisDocToPayment(str)
				if err != nil {
					return nil, fmt.Errorf("%s: %w", docKeys[i], err)
				}
				if docKeys[i] != s.keys.Doc(p.ID) {
					return nil, fmt.Errorf("key %s holds payment %s", docKeys[i], p.ID)
				}
				out[p.ID] = p
			}
		}
		if cursor = next; cursor == 0 {
			return out, nil
		}
	}
}

// redisDocToPayment decodes the stored JSON with a decoder of its own (not
// the sink's Document type), checking the amount string against the minor
// units.
func redisDocToPayment(s string) (schemas.Payment, error) {
	var d struct {
		ID             string    `json:"id"`
		OrganizationID string    `json:"organizationId"`
		UserID         string    `json:"userId"`
		AmountMinor    int64     `json:"amountMinor"`
		Amount         string    `json:"amount"`
		Currency       string    `json:"currency"`
		Description    string    `json:"description"`
		Status         string    `json:"status"`
		CreatedAt      time.Time `json:"createdAt"`
		UpdatedAt      time.Time `json:"updatedAt"`
		Version        int64     `json:"version"`
	}
	if err := json.Unmarshal([]byte(s), &d); err != nil {
		return schemas.Payment{}, err
	}
	if want := testDecimal(d.AmountMinor, d.Currency); d.Amount != want {
		return schemas.Payment{}, fmt.Errorf("payment %s: amount %q, want %q for %d minor %s", d.ID, d.Amount, want, d.AmountMinor, d.Currency)
	}
	return schemas.Payment{ID: d.ID, OrganizationID: d.OrganizationID, UserID: d.UserID, AmountMinor: d.AmountMinor,
		Currency: d.Currency, Description: d.Description, Status: schemas.PaymentStatus(d.Status),
		CreatedAt: d.CreatedAt, UpdatedAt: d.UpdatedAt, Version: d.Version}, nil
}

// testDecimal renders minor units as the test expects them, for the
// currencies the tests use (its own table, not the money package).
func testDecimal(minor int64, currency string) string {
	digits, ok := map[string]int{"EUR": 2, "USD": 2, "GBP": 2, "CHF": 2, "SEK": 2, "JPY": 0, "KWD": 3}[currency]
	if !ok {
		return "no digits known for " + currency + " in the test"
	}
	sign := ""
	if minor < 0 {
		sign, minor = "-", -minor
	}
	if digits == 0 {
		return fmt.Sprintf("%s%d", sign, minor)
	}
	p := int64(1)
	for range digits {
		p *= 10
	}
	return fmt.Sprintf("%s%d.%0*d", sign, minor/p, digits, minor%p)
}

func TestSinksRedisConformance(t *testing.T) {
	sinktest.Run(t, func(t *testing.T) sinktest.Store { return newRedisStore(t) })
}

// kvPayment builds the state of a payment at version v.
func kvPayment(id, org string, v int64, amount int64, status schemas.PaymentStatus, created time.Time) *schemas.Payment {
	return &schemas.Payment{ID: id, OrganizationID: org, UserID: "user-1", AmountMinor: amount, Currency: "EUR",
		Description: fmt.Sprintf("%s v%d", id, v), Status: status, CreatedAt: created,
		UpdatedAt: created.Add(time.Duration(v) * time.Minute), Version: v}
}

// kvEvent wraps a state (nil: PaymentDeleted of id at version v) in an
// event at partition/offset.
func kvEvent(p int32, off int64, id, org string, v int64, state *schemas.Payment) sinks.Event {
	typ := schemas.TypePaymentUpdated
	switch {
	case state == nil:
		typ = schemas.TypePaymentDeleted
	case v == 1:
		typ = schemas.TypePaymentCreated
	}
	env := &schemas.EventEnvelope{EventID: fmt.Sprintf("%s-e%d", id, v), Type: typ, AggregateID: id, Version: v,
		OrganizationID: org, OccurredAt: time.Now(), State: state}
	switch typ {
	case schemas.TypePaymentDeleted:
		env.Payload.Deleted = &schemas.PaymentDeleted{Reason: "test"}
	case schemas.TypePaymentCreated:
		env.Payload.Created = &schemas.PaymentCreated{AmountMinor: state.AmountMinor, Currency: state.Currency, Description: state.Description, UserID: state.UserID}
	default:
		env.Payload.Updated = &schemas.PaymentUpdated{AmountMinor: state.AmountMinor, Currency: state.Currency, Description: state.Description}
	}
	return sinks.Event{Partition: p, Offset: off, Key: id, Envelope: env.Record()}
}

func kvTombstone(p int32, off int64, id string) sinks.Event {
	return sinks.Event{Partition: p, Offset: off, Key: id}
}

func mustWrite(t *testing.T, ctx context.Context, tg sinks.Target, topic string, batch ...sinks.Event) []sinks.Rejected {
	t.Helper()
	rej, err := tg.Write(ctx, topic, batch)
	if err != nil {
		t.Fatalf("Write of %d events: %v", len(batch), err)
	}
	return rej
}

func TestSinksRedisTarget(t *testing.T) {
	ctx := testkit.Context(t, 2*time.Minute)
	s := newRedisStore(t)
	s.cfg = func(c *redissink.Config) {
		c.RecentSize = 3
		c.TTL = time.Hour
		c.ChunkEvents = 2
	}
	tg := s.openTarget(ctx)
	if err := tg.Ping(ctx); err != nil {
		t.Fatalf("Ping of a reachable Redis: %v", err)
	}
	const topic = "t.events"
	k := s.keys
	t0 := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	org := "org-1"

	sub := s.client.Subscribe(ctx, k.InvalidateChannel())
	defer sub.Close()
	if _, err := sub.Receive(ctx); err != nil { // subscription confirmed
		t.Fatal(err)
	}
	msgs := sub.Channel()
	// expectMessages reads the invalidation messages (each a JSON array of
	// changes) until it has len(want) changes, in order, then requires
	// silence.
	expectMessages := func(want ...string) {
		t.Helper()
		var got []map[string]any
		for len(got) < len(want) {
			select {
			case m := <-msgs:
				var changes []map[string]any
				if err := json.Unmarshal([]byte(m.Payload), &changes); err != nil {
					t.Fatalf("invalidation message %q: %v", m.Payload, err)
				}
				got = append(got, changes...)
			case <-time.After(5 * time.Second):
				t.Fatalf("invalidation changes %v, want %v", got, want)
			}
		}
		for i, w := range want {
			var exp map[string]any
			_ = json.Unmarshal([]byte(w), &exp)
			if i >= len(got) || fmt.Sprint(got[i]) != fmt.Sprint(exp) {
				t.Fatalf("invalidation changes %v, want %v", got, want)
			}
		}
		if len(got) > len(want) {
			t.Fatalf("invalidation changes %v, want %v", got, want)
		}
		select {
		case m := <-msgs:
			t.Fatalf("unexpected invalidation message %s", m.Payload)
		case <-time.After(200 * time.Millisecond):
		}
	}
	cachever := func() int64 {
		v, err := s.client.Get(ctx, k.CacheVersion(org)).Int64()
		if err != nil && !errors.Is(err, goredis.Nil) {
			t.Fatal(err)
		}
		return v
	}
	payment := func(id string) *schemas.Payment {
		t.Helper()
		str, err := s.client.Get(ctx, k.Doc(id)).Result()
		if errors.Is(err, goredis.Nil) {
			return nil
		}
		if err != nil {
			t.Fatal(err)
		}
		p, err := redisDocToPayment(str)
		if err != nil {
			t.Fatal(err)
		}
		return &p
	}
	recent := func() []string {
		ids, err := s.client.ZRange(ctx, k.Recent(org), 0, -1).Result()
		if err != nil {
			t.Fatal(err)
		}
		return ids
	}

	// Four payments created on two partitions, a at t0, b at t0+1m, ...
	batch := []sinks.Event{
		kvEvent(0, 0, "a", org, 1, kvPayment("a", org, 1, 1234, schemas.StatusPending, t0)),
		kvEvent(1, 0, "b", org, 1, kvPayment("b", org, 1, 5, schemas.StatusPending, t0.Add(time.Minute))),
		kvEvent(0, 1, "a", org, 2, kvPayment("a", org, 2, 1234, schemas.StatusAuthorized, t0)),
		kvEvent(1, 1, "c", org, 1, kvPayment("c", org, 1, 700, schemas.StatusPending, t0.Add(2*time.Minute))),
		kvEvent(0, 2, "d", org, 1, kvPayment("d", org, 1, 99, schemas.StatusPending, t0.Add(3*time.Minute))),
	}
	if rej := mustWrite(t, ctx, tg, topic, batch...); len(rej) != 0 {
		t.Fatalf("rejected %v", rej)
	}
	expectMessages(`{"organizationId":"org-1","paymentId":"a","version":1}`,
		`{"organizationId":"org-1","paymentId":"b","version":1}`,
		`{"organizationId":"org-1","paymentId":"a","version":2}`,
		`{"organizationId":"org-1","paymentId":"c","version":1}`,
		`{"organizationId":"org-1","paymentId":"d","version":1}`)
	if p := payment("a"); p == nil || p.Version != 2 || p.Status != schemas.StatusAuthorized || p.AmountMinor != 1234 {
		t.Fatalf("payment a = %+v, want version 2 AUTHORIZED 1234", p)
	}
	if raw, _ := s.client.Get(ctx, k.Doc("a")).Result(); !strings.Contains(raw, `"amount":"12.34"`) {
		t.Fatalf("payment a JSON %s: want amount \"12.34\"", raw)
	}
	// The recent index keeps the 3 newest by createdAt: b, c, d.
	if got := recent(); fmt.Sprint(got) != "[b c d]" {
		t.Fatalf("recent index %v, want [b c d]", got)
	}
	if ttl := s.client.TTL(ctx, k.Doc("a")).Val(); ttl < 59*time.Minute || ttl > time.Hour {
		t.Fatalf("payment TTL %s, want about 1h", ttl)
	}
	cv := cachever()
	if cv < 1 {
		t.Fatalf("cachever %d after a write, want >= 1", cv)
	}
	offsets, err := tg.CommittedOffsets(ctx, topic, []int32{0, 1, 2})
	if err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(offsets) != "map[0:3 1:2]" {
		t.Fatalf("offsets %v, want map[0:3 1:2]", offsets)
	}

	t.Run("replay of the same batch is a no-op", func(t *testing.T) {
		before := payment("a")
		mustWrite(t, ctx, tg, topic, batch...)
		expectMessages()
		if got := cachever(); got != cv {
			t.Fatalf("cachever moved %d -> %d on a replay", cv, got)
		}
		if after := payment("a"); fmt.Sprint(*after) != fmt.Sprint(*before) {
			t.Fatalf("payment a changed on replay: %+v -> %+v", before, after)
		}
	})

	t.Run("an offset already consumed is skipped even with a newer version", func(t *testing.T) {
		mustWrite(t, ctx, tg, topic, kvEvent(0, 1, "a", org, 9, kvPayment("a", org, 9, 1, schemas.StatusCaptured, t0)))
		if p := payment("a"); p.Version != 2 {
			t.Fatalf("payment a version %d, want 2", p.Version)
		}
		expectMessages()
	})

	t.Run("an older version at a new offset is ignored", func(t *testing.T) {
		mustWrite(t, ctx, tg, topic,
			kvEvent(0, 3, "a", org, 1, kvPayment("a", org, 1, 1, schemas.StatusPending, t0)),
			kvEvent(0, 4, "a", org, 3, kvPayment("a", org, 3, 1234, schemas.StatusCaptured, t0)))
		if p := payment("a"); p.Version != 3 || p.Status != schemas.StatusCaptured {
			t.Fatalf("payment a = %+v, want version 3 CAPTURED", p)
		}
		expectMessages(`{"organizationId":"org-1","paymentId":"a","version":3}`)
	})

	t.Run("delete, replay of the old life, then a new life at new offsets", func(t *testing.T) {
		mustWrite(t, ctx, tg, topic, kvEvent(1, 2, "c", org, 2, nil), kvTombstone(1, 3, "c"))
		expectMessages(`{"organizationId":"org-1","paymentId":"c","version":2}`)
		if p := payment("c"); p != nil {
			t.Fatalf("payment c after delete: %+v", p)
		}
		if got := recent(); fmt.Sprint(got) != "[b d]" {
			t.Fatalf("recent index %v, want [b d]", got)
		}
		if n := s.client.Exists(ctx, k.Version("c")).Val(); n != 0 {
			t.Fatal("a deletion marker was written; the sink keeps none")
		}
		// The old life replayed (offsets already applied): nothing comes back.
		mustWrite(t, ctx, tg, topic, kvEvent(1, 1, "c", org, 1, kvPayment("c", org, 1, 700, schemas.StatusPending, t0.Add(2*time.Minute))))
		if p := payment("c"); p != nil {
			t.Fatalf("payment c resurrected by a replayed event: %+v", p)
		}
		expectMessages()
		// The id created again (the processor starts the new life at
		// version 1) at a new offset: stored.
		mustWrite(t, ctx, tg, topic, kvEvent(1, 4, "c", org, 1, kvPayment("c", org, 1, 800, schemas.StatusPending, t0.Add(4*time.Minute))))
		if p := payment("c"); p == nil || p.Version != 1 || p.AmountMinor != 800 {
			t.Fatalf("payment c after its re-creation: %+v, want version 1 amount 800", p)
		}
		expectMessages(`{"organizationId":"org-1","paymentId":"c","version":1}`)
		mustWrite(t, ctx, tg, topic, kvEvent(1, 5, "c", org, 2, nil), kvTombstone(1, 6, "c"))
		expectMessages(`{"organizationId":"org-1","paymentId":"c","version":2}`)
		if p := payment("c"); p != nil {
			t.Fatalf("payment c after its second delete: %+v", p)
		}
	})

	t.Run("a tombstone alone removes a live payment", func(t *testing.T) {
		mustWrite(t, ctx, tg, topic, kvTombstone(1, 7, "b"))
		if p := payment("b"); p != nil {
			t.Fatalf("payment b after its tombstone: %+v", p)
		}
		if got := recent(); fmt.Sprint(got) != "[d]" {
			t.Fatalf("recent index %v, want [d]", got)
		}
		expectMessages(`{"organizationId":"org-1","paymentId":"b","version":1}`)
	})

	t.Run("an event it cannot store is rejected and its offset passed", func(t *testing.T) {
		bad := kvPayment("x", org, 1, 100, schemas.StatusPending, t0)
		bad.Currency = "XXX"
		rej := mustWrite(t, ctx, tg, topic, kvEvent(2, 0, "x", org, 1, bad), kvEvent(2, 1, "y", org, 1, kvPayment("y", org, 1, 1, schemas.StatusPending, t0)))
		if len(rej) != 1 || rej[0].Event.Offset != 0 || !strings.Contains(rej[0].Reason, "XXX") {
			t.Fatalf("rejected %+v, want the XXX event", rej)
		}
		if payment("x") != nil || payment("y") == nil {
			t.Fatal("want x absent, y stored")
		}
		expectMessages(`{"organizationId":"org-1","paymentId":"y","version":1}`)
		offsets, _ := tg.CommittedOffsets(ctx, topic, []int32{2})
		if offsets[2] != 2 {
			t.Fatalf("partition 2 offset %d, want 2", offsets[2])
		}
	})

	t.Run("a script cache emptied by a restart is reloaded", func(t *testing.T) {
		if err := s.client.ScriptFlush(ctx).Err(); err != nil {
			t.Fatal(err)
		}
		mustWrite(t, ctx, tg, topic, kvEvent(2, 2, "y", org, 2, kvPayment("y", org, 2, 2, schemas.StatusAuthorized, t0)))
		if p := payment("y"); p.Version != 2 {
			t.Fatalf("payment y version %d, want 2", p.Version)
		}
		expectMessages(`{"organizationId":"org-1","paymentId":"y","version":2}`)
	})
}

// TestSinksRedisLostOffsetsAskForARewind empties the namespace's keys (as a
// Redis restarted without persistence would be): the next Write writes
// nothing and asks the runtime to rewind; the offsets then read as absent.
func TestSinksRedisLostOffsetsAskForARewind(t *testing.T) {
	ctx := testkit.Context(t, time.Minute)
	s := newRedisStore(t)
	tg := s.openTarget(ctx)
	t0 := time.Now()
	mustWrite(t, ctx, tg, "t", kvEvent(0, 0, "a", "o", 1, kvPayment("a", "o", 1, 1, schemas.StatusPending, t0)))
	keys, err := s.client.Keys(ctx, s.names.RedisPrefix()+"*").Result()
	if err != nil || len(keys) == 0 {
		t.Fatalf("keys of the namespace: %v %v", keys, err)
	}
	if err := s.client.Del(ctx, keys...).Err(); err != nil {
		t.Fatal(err)
	}
	_, err = tg.Write(ctx, "t", []sinks.Event{kvEvent(0, 1, "a", "o", 2, kvPayment("a", "o", 2, 1, schemas.StatusAuthorized, t0))})
	if !errors.Is(err, sinks.ErrRewind) {
		t.Fatalf("Write after the data was lost: %v, want ErrRewind", err)
	}
	if n := s.client.Exists(ctx, s.keys.Doc("a")).Val(); n != 0 {
		t.Fatal("Write stored the payment although the offsets were lost")
	}
	off, err := tg.CommittedOffsets(ctx, "t", []int32{0})
	if err != nil || len(off) != 0 {
		t.Fatalf("CommittedOffsets after the loss = %v, %v; want none", off, err)
	}
	// The runtime replays from the log start: both events.
	mustWrite(t, ctx, tg, "t", kvEvent(0, 0, "a", "o", 1, kvPayment("a", "o", 1, 1, schemas.StatusPending, t0)),
		kvEvent(0, 1, "a", "o", 2, kvPayment("a", "o", 2, 1, schemas.StatusAuthorized, t0)))
	if v := s.client.Get(ctx, s.keys.Doc("a")).Val(); !strings.HasPrefix(v, `{"version":2,`) {
		t.Fatalf("payment a after the replay: %s", v)
	}
}

func TestSinksRedisNoTTL(t *testing.T) {
	ctx := testkit.Context(t, time.Minute)
	s := newRedisStore(t)
	s.cfg = func(c *redissink.Config) { c.TTL = 0 }
	tg, err := redissink.NewTarget(s.config(), payment.RedisCache{})
	if err != nil {
		t.Fatal(err)
	}
	defer tg.Close()
	p := kvPayment("n", "o", 1, 1, schemas.StatusPending, time.Now())
	p.Currency = "KWD"
	p.AmountMinor = 1005
	mustWrite(t, ctx, tg, "t", kvEvent(0, 0, "n", "o", 1, p))
	if ttl := s.client.TTL(ctx, s.keys.Doc("n")).Val(); ttl != -1 {
		t.Fatalf("TTL %v with TTL 0, want none (-1)", ttl)
	}
	raw := s.client.Get(ctx, s.keys.Doc("n")).Val()
	if !strings.Contains(raw, `"amount":"1.005"`) {
		t.Fatalf("payment JSON %s: want amount \"1.005\" (KWD has 3 digits)", raw)
	}
}

// closedAddr returns a loopback address where nothing listens.
func closedAddr(t testing.TB) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return addr
}

func TestSinksRedisDownIsTransient(t *testing.T) {
	ctx := testkit.Context(t, time.Minute)
	cfg := redissink.DefaultConfig("redis://"+closedAddr(t)+"/0", topology.NewNames(testkit.Namespace(t)).Aggregate("payments"))
	tg, err := redissink.NewTarget(cfg, payment.RedisCache{})
	if err != nil {
		t.Fatal(err)
	}
	defer tg.Close()
	if err := tg.Setup(ctx); !errors.Is(err, sinks.ErrTransient) {
		t.Fatalf("Setup with Redis down: %v, want ErrTransient", err)
	}
	_, err = tg.Write(ctx, "t", []sinks.Event{kvEvent(0, 0, "a", "o", 1, kvPayment("a", "o", 1, 1, schemas.StatusPending, time.Now()))})
	if !errors.Is(err, sinks.ErrTransient) {
		t.Fatalf("Write with Redis down: %v, want ErrTransient", err)
	}
	if _, err := tg.CommittedOffsets(ctx, "t", []int32{0}); !errors.Is(err, sinks.ErrTransient) {
		t.Fatalf("CommittedOffsets with Redis down: %v, want ErrTransient", err)
	}
	if err := tg.Ping(ctx); !errors.Is(err, sinks.ErrTransient) {
		t.Fatalf("Ping with Redis down: %v, want ErrTransient", err)
	}
}

// benchBatch returns batch number i of size n: PaymentCreated events of new
// payments spread over 12 partitions, offsets continuing across batches.
func benchBatch(i, n int) []sinks.Event {
	out := make([]sinks.Event, n)
	t0 := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	for j := range out {
		seq := i*n + j
		id := fmt.Sprintf("bench-%08d", seq)
		org := fmt.Sprintf("org-%d", seq%50)
		p := kvPayment(id, org, 1, int64(100+seq%100000), schemas.StatusPending, t0.Add(time.Duration(seq)*time.Second))
		out[j] = kvEvent(int32(seq%12), int64(seq/12), id, org, 1, p)
	}
	return out
}

// BenchmarkSinksRedis compares the target's Write (Lua script: offsets,
// versions, document, recent index, invalidation) with two bare pipelined
// loads of the same batch, without any check or atomicity:
//   - bare-set: SET (with the same TTL) of the same payment keys and JSON
//     documents, the raw rate of the cache write itself;
//   - bare-same-writes: every write the target makes for these events: SET
//     of the document, ZADD to the organization's recent index, per
//     organization one ZREMRANGEBYRANK, EXPIRE and INCR, the offsets and one
//     PUBLISH of the invalidation messages as an array.
//
// Each iteration times one batch of each, one after the other, so all see
// the same machine load. Metrics: events/s of each and the target's ratio
// to each.
func BenchmarkSinksRedis(b *testing.B) {
	const batch = 1000
	ctx := testkit.Context(b, 10*time.Minute)
	target, bare := newRedisStore(b), newRedisStore(b)
	tg := target.openTarget(ctx)
	var tTarget, tSet, tSame time.Duration
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		evs := benchBatch(i, batch)
		keys := make([]string, len(evs))
		docs := make([][]byte, len(evs))
		msgs := make([][]byte, len(evs))
		for j, ev := range evs {
			p := ev.Envelope.State.(*schemas.Payment)
			keys[j] = bare.keys.Doc(p.ID)
			docs[j], _ = json.Marshal(map[string]any{"version": p.Version, "id": p.ID, "organizationId": p.OrganizationID, "userId": p.UserID,
				"amountMinor": p.AmountMinor, "amount": testDecimal(p.AmountMinor, p.Currency), "currency": p.Currency,
				"description": p.Description, "status": p.Status, "createdAt": p.CreatedAt, "updatedAt": p.UpdatedAt})
			msgs[j], _ = json.Marshal(map[string]any{"organizationId": p.OrganizationID, "paymentId": p.ID, "version": p.Version})
		}

		start := time.Now()
		if _, err := tg.Write(ctx, "bench", evs); err != nil {
			b.Fatal(err)
		}
		tTarget += time.Since(start)

		start = time.Now()
		pipe := bare.client.Pipeline()
		for j := range keys {
			pipe.Set(ctx, keys[j], docs[j], redissink.DefaultTTL)
		}
		if _, err := pipe.Exec(ctx); err != nil {
			b.Fatal(err)
		}
		tSet += time.Since(start)

		start = time.Now()
		pipe = bare.client.Pipeline()
		orgs := map[string]bool{}
		next := map[int32]int64{}
		for j, ev := range evs {
			p := ev.Envelope.State.(*schemas.Payment)
			pipe.Set(ctx, keys[j], docs[j], redissink.DefaultTTL)
			pipe.ZAdd(ctx, bare.keys.Recent(p.OrganizationID), goredis.Z{Score: float64(p.CreatedAt.UnixMilli()), Member: p.ID})
			orgs[p.OrganizationID] = true
			next[ev.Partition] = ev.Offset + 1
		}
		pipe.Publish(ctx, bare.keys.InvalidateChannel(), append(append([]byte("["), bytes.Join(msgs, []byte(","))...), ']'))
		for org := range orgs {
			pipe.ZRemRangeByRank(ctx, bare.keys.Recent(org), 0, -(redissink.DefaultRecentSize + 1))
			pipe.Expire(ctx, bare.keys.Recent(org), redissink.DefaultTTL)
			pipe.Incr(ctx, bare.keys.CacheVersion(org))
		}
		for p, off := range next {
			pipe.Set(ctx, bare.keys.Offset("bench", p), off, 0)
		}
		if _, err := pipe.Exec(ctx); err != nil {
			b.Fatal(err)
		}
		tSame += time.Since(start)
	}
	n := float64(b.N * batch)
	b.ReportMetric(n/tTarget.Seconds(), "target-events/s")
	b.ReportMetric(n/tSet.Seconds(), "bare-set-events/s")
	b.ReportMetric(n/tSame.Seconds(), "bare-same-writes-events/s")
	b.ReportMetric(tSet.Seconds()/tTarget.Seconds(), "ratio-to-set")
	b.ReportMetric(tSame.Seconds()/tTarget.Seconds(), "ratio-to-same-writes")
}

// ---------------------------------------------------------------- pipeline

// kvStream is a generated event stream for the pipeline tests: per
// partition in offset order (sinktest.GenerateStream), merged round-robin
// so partitions interleave as they would on the topic.
func kvStream(topic string, partitions, payments int, seed uint64) []sinks.Event {
	return sinktest.Interleave(sinktest.GenerateStream(sinktest.StreamConfig{Topic: topic, Partitions: partitions, Payments: payments, Seed: seed}))
}

// kvExpected is the test's reference: per key the state of its last event
// in stream order; PaymentDeleted and tombstones remove it.
func kvExpected(evs []sinks.Event) map[string]schemas.Payment {
	out := map[string]schemas.Payment{}
	for _, ev := range evs {
		if ev.Envelope == nil || ev.Envelope.State == nil {
			delete(out, ev.Key)
			continue
		}
		out[ev.Key] = *ev.Envelope.State.(*schemas.Payment)
	}
	return out
}

// kvProduce writes events to their partitions of the events topic, in
// order, encoded with the codec (tombstones as nil values).
func kvProduce(t *testing.T, ctx context.Context, e *sinkEnv, evs []sinks.Event) {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(e.brokers...), kgo.RecordPartitioner(kgo.ManualPartitioner()),
		kgo.ProducerLinger(5*time.Millisecond), kgo.MaxBufferedRecords(100_000))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	recs := make([]*kgo.Record, 0, len(evs))
	for _, ev := range evs {
		rec := &kgo.Record{Topic: e.names.EventsTopic(), Partition: ev.Partition, Key: []byte(ev.Key)}
		if ev.Envelope != nil {
			if rec.Value, err = e.codec.EncodeEvent(schemas.FromRecord(ev.Envelope)); err != nil {
				t.Fatalf("encode event %s: %v", ev.Envelope.EventID, err)
			}
			rec.Headers = []kgo.RecordHeader{{Key: records.HeaderType, Value: []byte(ev.Envelope.Type)},
				{Key: records.HeaderEventID, Value: []byte(ev.Envelope.EventID)}}
		}
		recs = append(recs, rec)
	}
	if err := cl.ProduceSync(ctx, recs...).FirstErr(); err != nil {
		t.Fatalf("produce %d events: %v", len(recs), err)
	}
}

// kvWaitEqual polls diff until it is empty twice, 2 s apart, or fails
// after timeout with the last differences.
func kvWaitEqual(t *testing.T, what string, timeout time.Duration, diff func() []string) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	var last []string
	for time.Now().Before(deadline) {
		if last = diff(); len(last) == 0 {
			time.Sleep(2 * time.Second)
			if last = diff(); len(last) == 0 {
				return
			}
		}
		time.Sleep(time.Second)
	}
	t.Fatalf("%s never matched the expectation within %s:\n  %s", what, timeout, strings.Join(last, "\n  "))
}

// waitPayments waits (kvWaitEqual) until read returns want, with the fields
// in ignore left out of the comparison.
func waitPayments(t *testing.T, what string, timeout time.Duration, want map[string]schemas.Payment,
	read func() (map[string]schemas.Payment, error), ignore ...sinktest.Field) {
	t.Helper()
	kvWaitEqual(t, what, timeout, func() []string {
		got, err := read()
		if err != nil {
			return []string{err.Error()}
		}
		return sinktest.DiffPayments(want, got, 10, ignore...)
	})
}

// kvWaitUnhealthy polls /healthz for d and reports whether it answered 503.
func kvWaitUnhealthy(p *sinkProc, d time.Duration) bool {
	seen := false
	for end := time.Now().Add(d); time.Now().Before(end); time.Sleep(250 * time.Millisecond) {
		if p.health() == http.StatusServiceUnavailable {
			seen = true
		}
	}
	return seen
}

// TestSinksRedisPipeline runs `prism sink redis` processes on a real events
// topic and compares Redis with the state computed from the produced
// events, through faults: a sink SIGKILLed mid-run and replaced by two
// instances, one of which is then stopped (SIGTERM, exit 0), and Redis
// stopped for 15 s (restarted empty: it keeps no data) while events flow,
// during which /healthz must say 503; the sink must then rebuild what Redis
// lost from the topic.
func TestSinksRedisPipeline(t *testing.T) {
	e := newSinkEnv(t, 6)
	ctx := testkit.Context(t, 5*time.Minute)
	redisURL := testkit.RedisURL(t)
	s := newRedisStore(t)
	s.names, s.keys = e.names, redissink.NewKeys(e.names, payment.RedisCache{}.CacheLayout())
	t.Cleanup(func() { // the store's own cleanup covers its random namespace; this is the env's
		c := context.Background()
		if keys, err := s.client.Keys(c, e.names.RedisPrefix()+"*").Result(); err == nil && len(keys) > 0 {
			s.client.Unlink(c, keys...)
		}
	})
	evs := kvStream(e.names.EventsTopic(), 6, 6000, 42)
	want := kvExpected(evs)
	t.Logf("%d events, %d live payments expected", len(evs), len(want))
	third := len(evs) / 3
	args := []string{"--redis-url", redisURL, "--redis-recent-size", "100000", "--batch-max-records", "500"}

	kvProduce(t, ctx, e, evs[:third])
	a := e.startSink("sink-redis-a", "redis", args...)
	deadline := time.Now().Add(60 * time.Second)
	for s.client.Exists(ctx, s.keys.Offset(e.names.EventsTopic(), 0)).Val() == 0 && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	t.Log("fault 1: SIGKILL the sink mid-run, start two others")
	a.kill(t)
	b := e.startSink("sink-redis-b", "redis", args...)
	c := e.startSink("sink-redis-c", "redis", args...)
	half := third + third/2
	kvProduce(t, ctx, e, evs[third:half])
	time.Sleep(time.Second)
	t.Log("fault 2: stop one of the two instances mid-run")
	c.stop(t)
	kvProduce(t, ctx, e, evs[half:2*third])
	kvWaitEqual(t, "redis after the SIGKILL and the stopped instance", 2*time.Minute, func() []string {
		got, err := s.Payments(ctx)
		if err != nil {
			return []string{err.Error()}
		}
		return sinktest.DiffPayments(kvExpected(evs[:2*third]), got, 10)
	})

	t.Log("fault 3: Redis down for 15 s while events flow")
	t.Cleanup(func() { sinkServicesQuiet("up", "redis") })
	sinkServices(t, "down", "redis")
	kvProduce(t, ctx, e, evs[2*third:])
	if !kvWaitUnhealthy(b, 15*time.Second) {
		t.Errorf("the sink never reported unhealthy on /healthz while Redis was down")
	}
	sinkServices(t, "up", "redis")

	kvWaitEqual(t, "redis after the outage", 3*time.Minute, func() []string {
		got, err := s.Payments(ctx)
		if err != nil {
			return []string{err.Error()}
		}
		d := sinktest.DiffPayments(want, got, 10)
		// The recent index of each organization holds exactly its live
		// payments (no trimming at this size), scored by createdAt.
		byOrg := map[string]map[string]int64{}
		for id, p := range want {
			if byOrg[p.OrganizationID] == nil {
				byOrg[p.OrganizationID] = map[string]int64{}
			}
			byOrg[p.OrganizationID][id] = p.CreatedAt.UnixMilli()
		}
		for org, ids := range byOrg {
			zs, err := s.client.ZRangeWithScores(ctx, s.keys.Recent(org), 0, -1).Result()
			if err != nil {
				return append(d, err.Error())
			}
			if len(zs) != len(ids) {
				d = append(d, fmt.Sprintf("recent index of %s: %d ids, want %d", org, len(zs), len(ids)))
			}
			for _, z := range zs {
				if score, ok := ids[z.Member.(string)]; !ok || int64(z.Score) != score {
					d = append(d, fmt.Sprintf("recent index of %s: %v scored %v, want live with score %d", org, z.Member, z.Score, score))
					break
				}
			}
		}
		return d
	})
	if code := b.health(); code != http.StatusOK {
		t.Errorf("/healthz after catching up: %d, want 200", code)
	}
	b.stop(t)
}
