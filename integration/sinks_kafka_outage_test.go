package integration

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/prism-cqrs/prism/internal/testkit"
	"github.com/prism-cqrs/prism/payment/schemas"
	"github.com/prism-cqrs/prism/sinks/sinktest"
	"github.com/prism-cqrs/prism/topology"
)

// privateKafka runs scripts/services.sh for a Kafka of the test's own, on
// free ports and in a temporary folder, so the test can stop it without
// disturbing the shared broker other tests use. It needs the native path
// (a JDK and the Kafka download in PRISM_CACHE_DIR, as on CI); without it
// the test fails under CI and is skipped otherwise.
type privateKafka struct {
	env     []string
	brokers string
}

func startPrivateKafka(t *testing.T) *privateKafka {
	t.Helper()
	port, controller := freeAddr(t), freeAddr(t)
	k := &privateKafka{brokers: port}
	k.env = append(os.Environ(),
		"PRISM_SERVICES_DIR="+t.TempDir(),
		"PRISM_KAFKA_PORT="+port[strings.LastIndex(port, ":")+1:],
		"PRISM_KAFKA_CONTROLLER_PORT="+controller[strings.LastIndex(controller, ":")+1:],
		"PRISM_KAFKA_HEAP=512m",
		// No SASL_SSL listener: its port is the shared broker's.
		"PRISM_KAFKA_SASL_PORT=",
		// Never the Docker path: its `down` stops the whole compose stack.
		"PRISM_SERVICES_MODE=native",
	)
	cmd := exec.Command("bash", filepath.Join(sinkRepoRoot(), "scripts", "services.sh"), "up", "kafka")
	cmd.Env = k.env
	if out, err := cmd.CombinedOutput(); err != nil {
		testkit.Unavailable(t, "service", fmt.Sprintf("cannot start a private Kafka with scripts/services.sh (native): %v\n%s", err, out))
	}
	t.Cleanup(func() {
		cmd := exec.Command("bash", filepath.Join(sinkRepoRoot(), "scripts", "services.sh"), "down", "kafka")
		cmd.Env = k.env
		_ = cmd.Run()
	})
	return k
}

func (k *privateKafka) services(t *testing.T, verb string) {
	t.Helper()
	cmd := exec.Command("bash", filepath.Join(sinkRepoRoot(), "scripts", "services.sh"), verb, "kafka")
	cmd.Env = k.env
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("services.sh %s kafka (private, %s): %v\n%s", verb, k.brokers, err, out)
	}
}

// TestSinkReportsKafkaOutage: a sink whose broker goes away while it runs
// turns /healthz 503 naming the broker, logs it once (not once per retry),
// stays up, and once the broker is back reports healthy and writes what was
// produced meanwhile.
func TestSinkReportsKafkaOutage(t *testing.T) {
	redisURL := testkit.RedisURL(t)
	bin := testkit.PrismBinary(t)
	k := startPrivateKafka(t)
	ns := testkit.Namespace(t)
	names := topology.NewNames(ns).Aggregate("payments")
	ctx := testkit.Context(t, 4*time.Minute)
	if _, err := exec.Command(bin, "topology", "apply", "--brokers", k.brokers, "--namespace", ns, "--partitions", "1").CombinedOutput(); err != nil {
		t.Fatalf("topology apply on the private broker: %v", err)
	}
	t.Cleanup(func() {
		opts, err := redis.ParseURL(redisURL)
		if err != nil {
			return
		}
		rc := redis.NewClient(opts)
		defer rc.Close()
		cctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		iter := rc.Scan(cctx, 0, names.RedisPrefix()+"*", 1000).Iterator()
		for iter.Next(cctx) {
			rc.Del(cctx, iter.Val())
		}
	})

	httpAddr := freeAddr(t)
	sink := startPrismProc(t, bin, "sink-redis", "sink", "redis", "--namespace", ns, "--brokers", k.brokers,
		"--redis-url", redisURL, "--http", httpAddr, "--session-timeout", "6s")
	p := &sinkProc{prismProc: sink, http: httpAddr}
	waitHealth := func(what string, want int, d time.Duration) string {
		t.Helper()
		var body string
		var code int
		for end := time.Now().Add(d); time.Now().Before(end); time.Sleep(200 * time.Millisecond) {
			if code, body = getHealth(p.http); code == want {
				return body
			}
		}
		t.Fatalf("%s: /healthz %d %s, want %d", what, code, body, want)
		return ""
	}
	waitHealth("sink started", 200, 30*time.Second)

	k.services(t, "down")
	body := waitHealth("broker stopped", 503, 20*time.Second)
	if !strings.Contains(body, "kafka "+k.brokers+" unreachable") {
		t.Errorf("/healthz body %s does not name the broker %s", body, k.brokers)
	}
	time.Sleep(15 * time.Second) // several group-join retries and probes
	select {
	case <-sink.done:
		t.Fatalf("the sink exited while Kafka was down: %v", sink.err)
	default:
	}
	logs, err := os.ReadFile(sink.log)
	if err != nil {
		t.Fatal(err)
	}
	// One runner per aggregate the sink serves: each warns once.
	aggregates := len(registeredPlurals(t))
	perAggregate := map[string]int{}
	for _, l := range strings.Split(string(logs), "\n") {
		if strings.Contains(l, `level=WARN msg="Kafka unreachable"`) {
			_, rest, _ := strings.Cut(l, " aggregate=")
			agg, _, _ := strings.Cut(rest, " ")
			perAggregate[agg]++
		}
	}
	if len(perAggregate) != aggregates {
		t.Errorf("\"Kafka unreachable\" warnings from %d aggregates' runners (%v), want all %d", len(perAggregate), perAggregate, aggregates)
	}
	for agg, n := range perAggregate {
		if n != 1 {
			t.Errorf("aggregate %s: %d \"Kafka unreachable\" warnings during one outage, want 1", agg, n)
		}
	}
	if !strings.Contains(string(logs), "brokers="+k.brokers) {
		t.Errorf("the warning does not name the broker %s", k.brokers)
	}
	if n := strings.Count(string(logs), "level=WARN"); n > 3*aggregates {
		t.Errorf("%d warnings in 15 s of outage from %d runners: a flood", n, aggregates)
	}

	k.services(t, "up")
	waitHealth("broker back", 200, 60*time.Second)
	logs, _ = os.ReadFile(sink.log)
	if !strings.Contains(string(logs), `msg="Kafka reachable again"`) {
		t.Errorf("no \"Kafka reachable again\" line")
	}

	// It works again: events produced now reach Redis (the sink's offset
	// key moves to the end of the partition).
	stream := sinktest.GenerateStream(sinktest.StreamConfig{Topic: names.EventsTopic(), Partitions: 1, Payments: 20, Seed: 11})
	codec, err := schemas.NewCodec()
	if err != nil {
		t.Fatal(err)
	}
	cl, err := kgo.NewClient(kgo.SeedBrokers(k.brokers), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	var recs []*kgo.Record
	for _, ev := range stream[0] {
		rec := &kgo.Record{Topic: names.EventsTopic(), Partition: 0, Key: []byte(ev.Key)}
		if ev.Envelope != nil {
			if rec.Value, err = codec.EncodeEvent(schemas.FromRecord(ev.Envelope)); err != nil {
				t.Fatal(err)
			}
		}
		recs = append(recs, rec)
	}
	if err := cl.ProduceSync(ctx, recs...).FirstErr(); err != nil {
		t.Fatalf("produce after the outage: %v", err)
	}
	opts, err := redis.ParseURL(redisURL)
	if err != nil {
		t.Fatal(err)
	}
	rc := redis.NewClient(opts)
	defer rc.Close()
	key := names.RedisPrefix() + "sink:redis:offset:" + names.EventsTopic() + ":0"
	want := strconv.Itoa(len(recs))
	var got string
	for end := time.Now().Add(60 * time.Second); time.Now().Before(end) && got != want; time.Sleep(250 * time.Millisecond) {
		got, _ = rc.Get(ctx, key).Result()
	}
	if got != want {
		t.Fatalf("%s = %q after the outage, want %s (every event written)", key, got, want)
	}
	p.stop(t)
}
