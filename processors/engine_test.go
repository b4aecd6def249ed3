package processors

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prism-cqrs/prism/records"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// eventsByKey groups event values by key, in offset order ("<tombstone>"
// for a nil value), and records the partitions each key's events went to.
func eventsByKey(recs []*kgo.Record) (map[string][]string, map[string]map[int32]bool) {
	vals := map[string][]string{}
	parts := map[string]map[int32]bool{}
	for _, r := range recs {
		k := string(r.Key)
		v := string(r.Value)
		if r.Value == nil {
			v = "<tombstone>"
		}
		vals[k] = append(vals[k], v)
		if parts[k] == nil {
			parts[k] = map[int32]bool{}
		}
		parts[k][r.Partition] = true
	}
	return vals, parts
}

func TestEngineCommandsToEventsAndResults(t *testing.T) {
	c := fakeKafka(t, 4)
	eng := startEngine(t, testConfig(c))

	const n, keys = 300, 20
	var recs []*kgo.Record
	want := map[string][]string{} // the counter model: running sums per key
	sum := map[string]int64{}
	for i := range n {
		k := fmt.Sprintf("k%02d", i%keys)
		d := int64(i%7 + 1)
		recs = append(recs, cmd(k, "add:"+strconv.FormatInt(d, 10)))
		sum[k] += d
		want[k] = append(want[k], "count="+strconv.FormatInt(sum[k], 10))
	}
	produce(t, c, recs...)
	cmdPart := map[string]int32{}
	for _, r := range recs {
		cmdPart[string(r.Key)] = r.Partition
	}

	results := waitRecords(t, c, tResults, n)
	if len(results) != n {
		t.Fatalf("%d results, want %d", len(results), n)
	}
	seen := map[string]bool{}
	for _, r := range results {
		if seen[string(r.Key)] {
			t.Errorf("duplicate result for command %s", r.Key)
		}
		seen[string(r.Key)] = true
		if !strings.HasPrefix(string(r.Value), "ok count=") {
			t.Errorf("result %s = %q, want ok count=...", r.Key, r.Value)
		}
	}
	got, parts := eventsByKey(readCommitted(t, c, tEvents))
	for k, w := range want {
		if fmt.Sprint(got[k]) != fmt.Sprint(w) {
			t.Errorf("events of %s = %v, want %v", k, got[k], w)
		}
		if len(parts[k]) != 1 || !parts[k][cmdPart[k]] {
			t.Errorf("events of %s went to partitions %v, want only %d (the commands partition)", k, parts[k], cmdPart[k])
		}
	}
	if len(got) != len(want) {
		t.Errorf("events for %d keys, want %d", len(got), len(want))
	}
	if v := metricValue(t, eng.e.m.commands.WithLabelValues("accepted")); v != n {
		t.Errorf("commands_total{outcome=accepted} = %v, want %d", v, n)
	}
}

func TestEngineSendsUndecodableCommandsToDLQ(t *testing.T) {
	c := fakeKafka(t, 2)
	cfg := testConfig(c)
	startEngine(t, cfg)

	garbage := &kgo.Record{Topic: tCommands, Key: []byte("k"), Value: []byte{0xff, 0x00, 'j', 'u', 'n', 'k'},
		Headers: []kgo.RecordHeader{{Key: "h1", Value: []byte("v1")}}}
	poison := cmd("k", "panic")
	produce(t, c, garbage, poison, cmd("k", "add:2"))

	dlq := waitRecords(t, c, tDLQ, 2)
	if len(dlq) != 2 {
		t.Fatalf("%d DLQ records, want 2", len(dlq))
	}
	wantDLQ := []struct {
		src          *kgo.Record
		stage, class string
	}{{garbage, "decode", "garbage"}, {poison, "handle", "panic"}}
	for i, w := range wantDLQ {
		d := dlq[i]
		if string(d.Key) != string(w.src.Key) || string(d.Value) != string(w.src.Value) {
			t.Errorf("DLQ record %d = %q/%q, want the original %q/%q", i, d.Key, d.Value, w.src.Key, w.src.Value)
		}
		for k, v := range map[string]string{
			records.HeaderDLQStage:     w.stage,
			records.HeaderDLQClass:     w.class,
			records.HeaderDLQTopic:     tCommands,
			records.HeaderDLQPartition: strconv.Itoa(int(w.src.Partition)),
			records.HeaderDLQOffset:    strconv.FormatInt(w.src.Offset, 10),
		} {
			if got, _ := header(d, k); got != v {
				t.Errorf("DLQ record %d header %s = %q, want %q", i, k, got, v)
			}
		}
		if msg, _ := header(d, records.HeaderDLQMessage); msg == "" {
			t.Errorf("DLQ record %d has no error message", i)
		}
		for _, h := range w.src.Headers {
			if got, ok := header(d, h.Key); !ok || got != string(h.Value) {
				t.Errorf("DLQ record %d lost original header %s", i, h.Key)
			}
		}
	}
	// The command after the bad ones was processed.
	got, _ := eventsByKey(waitRecords(t, c, tEvents, 1))
	if fmt.Sprint(got["k"]) != "[count=2]" {
		t.Errorf("events of k = %v, want [count=2]", got["k"])
	}
}

func TestEngineRestoresStateAfterRestart(t *testing.T) {
	c := fakeKafka(t, 3)
	first := startEngine(t, testConfig(c))
	produce(t, c, cmd("k", "add:1"), cmd("k", "add:2"), cmd("x", "add:5"), cmd("x", "del"))
	waitRecords(t, c, tResults, 4)
	first.stop(t)

	second := startEngine(t, testConfig(c)) // same group, another transactional id
	later := []*kgo.Record{cmd("k", "add:10"), cmd("x", "add:1"), cmd("y", "del")}
	produce(t, c, later...)
	results := map[string]string{}
	for _, r := range waitRecords(t, c, tResults, 7) {
		results[string(r.Key)] = string(r.Value)
	}
	for i, w := range []string{"ok count=13", "ok count=1", "rejected NOT_FOUND"} {
		src := fmt.Sprintf("%d/%d", later[i].Partition, later[i].Offset)
		if results[src] != w {
			t.Errorf("after restart, %s %s -> %q, want %q", later[i].Key, later[i].Value, results[src], w)
		}
	}
	got, _ := eventsByKey(readCommitted(t, c, tEvents))
	if fmt.Sprint(got["x"]) != "[count=5 gone <tombstone> count=1]" {
		t.Errorf("events of x = %v", got["x"])
	}
	if v := metricValue(t, second.e.m.restoreRecords); v < 4 {
		t.Errorf("restore_records_total = %v, want >= 4 (the events of the first run)", v)
	}
}

func TestEngineAbortDiscardsState(t *testing.T) {
	c := fakeKafka(t, 2)
	var failed bool
	// The first offset commit of a transaction fails as if the group had
	// rebalanced: the session must abort and the batch run again.
	c.ControlKey(kmsg.TxnOffsetCommit.Int16(), func(kreq kmsg.Request) (kmsg.Response, error, bool) {
		if failed {
			return nil, nil, false
		}
		failed = true
		req := kreq.(*kmsg.TxnOffsetCommitRequest)
		resp := req.ResponseKind().(*kmsg.TxnOffsetCommitResponse)
		for _, rt := range req.Topics {
			st := kmsg.NewTxnOffsetCommitResponseTopic()
			st.Topic = rt.Topic
			for _, rp := range rt.Partitions {
				sp := kmsg.NewTxnOffsetCommitResponseTopicPartition()
				sp.Partition = rp.Partition
				sp.ErrorCode = kerr.RebalanceInProgress.Code
				st.Partitions = append(st.Partitions, sp)
			}
			resp.Topics = append(resp.Topics, st)
		}
		return resp, nil, true
	})
	first := startEngine(t, testConfig(c))
	produce(t, c, cmd("k", "add:5"))
	results := waitRecords(t, c, tResults, 1)
	if !failed {
		t.Fatal("the injected commit failure never happened")
	}
	if len(results) != 1 || string(results[0].Value) != "ok count=5" {
		t.Fatalf("results = %v, want exactly one ok count=5 (an aborted batch must not leave its state behind)", values(results))
	}
	if v := metricValue(t, first.e.m.transactions.WithLabelValues("aborted")); v < 1 {
		t.Errorf("transactions_total{aborted} = %v, want >= 1", v)
	}
	first.stop(t)

	startEngine(t, testConfig(c))
	produce(t, c, cmd("k", "add:1"))
	waitRecords(t, c, tResults, 2)
	got, _ := eventsByKey(readCommitted(t, c, tEvents))
	if fmt.Sprint(got["k"]) != "[count=5 count=6]" {
		t.Errorf("committed events of k = %v, want [count=5 count=6]", got["k"])
	}
}

func TestEngineRefusesTopicsNotCoPartitioned(t *testing.T) {
	c, err := kfake.NewCluster(kfake.NumBrokers(1),
		kfake.SeedTopics(3, tCommands, tResults, tDLQ), kfake.SeedTopics(2, tEvents))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	e, err := NewEngine(testConfig(c))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	err = e.Run(ctx)
	if err == nil || !strings.Contains(err.Error(), "co-partitioned") {
		t.Fatalf("Run = %v, want a co-partitioning error", err)
	}
}

func TestEngineConfigValidateReportsEveryProblem(t *testing.T) {
	err := EngineConfig{BatchMaxRecords: -1, BatchMaxWait: -time.Second, InstanceID: "host 1", BrokerUnreachableTimeout: -time.Second}.Validate()
	if err == nil {
		t.Fatal("empty config validated")
	}
	for _, want := range []string{"Kafka", "commands topic", "events topic", "results topic", "DLQ topic",
		"group", "transactional id", "aggregate", "batch max records", "batch max wait",
		`instance id "host 1"`, "broker unreachable timeout"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("Validate() = %q, missing %q", err, want)
		}
	}
	c := EngineConfig{Kafka: []kgo.Opt{kgo.SeedBrokers("127.0.0.1:1")}, CommandsTopic: "a", EventsTopic: "b",
		ResultsTopic: "c", DLQTopic: "d", Group: "g", TransactionalID: "x", Aggregate: counterAggregate{}}
	if err := c.Validate(); err != nil {
		t.Errorf("Validate() of a complete config = %v", err)
	}
	c.EventsTopic = c.CommandsTopic
	if err := c.Validate(); err == nil || !strings.Contains(err.Error(), "both the commands topic and an output") {
		t.Errorf("Validate() with events = commands: %v", err)
	}
}

func values(recs []*kgo.Record) []string {
	var out []string
	for _, r := range recs {
		out = append(out, string(r.Value))
	}
	return out
}

func TestHTTPHandlerServesHealthAndMetrics(t *testing.T) {
	c := fakeKafka(t, 2)
	cfg := testConfig(c)
	reg := prometheus.NewRegistry()
	cfg.Metrics = reg
	e, err := NewEngine(cfg)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(NewHTTPHandler(e, reg))
	defer srv.Close()
	get := func(path string) (int, string) {
		resp, err := http.Get(srv.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	if code, _ := get("/healthz"); code != http.StatusServiceUnavailable {
		t.Errorf("/healthz before Run = %d, want 503", code)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- e.Run(ctx) }()
	produce(t, c, cmd("k", "add:1"))
	waitRecords(t, c, tResults, 1)
	if code, body := get("/healthz"); code != http.StatusOK || !strings.Contains(body, `"running":true`) {
		t.Errorf("/healthz while running = %d %s", code, body)
	}
	// The counters move right after the commit the result came with.
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		_, body := get("/metrics")
		if strings.Contains(body, `prism_processor_commands_total{outcome="accepted"} 1`) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("/metrics lacks the accepted command:\n%s", body)
		}
	}
	cancel()
	if err := <-done; err != nil {
		t.Errorf("Run after cancel = %v", err)
	}
	if code, _ := get("/healthz"); code != http.StatusServiceUnavailable {
		t.Errorf("/healthz after Run = %d, want 503", code)
	}
}

func TestEngineSendsCommandsWhoseOutputKafkaRefusesToDLQ(t *testing.T) {
	c := fakeKafka(t, 2)
	startEngine(t, testConfig(c))
	big := cmd("k", "big")
	produce(t, c, cmd("k", "add:1"), big, cmd("k", "add:2"))

	results := waitRecords(t, c, tResults, 2)
	if fmt.Sprint(values(results)) != "[ok count=1 ok count=3]" {
		t.Errorf("results = %v, want [ok count=1 ok count=3]", values(results))
	}
	dlq := waitRecords(t, c, tDLQ, 1)
	if len(dlq) != 1 || string(dlq[0].Value) != "big" {
		t.Fatalf("DLQ = %v, want the big command", values(dlq))
	}
	for k, v := range map[string]string{
		records.HeaderDLQStage:  "produce",
		records.HeaderDLQClass:  "record-too-large",
		records.HeaderDLQOffset: strconv.FormatInt(big.Offset, 10),
	} {
		if got, _ := header(dlq[0], k); got != v {
			t.Errorf("DLQ header %s = %q, want %q", k, got, v)
		}
	}
	got, _ := eventsByKey(readCommitted(t, c, tEvents))
	if fmt.Sprint(got["k"]) != "[count=1 count=3]" {
		t.Errorf("events of k = %v, want [count=1 count=3]", got["k"])
	}
}

func TestEngineRestoreLeavesOutATransactionLeftOpen(t *testing.T) {
	c := fakeKafka(t, 1)
	// A crashed previous owner left a transaction open on the events
	// partition with a state that must never count: it can only abort.
	previousOwner(t, c, "t.zombie", "count=100", kgo.TransactionTimeout(time.Minute))

	cfg := testConfig(c)
	cfg.RestoreSettle = 500 * time.Millisecond
	startEngine(t, cfg)
	produce(t, c, cmd("k", "add:1"))
	results := waitRecords(t, c, tResults, 1)
	if got := string(results[0].Value); got != "ok count=1" {
		t.Errorf("result = %q, want ok count=1 (the open transaction's state must not be restored)", got)
	}
}

func TestEngineRestoreWaitsForATransactionBeingCommitted(t *testing.T) {
	c := fakeKafka(t, 1)
	// A previous owner's transaction is still open on the events
	// partition when the restore starts, and commits shortly after (as
	// when its markers are on their way): its state must count.
	prev, ctx := previousOwner(t, c, "t.prev", "count=100")
	cfg := testConfig(c)
	cfg.RestoreSettle = 5 * time.Second
	startEngine(t, cfg)
	produce(t, c, cmd("k", "add:1"))
	time.Sleep(300 * time.Millisecond)
	if err := prev.EndTransaction(ctx, kgo.TryCommit); err != nil {
		t.Fatal(err)
	}
	results := waitRecords(t, c, tResults, 1)
	if got := string(results[0].Value); got != "ok count=101" {
		t.Errorf("result = %q, want ok count=101 (the restore must wait for the open transaction to be decided)", got)
	}
}

// TestEngineRestoreDoesNotTakeSilenceForTheEnd: a broker that answers the
// restore's fetches with nothing for longer than RestoreQuiet (a broker
// still loading its partitions after a restart, or a machine too busy to
// answer) must not end the restore with what was read so far. The
// 1,000,000-command chaos run (docs/chaos.md) lost the state of a
// partition that way: every command on its payments was then refused.
func TestEngineRestoreDoesNotTakeSilenceForTheEnd(t *testing.T) {
	c := fakeKafka(t, 1)
	// A previous owner committed the state of k.
	prev, ctx := previousOwner(t, c, "t.prev", "count=100")
	if err := prev.EndTransaction(ctx, kgo.TryCommit); err != nil {
		t.Fatal(err)
	}

	// Every fetch of the events topic is answered empty (no record, no
	// error) for three quiet periods.
	topics, err := kadm.NewClient(prev).ListTopics(ctx, tEvents)
	if err != nil {
		t.Fatal(err)
	}
	eventsID := topics[tEvents].ID
	cfg := testConfig(c)
	cfg.RestoreQuiet = 300 * time.Millisecond
	silentUntil := time.Now().Add(3 * cfg.RestoreQuiet)
	var silenced atomic.Int64
	c.ControlKey(int16(kmsg.Fetch), func(kreq kmsg.Request) (kmsg.Response, error, bool) {
		c.KeepControl()
		req := kreq.(*kmsg.FetchRequest)
		if time.Now().After(silentUntil) {
			return nil, nil, false
		}
		for _, tp := range req.Topics {
			if tp.Topic == tEvents || tp.TopicID == eventsID {
				silenced.Add(1)
				resp := req.ResponseKind().(*kmsg.FetchResponse)
				resp.Version = req.Version
				return resp, nil, true
			}
		}
		return nil, nil, false
	})

	startEngine(t, cfg)
	produce(t, c, cmd("k", "add:1"))
	results := waitRecords(t, c, tResults, 1)
	if got := string(results[0].Value); got != "ok count=101" {
		t.Errorf("result = %q, want ok count=101 (a silent broker must not end the restore before the partition's last record)", got)
	}
	if silenced.Load() == 0 {
		t.Fatal("no fetch of the events topic was silenced: the test did not test anything")
	}
}

// TestEngineRestoreWaitsForTheMarkersOfACommittedTransaction: a previous
// owner's transaction that its coordinator reports committed, but whose
// markers have not reached the events partition after RestoreSettle (a
// coordinator that restarted writes them again later), holds state that
// counts: the restore must wait for it rather than leave it out as it does
// an open transaction of a crashed owner.
func TestEngineRestoreWaitsForTheMarkersOfACommittedTransaction(t *testing.T) {
	c := fakeKafka(t, 1)
	prev, ctx := previousOwner(t, c, "t.prev", "count=100")
	pid, _, err := prev.ProducerID(ctx)
	if err != nil {
		t.Fatal(err)
	}
	// The coordinator says PrepareCommit (kfake writes markers at once,
	// so the state is what a real coordinator reports while its markers
	// are late); the transaction really commits well after RestoreSettle.
	var asked atomic.Int64
	c.ControlKey(int16(kmsg.ListTransactions), func(kreq kmsg.Request) (kmsg.Response, error, bool) {
		c.KeepControl()
		asked.Add(1)
		resp := kreq.ResponseKind().(*kmsg.ListTransactionsResponse)
		resp.Version = kreq.GetVersion()
		st := kmsg.NewListTransactionsResponseTransactionState()
		st.TransactionalID, st.ProducerID, st.TransactionState = "t.prev", pid, "PrepareCommit"
		resp.TransactionStates = append(resp.TransactionStates, st)
		return resp, nil, true
	})
	cfg := testConfig(c)
	cfg.RestoreSettle = 300 * time.Millisecond
	startEngine(t, cfg)
	produce(t, c, cmd("k", "add:1"))
	time.Sleep(1500 * time.Millisecond)
	if err := prev.EndTransaction(ctx, kgo.TryCommit); err != nil {
		t.Fatal(err)
	}
	results := waitRecords(t, c, tResults, 1)
	if got := string(results[0].Value); got != "ok count=101" {
		t.Errorf("result = %q, want ok count=101 (a committed transaction whose markers are late must count)", got)
	}
	if asked.Load() == 0 {
		t.Fatal("the restore never asked for the transactions' state: the test did not test anything")
	}
}

// previousOwner opens a transaction of the transactional id txnID on the
// events partition holding the state value of key k, as a previous owner
// of the partition would have; the caller ends it (or not).
func previousOwner(t *testing.T, c *kfake.Cluster, txnID, value string, opts ...kgo.Opt) (*kgo.Client, context.Context) {
	t.Helper()
	cl, err := kgo.NewClient(append([]kgo.Opt{kgo.SeedBrokers(c.ListenAddrs()...), kgo.TransactionalID(txnID)}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	t.Cleanup(cancel)
	if err := cl.BeginTransaction(); err != nil {
		t.Fatal(err)
	}
	if err := cl.ProduceSync(ctx, &kgo.Record{Topic: tEvents, Key: []byte("k"), Value: []byte(value)}).FirstErr(); err != nil {
		t.Fatal(err)
	}
	return cl, ctx
}
