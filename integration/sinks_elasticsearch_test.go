package integration

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/elastic/go-elasticsearch/v8"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/prism-cqrs/prism/internal/testkit"
	"github.com/prism-cqrs/prism/payment"
	"github.com/prism-cqrs/prism/payment/schemas"
	"github.com/prism-cqrs/prism/records"
	"github.com/prism-cqrs/prism/sinks"
	essink "github.com/prism-cqrs/prism/sinks/elasticsearch"
	redissink "github.com/prism-cqrs/prism/sinks/redis"
	"github.com/prism-cqrs/prism/sinks/sinktest"
	"github.com/prism-cqrs/prism/topology"
)

// esStore is one namespace (index + alias) of the real Elasticsearch. It
// talks to Elasticsearch with plain HTTP, independently of the sink.
type esStore struct {
	t     testing.TB
	url   string
	names topology.Names
}

func newESStore(t testing.TB) *esStore {
	s := &esStore{t: t, url: strings.TrimRight(testkit.ElasticsearchURL(t), "/"), names: topology.NewNames(testkit.Namespace(t)).Aggregate("payments")}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		// Deleting the indices also drops the alias.
		s.call(ctx, http.MethodDelete, "/"+s.names.ElasticsearchAlias()+"-v*", nil, nil)
	})
	return s
}

// esAndRedisStores returns the Elasticsearch and Redis stores of e's
// namespace; the test's end deletes the namespace's indices and Redis keys.
func esAndRedisStores(t testing.TB, e *sinkEnv) (*esStore, *redisStore) {
	es := newESStore(t)
	es.names = e.names
	rs := newRedisStore(t)
	rs.names, rs.keys = e.names, redissink.NewKeys(e.names, payment.RedisCache{}.CacheLayout())
	t.Cleanup(func() {
		c, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		es.call(c, http.MethodDelete, "/"+e.names.ElasticsearchAlias()+"-v*", nil, nil)
		if keys, err := rs.client.Keys(c, e.names.RedisPrefix()+"*").Result(); err == nil && len(keys) > 0 {
			rs.client.Unlink(c, keys...)
		}
	})
	return es, rs
}

// runRedisAndES starts the processor and the redis and elasticsearch sinks
// (their targets es and rs), produces cmds and waits, up to within each,
// until both hold want (timestamps not compared). The caller stops the
// three processes.
func runRedisAndES(t *testing.T, ctx context.Context, e *sinkEnv, es *esStore, rs *redisStore,
	cmds []*schemas.CommandEnvelope, want map[string]schemas.Payment, within time.Duration) (proc, red, ela *sinkProc) {
	t.Helper()
	proc = e.startProcessor("proc-1")
	red = e.startSink("sink-redis", "redis", "--redis-url", rs.url)
	ela = e.startSink("sink-elasticsearch", "elasticsearch", "--elasticsearch-url", es.url)
	e.produceCommands(ctx, cmds)
	ignore := []sinktest.Field{sinktest.FieldCreatedAt, sinktest.FieldUpdatedAt}
	waitPayments(t, "redis", within, want, func() (map[string]schemas.Payment, error) { return rs.Payments(ctx) }, ignore...)
	waitPayments(t, "elasticsearch", within, want, func() (map[string]schemas.Payment, error) { return es.Payments(ctx) }, ignore...)
	return proc, red, ela
}

func (s *esStore) NewTarget(context.Context) (sinks.Target, error) {
	return essink.NewTarget(essink.DefaultConfig(s.url, s.names), payment.ElasticsearchProjection{})
}

// call sends a request to the cluster (testkit.JSONCall) and returns the
// status.
func (s *esStore) call(ctx context.Context, method, path string, body, out any) (int, error) {
	return testkit.JSONCall(ctx, method, s.url+path, body, out)
}

// esHit is a search hit as the test reads it (its own type, not the sink's).
type esHit struct {
	ID      string `json:"_id"`
	Version int64  `json:"_version"`
	Source  struct {
		ID             string      `json:"id"`
		OrganizationID string      `json:"organization_id"`
		UserID         string      `json:"user_id"`
		AmountMinor    int64       `json:"amount_minor"`
		Amount         json.Number `json:"amount"`
		Currency       string      `json:"currency"`
		Description    string      `json:"description"`
		Status         string      `json:"status"`
		CreatedAt      string      `json:"created_at"`
		UpdatedAt      string      `json:"updated_at"`
		Version        int64       `json:"version"`
	} `json:"_source"`
}

func (h esHit) payment() (schemas.Payment, error) {
	src := h.Source
	if h.ID != src.ID {
		return schemas.Payment{}, fmt.Errorf("document _id %s holds id %s", h.ID, src.ID)
	}
	// _version is the offset + 1 of the last event applied (external
	// versions follow the offset order); a payment's events each take an
	// offset of its partition, so it is never below the aggregate version.
	if h.Version < src.Version {
		return schemas.Payment{}, fmt.Errorf("document %s: _version %d below the version field %d (want offset + 1 as external version)", h.ID, h.Version, src.Version)
	}
	if want := testDecimal(src.AmountMinor, src.Currency); string(src.Amount) != want {
		return schemas.Payment{}, fmt.Errorf("document %s: amount %v for %d minor %s", h.ID, src.Amount, src.AmountMinor, src.Currency)
	}
	created, err := time.Parse(time.RFC3339Nano, src.CreatedAt)
	if err != nil {
		return schemas.Payment{}, err
	}
	updated, err := time.Parse(time.RFC3339Nano, src.UpdatedAt)
	if err != nil {
		return schemas.Payment{}, err
	}
	return schemas.Payment{ID: src.ID, OrganizationID: src.OrganizationID, UserID: src.UserID, AmountMinor: src.AmountMinor,
		Currency: src.Currency, Description: src.Description, Status: schemas.PaymentStatus(src.Status),
		CreatedAt: created, UpdatedAt: updated, Version: src.Version}, nil
}

// Payments refreshes and reads every document through the alias.
func (s *esStore) Payments(ctx context.Context) (map[string]schemas.Payment, error) {
	alias := s.names.ElasticsearchAlias()
	if st, err := s.call(ctx, http.MethodPost, "/"+alias+"/_refresh", nil, nil); err != nil || st != http.StatusOK {
		return nil, fmt.Errorf("refresh %s: status %d: %v", alias, st, err)
	}
	out := map[string]schemas.Payment{}
	var after []any
	for {
		q := map[string]any{"size": 5000, "version": true, "sort": []any{map[string]any{"id": "asc"}}, "query": map[string]any{"match_all": map[string]any{}}}
		if after != nil {
			q["search_after"] = after
		}
		var res struct {
			Hits struct {
				Hits []struct {
					esHit
					Sort []any `json:"sort"`
				} `json:"hits"`
			} `json:"hits"`
		}
		st, err := s.call(ctx, http.MethodPost, "/"+alias+"/_search", q, &res)
		if err != nil || st != http.StatusOK {
			return nil, fmt.Errorf("search %s: status %d: %v", alias, st, err)
		}
		for _, h := range res.Hits.Hits {
			p, err := h.payment()
			if err != nil {
				return nil, err
			}
			out[p.ID] = p
		}
		if len(res.Hits.Hits) < 5000 {
			return out, nil
		}
		after = res.Hits.Hits[len(res.Hits.Hits)-1].Sort
	}
}

// doc returns the stored document of id (nil when absent), read by id.
func (s *esStore) doc(ctx context.Context, t *testing.T, id string) *esHit {
	t.Helper()
	var h struct {
		esHit
		Found bool `json:"found"`
	}
	st, err := s.call(ctx, http.MethodGet, "/"+s.names.ElasticsearchIndex(1)+"/_doc/"+id, nil, &h)
	if err != nil {
		t.Fatal(err)
	}
	if st == http.StatusNotFound {
		return nil
	}
	if st != http.StatusOK || !h.Found {
		t.Fatalf("GET doc %s: status %d", id, st)
	}
	return &h.esHit
}

func TestSinksElasticsearchConformance(t *testing.T) {
	sinktest.Run(t, func(t *testing.T) sinktest.Store { return newESStore(t) })
}

func TestSinksElasticsearchSetup(t *testing.T) {
	ctx := testkit.Context(t, 2*time.Minute)
	s := newESStore(t)
	// Four instances set up the same namespace at once.
	var wg sync.WaitGroup
	errs := make([]error, 4)
	for i := range errs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			tg, err := s.NewTarget(ctx)
			if err != nil {
				errs[i] = err
				return
			}
			defer tg.Close()
			errs[i] = tg.Setup(ctx)
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		t.Fatalf("concurrent Setup: %v", err)
	}
	index, alias := s.names.ElasticsearchIndex(1), s.names.ElasticsearchAlias()
	var aliases map[string]struct {
		Aliases map[string]any `json:"aliases"`
	}
	if st, err := s.call(ctx, http.MethodGet, "/_alias/"+alias, nil, &aliases); err != nil || st != http.StatusOK {
		t.Fatalf("GET alias: %d %v", st, err)
	}
	if _, ok := aliases[index]; !ok || len(aliases) != 1 {
		t.Fatalf("alias %s points at %v, want only %s", alias, aliases, index)
	}
	var mapping map[string]struct {
		Mappings struct {
			Dynamic    string `json:"dynamic"`
			Properties map[string]struct {
				Type     string `json:"type"`
				Analyzer string `json:"analyzer"`
			} `json:"properties"`
		} `json:"mappings"`
	}
	if st, err := s.call(ctx, http.MethodGet, "/"+index+"/_mapping", nil, &mapping); err != nil || st != http.StatusOK {
		t.Fatalf("GET mapping: %d %v", st, err)
	}
	m := mapping[index].Mappings
	got := map[string]string{}
	for f, p := range m.Properties {
		got[f] = p.Type
	}
	// amount is a scaled_float when mapper-extras is installed, else a double.
	var nodes struct {
		Nodes map[string]struct {
			Modules []struct{ Name string } `json:"modules"`
		} `json:"nodes"`
	}
	if _, err := s.call(ctx, http.MethodGet, "/_nodes/plugins", nil, &nodes); err != nil {
		t.Fatal(err)
	}
	amount := "double"
	for _, n := range nodes.Nodes {
		for _, mod := range n.Modules {
			if mod.Name == "mapper-extras" {
				amount = "scaled_float"
			}
		}
	}
	want := map[string]string{"id": "keyword", "organization_id": "keyword", "user_id": "keyword", "amount_minor": "long",
		"amount": amount, "currency": "keyword", "description": "text", "status": "keyword", "created_at": "date",
		"updated_at": "date", "version": "long"}
	if fmt.Sprint(got) != fmt.Sprint(want) || m.Dynamic != "strict" || m.Properties["description"].Analyzer != "standard" {
		t.Fatalf("mapping %v dynamic %q description analyzer %q\nwant %v, strict, standard", got, m.Dynamic, m.Properties["description"].Analyzer, want)
	}
}

func TestSinksElasticsearchTarget(t *testing.T) {
	ctx := testkit.Context(t, 2*time.Minute)
	s := newESStore(t)
	tg, err := s.NewTarget(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer tg.Close()
	if err := tg.Setup(ctx); err != nil {
		t.Fatal(err)
	}
	if err := tg.(sinks.Pinger).Ping(ctx); err != nil {
		t.Fatalf("Ping of a reachable Elasticsearch: %v", err)
	}
	if off, err := tg.CommittedOffsets(ctx, "t", []int32{0}); err != nil || off != nil {
		t.Fatalf("CommittedOffsets = %v, %v; want nil (group offsets)", off, err)
	}
	const topic = "t.events"
	org := "org-1"
	t0 := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	batch := []sinks.Event{
		kvEvent(0, 0, "a", org, 1, kvPayment("a", org, 1, 1234, schemas.StatusPending, t0)),
		kvEvent(1, 0, "b", org, 1, kvPayment("b", org, 1, 5, schemas.StatusPending, t0)),
		kvEvent(0, 1, "a", org, 2, kvPayment("a", org, 2, 1234, schemas.StatusAuthorized, t0)),
	}
	if rej := mustWrite(t, ctx, tg, topic, batch...); len(rej) != 0 {
		t.Fatalf("rejected %v", rej)
	}
	if d := s.doc(ctx, t, "a"); d == nil || d.Version != 2 || d.Source.Status != "AUTHORIZED" || d.Source.Amount != "12.34" {
		t.Fatalf("doc a = %+v, want version 2 AUTHORIZED amount 12.34", d)
	}

	t.Run("replay of the same batch is a no-op", func(t *testing.T) {
		var before struct {
			SeqNo int64 `json:"_seq_no"`
		}
		s.call(ctx, http.MethodGet, "/"+s.names.ElasticsearchIndex(1)+"/_doc/a", nil, &before)
		mustWrite(t, ctx, tg, topic, batch...)
		var after struct {
			SeqNo int64 `json:"_seq_no"`
		}
		s.call(ctx, http.MethodGet, "/"+s.names.ElasticsearchIndex(1)+"/_doc/a", nil, &after)
		if before.SeqNo != after.SeqNo {
			t.Fatalf("doc a rewritten by a replay: seq_no %d -> %d", before.SeqNo, after.SeqNo)
		}
	})

	t.Run("an older version is ignored", func(t *testing.T) {
		mustWrite(t, ctx, tg, topic, kvEvent(0, 5, "a", org, 1, kvPayment("a", org, 1, 1, schemas.StatusPending, t0)))
		if d := s.doc(ctx, t, "a"); d.Version != 2 || d.Source.AmountMinor != 1234 {
			t.Fatalf("doc a = %+v, want version 2", d)
		}
	})

	t.Run("delete then older event does not resurrect", func(t *testing.T) {
		mustWrite(t, ctx, tg, topic, kvEvent(1, 1, "b", org, 2, nil), kvTombstone(1, 2, "b"))
		if d := s.doc(ctx, t, "b"); d != nil {
			t.Fatalf("doc b after delete: %+v", d)
		}
		mustWrite(t, ctx, tg, topic, kvEvent(1, 0, "b", org, 1, kvPayment("b", org, 1, 5, schemas.StatusPending, t0)))
		if d := s.doc(ctx, t, "b"); d != nil {
			t.Fatalf("doc b resurrected by an older event: %+v", d)
		}
	})

	t.Run("a document breaking the mapping is rejected with the reason", func(t *testing.T) {
		huge := kvPayment("h", strings.Repeat("o", 40_000), 1, 1, schemas.StatusPending, t0) // a keyword term over 32766 bytes
		longID := strings.Repeat("i", 600)                                                   // _id over 512 bytes
		rej := mustWrite(t, ctx, tg, topic,
			kvEvent(2, 0, "h", huge.OrganizationID, 1, huge),
			kvEvent(2, 1, "ok", org, 1, kvPayment("ok", org, 1, 7, schemas.StatusPending, t0)),
			kvEvent(2, 2, longID, org, 1, kvPayment(longID, org, 1, 7, schemas.StatusPending, t0)))
		if len(rej) != 2 {
			t.Fatalf("rejected %d events, want 2: %+v", len(rej), rej)
		}
		reasons := map[int64]string{}
		for _, r := range rej {
			reasons[r.Event.Offset] = r.Reason
		}
		if !strings.Contains(reasons[0], "immense term") || !strings.Contains(reasons[2], "512") {
			t.Fatalf("reasons %v, want an immense term (offset 0) and the 512-byte id limit (offset 2)", reasons)
		}
		if s.doc(ctx, t, "ok") == nil {
			t.Fatal("the valid document of the batch was not written")
		}
	})
}

func TestSinksElasticsearchDownIsTransient(t *testing.T) {
	ctx := testkit.Context(t, time.Minute)
	tg, err := essink.NewTarget(essink.DefaultConfig("http://"+closedAddr(t), topology.NewNames(testkit.Namespace(t)).Aggregate("payments")), payment.ElasticsearchProjection{})
	if err != nil {
		t.Fatal(err)
	}
	defer tg.Close()
	if err := tg.Setup(ctx); !errors.Is(err, sinks.ErrTransient) {
		t.Fatalf("Setup with Elasticsearch down: %v, want ErrTransient", err)
	}
	_, err = tg.Write(ctx, "t", []sinks.Event{kvEvent(0, 0, "a", "o", 1, kvPayment("a", "o", 1, 1, schemas.StatusPending, time.Now()))})
	if !errors.Is(err, sinks.ErrTransient) {
		t.Fatalf("Write with Elasticsearch down: %v, want ErrTransient", err)
	}
	if err := tg.Ping(ctx); !errors.Is(err, sinks.ErrTransient) {
		t.Fatalf("Ping with Elasticsearch down: %v, want ErrTransient", err)
	}
}

// TestSinksElasticsearchPipeline runs `prism sink elasticsearch` processes
// on a real events topic and compares the index (read through the alias)
// with the state computed from the produced events, through faults: a sink
// SIGKILLed mid-run and replaced by two instances, one of which is then
// stopped (SIGTERM, exit 0); an event Elasticsearch must refuse (a
// 40 kB organization id, over the keyword term limit) injected on the
// topic, which must reach the events DLQ with the reason while the sink
// goes on; Elasticsearch stopped for 15 s while events flow, during which
// /healthz must say 503.
func TestSinksElasticsearchPipeline(t *testing.T) {
	e := newSinkEnv(t, 6)
	ctx := testkit.Context(t, 6*time.Minute)
	s := newESStore(t)
	s.names = e.names
	t.Cleanup(func() {
		c, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		s.call(c, http.MethodDelete, "/"+e.names.ElasticsearchAlias()+"-v*", nil, nil)
	})
	evs := kvStream(e.names.EventsTopic(), 6, 6000, 43)
	want := kvExpected(evs)
	t.Logf("%d events, %d live payments expected", len(evs), len(want))
	third := len(evs) / 3
	args := []string{"--elasticsearch-url", s.url, "--batch-max-records", "500"}
	diff := func(want map[string]schemas.Payment) func() []string {
		return func() []string {
			got, err := s.Payments(ctx)
			if err != nil {
				return []string{err.Error()}
			}
			return sinktest.DiffPayments(want, got, 10)
		}
	}

	kvProduce(t, ctx, e, evs[:third])
	a := e.startSink("sink-es-a", "elasticsearch", args...)
	deadline := time.Now().Add(90 * time.Second)
	for time.Now().Before(deadline) {
		var c struct{ Count int }
		if st, _ := s.call(ctx, http.MethodGet, "/"+e.names.ElasticsearchAlias()+"/_count", nil, &c); st == http.StatusOK && c.Count > 0 {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Log("fault 1: SIGKILL the sink mid-run, start two others")
	a.kill(t)
	b := e.startSink("sink-es-b", "elasticsearch", args...)
	c := e.startSink("sink-es-c", "elasticsearch", args...)

	t.Log("fault 2: an event Elasticsearch refuses, injected on the topic")
	poison := kvPayment("poison-1", strings.Repeat("o", 40_000), 1, 100, schemas.StatusPending, time.Now())
	poisonEv := kvEvent(0, 0, "poison-1", poison.OrganizationID, 1, poison)
	kvProduce(t, ctx, e, []sinks.Event{poisonEv})
	half := third + third/2
	kvProduce(t, ctx, e, evs[third:half])
	time.Sleep(time.Second)
	t.Log("fault 3: stop one of the two instances mid-run")
	c.stop(t)
	kvProduce(t, ctx, e, evs[half:2*third])
	kvWaitEqual(t, "index after the SIGKILL and the poison event", 3*time.Minute, diff(kvExpected(evs[:2*third])))
	kvCheckDLQ(t, ctx, e, "poison-1", "immense term")

	t.Log("fault 4: Elasticsearch down for 15 s while events flow")
	t.Cleanup(func() { sinkServicesQuiet("up", "elasticsearch") })
	sinkServices(t, "down", "elasticsearch")
	kvProduce(t, ctx, e, evs[2*third:])
	if !kvWaitUnhealthy(b, 15*time.Second) {
		t.Errorf("the sink never reported unhealthy on /healthz while Elasticsearch was down")
	}
	started := time.Now()
	sinkServices(t, "up", "elasticsearch")
	t.Logf("Elasticsearch back after %s", time.Since(started).Round(time.Second))

	kvWaitEqual(t, "index after the outage", 3*time.Minute, diff(want))
	if code := b.health(); code != http.StatusOK {
		t.Errorf("/healthz after catching up: %d, want 200", code)
	}
	b.stop(t)
}

// kvCheckDLQ reads the events DLQ from its start and requires the record of
// key, with its original value, sent by the elasticsearch sink with a
// message containing reason.
func kvCheckDLQ(t *testing.T, ctx context.Context, e *sinkEnv, key, reason string) {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(e.brokers...), kgo.ConsumeTopics(e.names.EventsDLQTopic()),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	pctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	for {
		fs := cl.PollFetches(pctx)
		if pctx.Err() != nil {
			t.Fatalf("no DLQ record for %s within 30s", key)
		}
		var found *kgo.Record
		fs.EachRecord(func(r *kgo.Record) {
			if string(r.Key) == key {
				found = r
			}
		})
		if found == nil {
			continue
		}
		h := map[string]string{}
		for _, x := range found.Headers {
			h[x.Key] = string(x.Value)
		}
		env, err := e.codec.DecodeEvent(found.Value)
		if err != nil || env.AggregateID != key {
			t.Fatalf("DLQ record value is not the original event of %s: %v", key, err)
		}
		if h[records.HeaderDLQSink] != "elasticsearch" || !strings.Contains(h[records.HeaderDLQMessage], reason) ||
			h[records.HeaderDLQTopic] != e.names.EventsTopic() || h[records.HeaderDLQOffset] == "" || h[records.HeaderType] != schemas.TypePaymentCreated {
			t.Fatalf("DLQ record headers %v: want sink elasticsearch, a message with %q, the source topic and offset, the original headers", h, reason)
		}
		return
	}
}

// BenchmarkSinksElasticsearch compares the target's Write (one _bulk with
// external versions, built from events) with a bare go-elasticsearch bulk
// load of the same documents (pre-encoded, plain index actions) into an
// index with the same mapping. Each iteration times one batch of each,
// alternately, so both see the same machine load. Metrics: target events/s,
// bare docs/s, and their ratio.
func BenchmarkSinksElasticsearch(b *testing.B) {
	const batch = 1000
	ctx := testkit.Context(b, 10*time.Minute)
	s := newESStore(b)
	cfg := essink.DefaultConfig(s.url, s.names)
	tg, err := essink.NewTarget(cfg, payment.ElasticsearchProjection{})
	if err != nil {
		b.Fatal(err)
	}
	defer tg.Close()
	cfg.IndexVersion = 2 // same mapping, another index, for the bare load
	cfg.Direct = true    // Setup creates it (the alias stays on v1)
	bareTarget, err := essink.NewTarget(cfg, payment.ElasticsearchProjection{})
	if err != nil {
		b.Fatal(err)
	}
	defer bareTarget.Close()
	for _, x := range []sinks.Target{tg, bareTarget} {
		if err := x.Setup(ctx); err != nil {
			b.Fatal(err)
		}
	}
	client, err := elasticsearch.NewClient(elasticsearch.Config{Addresses: []string{s.url}})
	if err != nil {
		b.Fatal(err)
	}
	bareIndex := s.names.ElasticsearchIndex(2)
	var tTarget, tBare time.Duration
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		evs := benchBatch(i, batch)
		var body bytes.Buffer
		for _, ev := range evs {
			p := ev.Envelope.State.(*schemas.Payment)
			doc, _ := json.Marshal(map[string]any{"id": p.ID, "organization_id": p.OrganizationID, "user_id": p.UserID,
				"amount_minor": p.AmountMinor, "amount": json.Number(testDecimal(p.AmountMinor, p.Currency)), "currency": p.Currency,
				"description": p.Description, "status": p.Status, "created_at": p.CreatedAt.Format(time.RFC3339Nano),
				"updated_at": p.UpdatedAt.Format(time.RFC3339Nano), "version": p.Version})
			fmt.Fprintf(&body, `{"index":{"_index":%q,"_id":%q}}`+"\n%s\n", bareIndex, p.ID, doc)
		}
		start := time.Now()
		if rej, err := tg.Write(ctx, "bench", evs); err != nil || len(rej) > 0 {
			b.Fatalf("Write: %v, %d rejected", err, len(rej))
		}
		tTarget += time.Since(start)
		start = time.Now()
		res, err := client.Bulk(bytes.NewReader(body.Bytes()), client.Bulk.WithContext(ctx))
		if err != nil {
			b.Fatal(err)
		}
		var br struct{ Errors bool }
		err = json.NewDecoder(res.Body).Decode(&br)
		res.Body.Close()
		if err != nil || res.StatusCode != http.StatusOK || br.Errors {
			b.Fatalf("bare bulk: status %d, errors %v, %v", res.StatusCode, br.Errors, err)
		}
		tBare += time.Since(start)
	}
	n := float64(b.N * batch)
	b.ReportMetric(n/tTarget.Seconds(), "target-events/s")
	b.ReportMetric(n/tBare.Seconds(), "bare-docs/s")
	b.ReportMetric(tBare.Seconds()/tTarget.Seconds(), "ratio")
}

// TestSinksRedisAndElasticsearchFromCommands sends generated commands
// (PRISM_E2E_COMMANDS; 100,000 under CI) through the real processor and
// runs both sinks: Redis and the Elasticsearch alias must each hold exactly
// the live payments computed from the commands alone (fields and version;
// the timestamps come from the processor's clock and are not compared),
// deleted ones absent.
func TestSinksRedisAndElasticsearchFromCommands(t *testing.T) {
	n := sinkE2ECommands(t)
	e := newSinkEnv(t, 6)
	ctx := testkit.Context(t, 6*time.Minute)
	es, rs := esAndRedisStores(t, e)
	cmds, x := generateSinkCommands(n, 17, e.ns)
	want := x.live()
	t.Logf("%d commands, %d payments, %d expected events, %d live at the end", len(cmds), len(x.payments), len(x.events), len(want))
	start := time.Now()
	proc, red, ela := runRedisAndES(t, ctx, e, es, rs, cmds, want, 4*time.Minute)
	t.Logf("both sinks matched %s after the first command", time.Since(start).Round(time.Second))
	red.stop(t)
	ela.stop(t)
	proc.stop(t)
}
