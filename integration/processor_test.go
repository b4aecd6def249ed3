package integration

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/prism-cqrs/prism/payment/schemas"
	"github.com/prism-cqrs/prism/records"
)

// The processor tests run the real `prism process` binary against the real
// broker and compare the read_committed events and results topics with
// what an independent reference model (refmodel_test.go) computes from the
// generated input commands.

func TestProcessorMatchesReferenceModel(t *testing.T) {
	env := newProcEnv(t, 12)
	cmds := generateCommands(genConfig{N: procSize(100_000, 20_000), Seed: 1, Prefix: env.ns})
	x := expectFor(cmds)
	ctx := context.Background()
	start := time.Now()
	if err := env.produce(ctx, env.encode(cmds)); err != nil {
		t.Fatal(err)
	}
	t.Logf("produced %d commands in %s", len(cmds), time.Since(start))

	addr := procFreeAddr(t)
	p := env.startProcessor("a", "--http", addr)
	start = time.Now()
	results := env.readTopic(env.names.ResultsTopic(), x.nResults, 5*time.Minute)
	t.Logf("processed %d commands in %s (results read back)", len(cmds), time.Since(start))
	events := env.readTopic(env.names.EventsTopic(), 0, time.Minute)
	env.checkOutput(x, results, events)

	// What an operator sees: healthy, and the counts of the run.
	health := procHTTPGet(t, "http://"+addr+"/healthz")
	if !strings.Contains(health, `"running":true`) || !strings.Contains(health, `"assignedPartitions":12`) {
		t.Errorf("/healthz = %s, want running with 12 partitions", health)
	}
	accepted := 0
	for _, rs := range x.results {
		for _, r := range rs {
			if r.Accepted && !r.Duplicate {
				accepted++
			}
		}
	}
	// The counters move right after the commit the last results came with.
	want := fmt.Sprintf(`prism_processor_commands_total{aggregate="payment",outcome="accepted"} %d`, accepted)
	metrics := procHTTPGet(t, "http://"+addr+"/metrics")
	for deadline := time.Now().Add(5 * time.Second); !strings.Contains(metrics, want) && time.Now().Before(deadline); {
		time.Sleep(50 * time.Millisecond)
		metrics = procHTTPGet(t, "http://"+addr+"/metrics")
	}
	for _, want := range []string{
		want,
		"prism_processor_txn_commit_seconds_count", "prism_processor_restore_seconds_count",
		`prism_processor_lag_records{aggregate="payment",partition="0"}`,
	} {
		if !strings.Contains(metrics, want) {
			t.Errorf("/metrics lacks %q", want)
		}
	}
	p.stop(t)
}

func TestProcessorKilledInstanceRestartsWithoutLossOrDuplicates(t *testing.T) {
	env := newProcEnv(t, 12)
	cmds := generateCommands(genConfig{N: procSize(30_000, 12_000), Seed: 2, Prefix: env.ns})
	x := expectFor(cmds)
	a := env.startProcessor("a")
	b := env.startProcessor("b")
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()

	// 30 slices over ~12 s; b is killed after slice 10 and restarted
	// (same instance id, so it fences its own open transaction) after
	// slice 14.
	var restarted *procInstance
	err := env.produceOver(ctx, env.encode(cmds), 30, 12*time.Second, func(i int) {
		switch i {
		case 10:
			b.kill(t)
			t.Log("SIGKILLed instance b")
		case 14:
			restarted = env.startProcessor("b")
			t.Log("restarted instance b")
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	env.checkTopics(x, 4*time.Minute)
	a.stop(t)
	restarted.stop(t)
}

func TestProcessorScalesOutAndInUnderLoad(t *testing.T) {
	env := newProcEnv(t, 12)
	cmds := generateCommands(genConfig{N: procSize(30_000, 12_000), Seed: 3, Prefix: env.ns})
	x := expectFor(cmds)
	first := env.startProcessor("a")
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()

	var b, c *procInstance
	err := env.produceOver(ctx, env.encode(cmds), 40, 16*time.Second, func(i int) {
		switch i {
		case 8:
			b, c = env.startProcessor("b"), env.startProcessor("c")
			t.Log("scaled out to 3 instances")
		case 28:
			b.stop(t)
			c.stop(t)
			t.Log("scaled back in to 1 instance")
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	env.checkTopics(x, 4*time.Minute)
	first.stop(t)
}

func TestProcessorDeduplicatesCommandsProducedTwice(t *testing.T) {
	env := newProcEnv(t, 12)
	cmds := generateCommands(genConfig{N: procSize(10_000, 5_000), Seed: 4, Prefix: env.ns, NoDeletes: true})
	once := expectFor(cmds)
	p := env.startProcessor("a")
	ctx := context.Background()
	recs := env.encode(cmds)
	if err := env.produce(ctx, recs); err != nil {
		t.Fatal(err)
	}
	env.readTopic(env.names.ResultsTopic(), once.nResults, 3*time.Minute)
	eventsBefore := env.readTopic(env.names.EventsTopic(), once.nEvents, time.Minute)

	// The same records again, with a restart in between, so the dedup
	// memory is the one restored from the events topic.
	p.stop(t)
	p = env.startProcessor("a")
	if err := env.produce(ctx, recs); err != nil {
		t.Fatal(err)
	}
	twice := expectFor(append(append([]*schemas.CommandEnvelope(nil), cmds...), cmds...))
	if twice.nEvents != once.nEvents {
		t.Fatalf("reference model: the replay emits %d events (generator bug: replays must be deduplicated)", twice.nEvents-once.nEvents)
	}
	results := env.readTopic(env.names.ResultsTopic(), twice.nResults, 3*time.Minute)
	events := env.readTopic(env.names.EventsTopic(), 0, time.Minute)
	if len(events) != len(eventsBefore) {
		t.Errorf("the replay added %d events, want none", len(events)-len(eventsBefore))
	}
	env.checkOutput(twice, results, events)
	p.stop(t)
}

func TestProcessorSendsUndecodableCommandsToDLQ(t *testing.T) {
	env := newProcEnv(t, 3)
	cmds := generateCommands(genConfig{N: 300, Seed: 5, Prefix: env.ns})
	x := expectFor(cmds)
	good := env.encode(cmds)

	valid := good[0].Value
	unknownFP := append([]byte{0xC3, 0x01, 1, 2, 3, 4, 5, 6, 7, 8}, valid[10:]...)
	mismatch := *good[0]
	mismatch.Key = []byte("not-" + string(good[0].Key))
	hdrs := []kgo.RecordHeader{{Key: "origin", Value: []byte("test")}, {Key: records.HeaderType, Value: []byte("CreatePayment")}}
	topic := env.names.CommandsTopic()
	bad := []struct {
		rec   *kgo.Record
		class string
	}{
		{&kgo.Record{Topic: topic, Key: good[1].Key, Value: []byte("\x00\xffgarbage\x01"), Headers: hdrs}, records.ClassBadMagic},
		{&kgo.Record{Topic: topic, Key: good[2].Key, Value: valid[:len(valid)/2], Headers: hdrs}, records.ClassTruncated},
		{&kgo.Record{Topic: topic, Key: good[3].Key, Value: unknownFP, Headers: hdrs}, records.ClassUnknownFingerprint},
		{&mismatch, "key-mismatch"},
	}
	var in []*kgo.Record
	for _, b := range bad {
		in = append(in, b.rec)
	}
	in = append(in, good...)
	ctx := context.Background()
	// Produced as they are, so each keeps its partition and offset.
	if err := env.cl.ProduceSync(ctx, in[:len(bad)]...).FirstErr(); err != nil {
		t.Fatal(err)
	}
	if err := env.produce(ctx, in[len(bad):]); err != nil {
		t.Fatal(err)
	}
	p := env.startProcessor("a")

	env.checkTopics(x, 2*time.Minute)

	dlq := env.readTopic(env.names.CommandsDLQTopic(), len(bad), time.Minute)
	if len(dlq) != len(bad) {
		t.Fatalf("%d DLQ records, want %d", len(dlq), len(bad))
	}
	byClass := map[string]*kgo.Record{}
	for _, d := range dlq {
		class, _ := procHeader(d, records.HeaderDLQClass)
		byClass[class] = d
	}
	for _, b := range bad {
		d := byClass[b.class]
		if d == nil {
			t.Errorf("no DLQ record of class %s (got %v)", b.class, procKeys(byClass))
			continue
		}
		if string(d.Key) != string(b.rec.Key) || string(d.Value) != string(b.rec.Value) {
			t.Errorf("DLQ %s: key/value %q/%x, want the original %q/%x", b.class, d.Key, d.Value, b.rec.Key, b.rec.Value)
		}
		for _, h := range b.rec.Headers {
			if v, ok := procHeader(d, h.Key); !ok || v != string(h.Value) {
				t.Errorf("DLQ %s lost the original header %s", b.class, h.Key)
			}
		}
		for k, want := range map[string]string{
			records.HeaderDLQStage: "decode",
			records.HeaderDLQTopic: topic,
		} {
			if v, _ := procHeader(d, k); v != want {
				t.Errorf("DLQ %s header %s = %q, want %q", b.class, k, v, want)
			}
		}
		if v, _ := procHeader(d, records.HeaderDLQMessage); v == "" {
			t.Errorf("DLQ %s has no error message", b.class)
		}
		part, _ := procHeader(d, records.HeaderDLQPartition)
		off, _ := procHeader(d, records.HeaderDLQOffset)
		if part != strconv.Itoa(int(b.rec.Partition)) || off != strconv.FormatInt(b.rec.Offset, 10) {
			t.Errorf("DLQ %s source %s/%s, want %d/%d", b.class, part, off, b.rec.Partition, b.rec.Offset)
		}
	}
	p.stop(t)
}

// procFreeAddr returns a free 127.0.0.1 address for a process's HTTP server.
func procFreeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

func procHTTPGet(t *testing.T, url string) string {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	return string(b)
}

func procHeader(r *kgo.Record, key string) (string, bool) {
	for _, h := range r.Headers {
		if h.Key == key {
			return string(h.Value), true
		}
	}
	return "", false
}

func procKeys[V any](m map[string]V) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}
