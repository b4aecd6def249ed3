package gateway_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/redis/go-redis/v9"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/prism-cqrs/prism/aggregates"
	"github.com/prism-cqrs/prism/gateway"
	"github.com/prism-cqrs/prism/internal/testkit"
	"github.com/prism-cqrs/prism/kafkaconn"
	"github.com/prism-cqrs/prism/payment"
	"github.com/prism-cqrs/prism/processors"
	"github.com/prism-cqrs/prism/producers"
	"github.com/prism-cqrs/prism/queries"
	"github.com/prism-cqrs/prism/records"
	"github.com/prism-cqrs/prism/topology"
)

// maxAmountMinor is the processor's amount limit in these tests, so that
// a command the parser takes can still be INVALID_FIELD for the processor.
const maxAmountMinor = 1_000_000

func quiet() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// env is one namespace on the real Kafka (and Redis): the payments topics,
// a command producer, a gateway over it and, once started, a processor.
type env struct {
	ns      string
	brokers []string
	names   topology.Names
	def     *aggregates.Definition
	rdb     redis.UniversalClient
	p       *producers.CommandProducer
	gw      *gateway.Gateway
	reg     *prometheus.Registry
}

func newEnv(t testing.TB, rdb redis.UniversalClient, log *slog.Logger) *env {
	t.Helper()
	if log == nil {
		log = quiet()
	}
	e := &env{ns: testkit.Namespace(t), brokers: testkit.KafkaBrokers(t), rdb: rdb, reg: prometheus.NewRegistry()}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	spec, err := topology.NewSpec(topology.SpecConfig{Namespace: e.ns, Aggregates: []string{"payments"}, Partitions: 3})
	if err != nil {
		t.Fatal(err)
	}
	if err := topology.EnsureTopicsWith(ctx, []kgo.Opt{kgo.SeedBrokers(e.brokers...)}, spec); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		cl, err := kgo.NewClient(kgo.SeedBrokers(e.brokers...))
		if err == nil {
			_ = topology.DeleteTopics(ctx, cl, spec)
			cl.Close()
		}
	})
	e.names = spec.Names("payments")
	if e.def, err = payment.Definition(); err != nil {
		t.Fatal(err)
	}
	e.p, err = producers.NewCommandProducer(producers.Config{
		Kafka: kafkaconn.Config{Brokers: e.brokers},
		Aggregates: []producers.Aggregate{{
			Name: e.def.Name, CommandsTopic: e.names.CommandsTopic(), ResultsTopic: e.names.ResultsTopic(),
			Commands: e.def.Commands, Results: e.def.Results,
			Plural: e.def.Plural, EventsTopic: e.names.EventsTopic(), Events: e.def.Events,
		}},
		Logger: quiet(),
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(e.p.Close)
	set, err := producers.NewCommandSet(e.def.Commands)
	if err != nil {
		t.Fatal(err)
	}
	e.gw, err = gateway.New(ctx, gateway.Config{
		Producer: e.p, Commands: set, Redis: rdb, Namespace: e.ns,
		Registerer: e.reg, Logger: log,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(e.gw.Close)
	return e
}

func redisClient(t testing.TB) redis.UniversalClient {
	t.Helper()
	opt, err := redis.ParseURL(testkit.RedisURL(t))
	if err != nil {
		t.Fatal(err)
	}
	rdb := redis.NewClient(opt)
	t.Cleanup(func() { _ = rdb.Close() })
	return rdb
}

// startProcessor runs the real payment processor (processors.Engine) of
// the namespace in-process until the test ends or stop is called.
func (e *env) startProcessor(t testing.TB) (stop func()) {
	t.Helper()
	agg, err := e.def.NewProcessor(aggregates.ProcessorOptions{MaxAmountMinor: maxAmountMinor, Logger: quiet()})
	if err != nil {
		t.Fatal(err)
	}
	eng, err := processors.NewEngine(processors.EngineConfig{
		Kafka:           []kgo.Opt{kgo.SeedBrokers(e.brokers...)},
		CommandsTopic:   e.names.CommandsTopic(),
		EventsTopic:     e.names.EventsTopic(),
		ResultsTopic:    e.names.ResultsTopic(),
		DLQTopic:        e.names.CommandsDLQTopic(),
		Group:           e.names.ProcessorGroup(),
		TransactionalID: e.names.ProcessorTransactionalID() + "-" + uuid.NewString(),
		BatchMaxWait:    10 * time.Millisecond,
		SessionTimeout:  6 * time.Second,
		RestoreSettle:   time.Second,
		RestoreQuiet:    2 * time.Second,
		Aggregate:       agg,
		Logger:          quiet(),
		Metrics:         prometheus.NewRegistry(),
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- eng.Run(ctx) }()
	var once sync.Once
	stop = func() {
		once.Do(func() {
			cancel()
			select {
			case err := <-done:
				if err != nil {
					t.Errorf("processor: %v", err)
				}
			case <-time.After(30 * time.Second):
				t.Error("processor did not stop within 30s")
			}
		})
	}
	t.Cleanup(stop)
	return stop
}

func (e *env) post(t testing.TB, scope queries.Scope, body string, wait time.Duration) (int, []byte) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	status, b, err := e.gw.Submit(ctx, scope, []byte(body), wait)
	if err != nil {
		t.Fatalf("Submit: %v (status %d, body %s)", err, status, b)
	}
	return status, b
}

// commandRecords reads every record of the commands topic.
func (e *env) commandRecords(t testing.TB) []*kgo.Record {
	t.Helper()
	return readAll(t, e.brokers, e.names.CommandsTopic(), false)
}

func readAll(t testing.TB, brokers []string, topic string, committed bool) []*kgo.Record {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	opts := []kgo.Opt{kgo.SeedBrokers(brokers...), kgo.ConsumeTopics(topic),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.FetchMaxWait(200 * time.Millisecond)}
	if committed {
		opts = append(opts, kgo.FetchIsolationLevel(kgo.ReadCommitted()))
	}
	cl, err := kgo.NewClient(opts...)
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)
	var ends kadm.ListedOffsets
	if committed {
		ends, err = adm.ListCommittedOffsets(ctx, topic)
	} else {
		ends, err = adm.ListEndOffsets(ctx, topic)
	}
	if err != nil {
		t.Fatal(err)
	}
	need := map[int32]int64{}
	ends.Each(func(o kadm.ListedOffset) {
		if o.Offset > 0 {
			need[o.Partition] = o.Offset
		}
	})
	var out []*kgo.Record
	for len(need) > 0 {
		fs := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			t.Fatalf("read %s: still waiting for %v", topic, need)
		}
		fs.EachRecord(func(r *kgo.Record) {
			if end, ok := need[r.Partition]; ok && r.Offset >= end-1 {
				delete(need, r.Partition)
			}
			out = append(out, r)
		})
	}
	return out
}

// recordAt reads, read_committed, the record the token names.
func (e *env) recordAt(t testing.TB, tok queries.Token) *kgo.Record {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cl, err := kgo.NewClient(kgo.SeedBrokers(e.brokers...), kgo.FetchIsolationLevel(kgo.ReadCommitted()),
		kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{tok.Topic: {tok.Partition: kgo.NewOffset().At(tok.Offset)}}))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	for {
		fs := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			t.Fatalf("no committed record at %+v", tok)
		}
		var found *kgo.Record
		fs.EachRecord(func(r *kgo.Record) {
			if found == nil && r.Offset == tok.Offset {
				found = r
			}
		})
		if found != nil {
			return found
		}
	}
}

func header(r *kgo.Record, key string) string {
	for _, h := range r.Headers {
		if h.Key == key {
			return string(h.Value)
		}
	}
	return ""
}

func countCommand(recs []*kgo.Record, commandID string) int {
	n := 0
	for _, r := range recs {
		if header(r, records.HeaderCommandID) == commandID {
			n++
		}
	}
	return n
}

// result is a 200 or 422 body.
type result struct {
	CommandID        string `json:"commandId"`
	Aggregate        string `json:"aggregate"`
	AggregateID      string `json:"aggregateId"`
	Accepted         bool   `json:"accepted"`
	Duplicate        *bool  `json:"duplicate"`
	EventVersion     int64  `json:"eventVersion"`
	CorrelationID    string `json:"correlationId"`
	ConsistencyToken string `json:"consistencyToken"`
	Reason           string `json:"reason"`
	Message          string `json:"message"`
	Field            string `json:"field"`
}

func decode(t testing.TB, b []byte) result {
	t.Helper()
	var r result
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&r); err != nil {
		t.Fatalf("body %s: %v", b, err)
	}
	return r
}

func all() queries.Scope { return queries.AllOrganizations() }

func orgs(t testing.TB, ids ...string) queries.Scope {
	t.Helper()
	s, err := queries.Organizations(ids...)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func create(cmdID, paymentID, org, amount string) string {
	return fmt.Sprintf(`{"type":"CreatePayment","commandId":%q,"paymentId":%q,"organizationId":%q,"userId":"u-1","amount":%q,"currency":"EUR","description":"GPU hours","correlationId":"wf-%s"}`,
		cmdID, paymentID, org, amount, cmdID)
}

func status(cmdID, paymentID, org, to string) string {
	return fmt.Sprintf(`{"type":"ChangePaymentStatus","commandId":%q,"paymentId":%q,"organizationId":%q,"userId":"u-1","status":%q}`,
		cmdID, paymentID, org, to)
}

// accept posts body and requires a 200 accepted, non-duplicate answer
// whose consistency token names a committed record of the command on the
// events topic; it returns the answer and that record.
func (e *env) accept(t testing.TB, body, commandID, paymentID string, version int64) (result, *kgo.Record) {
	t.Helper()
	st, b := e.post(t, all(), body, 20*time.Second)
	if st != http.StatusOK {
		t.Fatalf("POST %s: %d %s, want 200", body, st, b)
	}
	r := decode(t, b)
	if r.CommandID != commandID || r.Aggregate != "payments" || r.AggregateID != paymentID || !r.Accepted ||
		r.Duplicate == nil || *r.Duplicate || r.EventVersion != version {
		t.Fatalf("answer %s: want command %s, payments %s accepted, not duplicate, version %d", b, commandID, paymentID, version)
	}
	if r.ConsistencyToken == "" {
		t.Fatalf("answer %s has no consistencyToken", b)
	}
	tok, err := queries.ParseToken(r.ConsistencyToken)
	if err != nil {
		t.Fatalf("consistencyToken %q: %v", r.ConsistencyToken, err)
	}
	if tok.Topic != e.names.EventsTopic() {
		t.Fatalf("token topic %q, want %q", tok.Topic, e.names.EventsTopic())
	}
	rec := e.recordAt(t, tok)
	if string(rec.Key) != paymentID || header(rec, records.HeaderCommandID) != commandID {
		t.Fatalf("record at the token: key %q command %q, want %q %q", rec.Key, header(rec, records.HeaderCommandID), paymentID, commandID)
	}
	return r, rec
}

// TestGatewayAgainstTheProcessor runs the gateway against the real Kafka,
// Redis and payment processor: accepted commands with tokens naming their
// event (or a delete's tombstone), every rejection reason, retries and
// conflicts, scope and bad bodies.
func TestGatewayAgainstTheProcessor(t *testing.T) {
	e := newEnv(t, redisClient(t), nil)
	e.startProcessor(t)

	t.Run("accepted", func(t *testing.T) {
		r, rec := e.accept(t, create("c-1", "p-1", "org-a", "12.50"), "c-1", "p-1", 1)
		if r.CorrelationID != "wf-c-1" {
			t.Errorf("correlationId %q, want wf-c-1", r.CorrelationID)
		}
		ev, err := e.def.Events.DecodeEvent(rec.Value)
		if err != nil {
			t.Fatalf("record at the token: %v", err)
		}
		if ev.Version != 1 || ev.Type != "PaymentCreated" || ev.CommandID != "c-1" {
			t.Errorf("event at the token: version %d type %s command %s, want 1 PaymentCreated c-1", ev.Version, ev.Type, ev.CommandID)
		}
		if got := testutil.ToFloat64(counter(t, e.reg, "payment", "accepted")); got < 1 {
			t.Errorf("prism_gateway_commands_total{payments,accepted} = %v, want ≥ 1", got)
		}
	})

	t.Run("delete token is the tombstone", func(t *testing.T) {
		e.accept(t, create("c-d1", "p-del", "org-a", "1.00"), "c-d1", "p-del", 1)
		body := `{"type":"DeletePayment","commandId":"c-d2","paymentId":"p-del","organizationId":"org-a","userId":"u-1","reason":"test"}`
		_, rec := e.accept(t, body, "c-d2", "p-del", 2)
		if rec.Value != nil {
			t.Errorf("the token of a delete names a record with a value (%d bytes), want the tombstone", len(rec.Value))
		}
	})

	t.Run("rejections", func(t *testing.T) {
		e.accept(t, create("c-s1", "p-s", "org-a", "5.00"), "c-s1", "p-s", 1)
		e.accept(t, status("c-s2", "p-s", "org-a", "AUTHORIZED"), "c-s2", "p-s", 2)
		for _, tc := range []struct {
			reason, body, paymentID, field string
			version                        int64
		}{
			{records.ReasonNotFound, status("r-nf", "p-none", "org-a", "AUTHORIZED"), "p-none", "", 0},
			{records.ReasonAlreadyExists, create("r-ae", "p-1", "org-a", "3.00"), "p-1", "", 1},
			{records.ReasonInvalidTransition, status("r-it", "p-1", "org-a", "REFUNDED"), "p-1", "", 1},
			{records.ReasonVersionConflict, `{"type":"ChangePaymentStatus","commandId":"r-vc","paymentId":"p-1","organizationId":"org-a","userId":"u-1","status":"AUTHORIZED","expectedVersion":7}`, "p-1", "", 1},
			{records.ReasonInvalidState, `{"type":"UpdatePayment","commandId":"r-is","paymentId":"p-s","organizationId":"org-a","userId":"u-1","amount":"6.00","currency":"EUR","description":"more"}`, "p-s", "", 2},
			{records.ReasonForbidden, status("r-fb", "p-1", "org-b", "AUTHORIZED"), "p-1", "", 1},
			{records.ReasonInvalidField, create("r-if", "p-big", "org-a", "20000.00"), "p-big", "amountMinor", 0},
		} {
			st, b := e.post(t, all(), tc.body, 20*time.Second)
			if st != http.StatusUnprocessableEntity {
				t.Errorf("%s: %d %s, want 422", tc.reason, st, b)
				continue
			}
			r := decode(t, b)
			if r.Reason != tc.reason || r.Accepted || r.Aggregate != "payments" || r.AggregateID != tc.paymentID ||
				r.EventVersion != tc.version || r.Message == "" || r.Field != tc.field || r.ConsistencyToken != "" || r.Duplicate != nil {
				t.Errorf("%s: body %s, want reason %s, payments %s, version %d, field %q, a message, no token", tc.reason, b, tc.reason, tc.paymentID, tc.version, tc.field)
			}
		}
	})

	t.Run("retry gets the same bytes and is not produced again", func(t *testing.T) {
		body := create("c-r", "p-r", "org-a", "7.00")
		st1, b1 := e.post(t, all(), body, 20*time.Second)
		// The same command, keys in another order and spaced: same hash.
		respaced := `{ "amount":"7.00", "type":"CreatePayment","paymentId":"p-r","commandId":"c-r","organizationId":"org-a","userId":"u-1","currency":"EUR","description":"GPU hours","correlationId":"wf-c-r"}` + "\n"
		st2, b2 := e.post(t, orgs(t, "org-a"), respaced, 20*time.Second)
		if st1 != http.StatusOK || st2 != st1 || !bytes.Equal(b1, b2) {
			t.Fatalf("first %d %s, retry %d %s: want the same 200 bytes", st1, b1, st2, b2)
		}
		if n := countCommand(e.commandRecords(t), "c-r"); n != 1 {
			t.Errorf("commands topic holds %d records of c-r, want 1", n)
		}
		if got := testutil.ToFloat64(counter(t, e.reg, "payment", "duplicate")); got < 1 {
			t.Errorf("prism_gateway_commands_total{payments,duplicate} = %v, want ≥ 1", got)
		}
		// Another command under the same id.
		st, b := e.post(t, all(), create("c-r", "p-r", "org-a", "8.00"), 20*time.Second)
		if st != http.StatusConflict || string(b) != `{"error":"commandId already used for a different command"}` {
			t.Errorf("same id, other command: %d %s, want 409", st, b)
		}
	})

	t.Run("concurrent identical posts", func(t *testing.T) {
		body := create("c-cc", "p-cc", "org-a", "9.00")
		var wg sync.WaitGroup
		out := make([][]byte, 4)
		codes := make([]int, 4)
		for i := range out {
			wg.Add(1)
			go func() {
				defer wg.Done()
				s, b, err := e.gw.Submit(context.Background(), all(), []byte(body), 20*time.Second)
				if err != nil {
					t.Error(err)
				}
				codes[i], out[i] = s, b
			}()
		}
		wg.Wait()
		for i := range out {
			if codes[i] != http.StatusOK || !bytes.Equal(out[i], out[0]) {
				t.Errorf("post %d: %d %s, want 200 %s", i, codes[i], out[i], out[0])
			}
		}
		if n := countCommand(e.commandRecords(t), "c-cc"); n != 1 {
			t.Errorf("commands topic holds %d records of c-cc, want 1", n)
		}
	})

	t.Run("without commandId one is generated", func(t *testing.T) {
		body := `{"type":"CreatePayment","paymentId":"p-g","organizationId":"org-a","userId":"u-1","amount":"1.00","currency":"EUR"}`
		st, b := e.post(t, all(), body, 20*time.Second)
		r := decode(t, b)
		if st != http.StatusOK || r.CommandID == "" || !r.Accepted || r.ConsistencyToken == "" {
			t.Fatalf("%d %s: want 200 with a generated commandId and a token", st, b)
		}
		if n := countCommand(e.commandRecords(t), r.CommandID); n != 1 {
			t.Errorf("commands topic holds %d records of %s, want 1", n, r.CommandID)
		}
	})

	t.Run("organization outside the scope", func(t *testing.T) {
		st, b := e.post(t, orgs(t, "org-b", "org-c"), create("c-403", "p-403", "org-a", "1.00"), time.Second)
		if st != http.StatusForbidden || string(b) != `{"error":"organization not in your scope"}` {
			t.Errorf("%d %s, want 403", st, b)
		}
		// A later command of the same producer is on the topic; c-403 is not.
		e.accept(t, create("c-after", "p-after", "org-b", "1.00"), "c-after", "p-after", 1)
		recs := e.commandRecords(t)
		if countCommand(recs, "c-after") != 1 || countCommand(recs, "c-403") != 0 {
			t.Errorf("commands topic: %d records of c-after, %d of c-403; want 1 and 0", countCommand(recs, "c-after"), countCommand(recs, "c-403"))
		}
		if got := testutil.ToFloat64(counter(t, e.reg, "payment", "forbidden")); got != 1 {
			t.Errorf("prism_gateway_commands_total{payments,forbidden} = %v, want 1", got)
		}
	})

	t.Run("bad bodies", func(t *testing.T) {
		for _, tc := range []struct{ body, names string }{
			{create("b-1", "p-b", "org-a", "12.5x"), "amount"},
			{`{"type":"CreatePayment","commandId":"b-2","paymentId":"p-b","userId":"u-1","amount":"1.00","currency":"EUR"}`, "organizationId"},
			{`{"type":"Pay","commandId":"b-3"}`, "type"},
			{`{"type":"CreatePayment","commandId":"b-4","colour":"red"}`, "colour"},
			{create("b-5", "p-b", "org-a", "1.00") + "\n" + create("b-6", "p-b", "org-a", "1.00"), "line"},
			{`{"type":`, "JSON"},
			{"", "empty"},
		} {
			st, b := e.post(t, all(), tc.body, time.Second)
			var eb struct {
				Error     string `json:"error"`
				Parameter string `json:"parameter"`
			}
			if err := json.Unmarshal(b, &eb); err != nil || st != http.StatusBadRequest || eb.Parameter != "body" || !strings.Contains(eb.Error, tc.names) {
				t.Errorf("body %q: %d %s, want 400 naming %q with parameter body", tc.body, st, b, tc.names)
			}
		}
		recs := e.commandRecords(t)
		for _, id := range []string{"b-1", "b-2", "b-3", "b-4", "b-5", "b-6"} {
			if n := countCommand(recs, id); n != 0 {
				t.Errorf("refused command %s was produced %d times", id, n)
			}
		}
	})
}

func counter(t *testing.T, reg *prometheus.Registry, aggregate, outcome string) prometheus.Collector {
	t.Helper()
	return &labelled{reg: reg, name: "prism_gateway_commands_total", labels: map[string]string{"aggregate": aggregate, "outcome": outcome}}
}

// labelled is one series of a registry, as a collector testutil reads.
type labelled struct {
	reg    *prometheus.Registry
	name   string
	labels map[string]string
}

func (l *labelled) Describe(ch chan<- *prometheus.Desc) {}

func (l *labelled) Collect(ch chan<- prometheus.Metric) {
	mfs, err := l.reg.Gather()
	if err != nil {
		return
	}
	for _, mf := range mfs {
		if mf.GetName() != l.name {
			continue
		}
		for _, m := range mf.GetMetric() {
			match := 0
			for _, lp := range m.GetLabel() {
				if v, ok := l.labels[lp.GetName()]; ok && v == lp.GetValue() {
					match++
				}
			}
			if match == len(l.labels) {
				ch <- prometheus.MustNewConstMetric(prometheus.NewDesc(l.name, "", nil, nil), prometheus.CounterValue, m.GetCounter().GetValue())
			}
		}
	}
}

// TestGatewayTimeoutThenStoredAnswer: with no processor, a POST answers
// 202 pending; once a processor runs, the background wait stores the
// result, and a retry gets the stored 200 (with its token) without a
// second command record.
func TestGatewayTimeoutThenStoredAnswer(t *testing.T) {
	rdb := redisClient(t)
	e := newEnv(t, rdb, nil)
	body := create("t-1", "p-t", "org-a", "4.00")
	st, b := e.post(t, all(), body, 200*time.Millisecond)
	if st != http.StatusAccepted || string(b) != `{"commandId":"t-1","status":"pending"}` {
		t.Fatalf("no processor: %d %s, want 202 pending", st, b)
	}
	// A retry while pending: still pending, nothing produced again.
	st, b = e.post(t, all(), body, 200*time.Millisecond)
	if st != http.StatusAccepted {
		t.Fatalf("retry while pending: %d %s, want 202", st, b)
	}
	e.startProcessor(t)
	key := e.ns + ":gateway:command:t-1"
	deadline := time.Now().Add(60 * time.Second)
	for {
		raw, err := rdb.Get(context.Background(), key).Bytes()
		if err == nil && bytes.Contains(raw, []byte(`"status":200`)) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no stored answer under %s after 60s (last %q, %v)", key, raw, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
	if ttl := rdb.TTL(context.Background(), key).Val(); ttl < 23*time.Hour || ttl > 24*time.Hour {
		t.Errorf("stored answer TTL %s, want about 24h", ttl)
	}
	st, b = e.post(t, all(), body, time.Second)
	if st != http.StatusOK {
		t.Fatalf("retry after the result: %d %s, want the stored 200", st, b)
	}
	r := decode(t, b)
	if !r.Accepted || r.Duplicate == nil || *r.Duplicate || r.EventVersion != 1 || r.ConsistencyToken == "" {
		t.Errorf("stored answer %s: want accepted version 1, not duplicate, with a token", b)
	}
	tok, err := queries.ParseToken(r.ConsistencyToken)
	if err != nil {
		t.Fatal(err)
	}
	if rec := e.recordAt(t, tok); header(rec, records.HeaderCommandID) != "t-1" {
		t.Errorf("record at the token carries command %q, want t-1", header(rec, records.HeaderCommandID))
	}
	if n := countCommand(e.commandRecords(t), "t-1"); n != 1 {
		t.Errorf("commands topic holds %d records of t-1, want 1", n)
	}
	if got := testutil.ToFloat64(counter(t, e.reg, "payment", "pending")); got != 2 {
		t.Errorf("prism_gateway_commands_total{payments,pending} = %v, want 2", got)
	}
}

// TestGatewayWithoutRedis: Redis unreachable, the gateway still answers;
// a retry is produced again and answered by the processor's dedup as a
// duplicate, without a token.
func TestGatewayWithoutRedis(t *testing.T) {
	down := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1", MaxRetries: -1, DialTimeout: 200 * time.Millisecond})
	t.Cleanup(func() { _ = down.Close() })
	var logs testkit.LogBuffer
	e := newEnv(t, down, slog.New(slog.NewTextHandler(&logs, nil)))
	e.startProcessor(t)
	body := create("w-1", "p-w", "org-a", "2.00")
	e.accept(t, body, "w-1", "p-w", 1)
	st, b := e.post(t, all(), body, 20*time.Second)
	r := decode(t, b)
	if st != http.StatusOK || r.Duplicate == nil || !*r.Duplicate || r.EventVersion != 1 || r.ConsistencyToken != "" {
		t.Errorf("retry without store: %d %s, want 200 duplicate version 1 without token", st, b)
	}
	if n := countCommand(e.commandRecords(t), "w-1"); n != 2 {
		t.Errorf("commands topic holds %d records of w-1, want 2 (no store: the retry is produced again)", n)
	}
	// Two failing POSTs, one WARN (rate-limited), naming no secret.
	if n := strings.Count(logs.String(), "level=WARN msg=\"gateway: idempotency store"); n != 1 {
		t.Errorf("%d store WARNs, want 1:\n%s", n, logs.String())
	}
}

// BenchmarkGatewaySubmit measures one accepted command's round trip
// through the gateway (store claim, produce, the real processor's result,
// the token from the events watcher, store write) on the real services,
// one POST at a time.
func BenchmarkGatewaySubmit(b *testing.B) {
	e := newEnv(b, redisClient(b), nil)
	e.startProcessor(b)
	e.accept(b, create("warm", "p-warm", "org-a", "1.00"), "warm", "p-warm", 1) // group joined, partitions restored
	b.ResetTimer()
	for i := range b.N {
		id := fmt.Sprintf("bench-%d", i)
		st, body := e.post(b, all(), create(id, "p-"+id, "org-a", "1.00"), 20*time.Second)
		if st != http.StatusOK {
			b.Fatalf("%d %s", st, body)
		}
	}
}
