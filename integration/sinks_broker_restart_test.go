package integration

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/prism-cqrs/prism/internal/testkit"
	"github.com/prism-cqrs/prism/payment/schemas"
	"github.com/prism-cqrs/prism/sinks/sinktest"
)

// Issue 16 for the sinks: every sink rides out broker restarts under load,
// and one whose broker stays away exits 1 after its
// --broker-unreachable-timeout, losing nothing. Like the other broker
// tests (resilience_test.go) they restart Kafka through scripts/services.sh,
// are not parallel, and refuse to run unless PRISM_KAFKA_BROKERS is the
// script's broker.

func TestAllSinksAndProcessorRideOutTwoBrokerRestarts(t *testing.T) {
	e := newSinkEnv(t, 6)
	pe := &procEnv{t: t, brokers: e.brokers, names: e.names, cl: e.cl}
	pe.kafkaServices("status") // the guard, before anything runs
	t.Cleanup(func() { sinkServicesQuiet("up", "kafka") })
	ctx := testkit.Context(t, 8*time.Minute)
	es, rs := esAndRedisStores(t, e)
	cmds, x := generateSinkCommands(16_000, 23, e.ns)
	start := time.Now()
	proc := e.startProcessor("proc-1")
	sinks := map[string]*sinkProc{
		"postgres":      e.startSink("sink-postgres", "postgres", "--instance-id", "a"),
		"readmodels":    e.startSink("sink-readmodels", "readmodels", "--instance-id", "a"),
		"redis":         e.startSink("sink-redis", "redis", "--instance-id", "a", "--redis-url", rs.url),
		"elasticsearch": e.startSink("sink-elasticsearch", "elasticsearch", "--instance-id", "a", "--elasticsearch-url", es.url),
	}
	names := []string{"postgres", "readmodels", "redis", "elasticsearch"}
	samplers := map[string]*offsetSampler{}
	for _, n := range names {
		samplers[n] = sampleGroupOffsets(t, e.brokers, e.names.SinkGroup(n))
	}

	// About 800 commands/s for 20 s; the client's sends wait while the
	// broker is down.
	produced := make(chan struct{})
	go func() {
		defer close(produced)
		for i, step := 0, 400; i < len(cmds); i += step {
			e.produceCommands(ctx, cmds[i:min(i+step, len(cmds))])
			time.Sleep(500 * time.Millisecond)
		}
	}()
	for i := range 2 {
		time.Sleep(4 * time.Second)
		pe.kafkaServices("down")
		t.Logf("restart %d: broker stopped", i+1)
		// /healthz of every sink turns 503 while the broker is away.
		unhealthy := map[string]bool{}
		for wait := time.Now(); time.Since(wait) < 4*time.Second; time.Sleep(200 * time.Millisecond) {
			for n, p := range sinks {
				if p.health() == http.StatusServiceUnavailable {
					unhealthy[n] = true
				}
			}
		}
		pe.kafkaServices("up")
		back := time.Now()
		t.Logf("restart %d: broker back", i+1)
		// Every sink's /healthz is polled together, so each one's time
		// to healthy is its own.
		healthy := map[string]time.Time{}
		for deadline := time.Now().Add(60 * time.Second); len(healthy) < len(names) && time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
			for _, n := range names {
				if _, ok := healthy[n]; !ok && sinks[n].health() == http.StatusOK {
					healthy[n] = time.Now()
				}
			}
		}
		for _, n := range names {
			written := waitFirstCommit(samplers[n], back, 60*time.Second)
			switch {
			case written.IsZero():
				t.Errorf("restart %d: sink %s wrote nothing within 60 s of the broker's return", i+1, n)
			case healthy[n].IsZero():
				t.Errorf("restart %d: sink %s not healthy within 60 s of the broker's return", i+1, n)
			default:
				t.Logf("restart %d: sink %s: first write committed %.2f s after the broker was back, /healthz 200 after %.2f s",
					i+1, n, written.Sub(back).Seconds(), healthy[n].Sub(back).Seconds())
			}
			if !unhealthy[n] {
				t.Errorf("restart %d: sink %s never answered 503 on /healthz while the broker was away", i+1, n)
			}
			sinks[n].running(t)
		}
		proc.running(t)
	}
	<-produced

	want := x.live()
	ignore := []sinktest.Field{sinktest.FieldCreatedAt, sinktest.FieldUpdatedAt}
	e.waitEqual("payments table", 4*time.Minute, func(ctx context.Context) []string { return e.checkPostgresSink(ctx, x) })
	e.waitEqual("read models", 2*time.Minute, func(ctx context.Context) []string { return e.checkReadModels(ctx, x, start) })
	waitPayments(t, "redis", 4*time.Minute, want, func() (map[string]schemas.Payment, error) { return rs.Payments(ctx) }, ignore...)
	waitPayments(t, "elasticsearch", 4*time.Minute, want, func() (map[string]schemas.Payment, error) { return es.Payments(ctx) }, ignore...)
	groups := make([]string, 0, len(names))
	for _, n := range names {
		groups = append(groups, e.names.SinkGroup(n))
	}
	e.waitZeroLag(groups...)
	pe.waitLagZero(time.Minute)
	checkEventsOnce(t, e, pe, x)
	proc.running(t)
	for _, n := range names {
		sinks[n].running(t)
	}
	for _, n := range names {
		sinks[n].stopWithin(t, 5*time.Second)
	}
	proc.stopWithin(t, 5*time.Second)
}

// waitFirstCommit returns when the sampled group's committed offset first
// moved after t on any partition (zero when it did not within d).
func waitFirstCommit(s *offsetSampler, t time.Time, d time.Duration) time.Time {
	for deadline := time.Now().Add(d); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		var first time.Time
		for p := int32(0); p < 64; p++ {
			if at := s.firstAdvance(p, t); !at.IsZero() && (first.IsZero() || at.Before(first)) {
				first = at
			}
		}
		if !first.IsZero() {
			return first
		}
	}
	return time.Time{}
}

// checkEventsOnce requires one event per accepted command on the events
// topic, none twice.
func checkEventsOnce(t *testing.T, e *sinkEnv, pe *procEnv, x sinkExpect) {
	t.Helper()
	var events int
	seen := map[string]bool{}
	for _, r := range pe.readTopic(e.names.EventsTopic(), len(x.events), time.Minute) {
		if r.Value == nil {
			continue // the tombstone after a deletion
		}
		ev, err := e.codec.DecodeEvent(r.Value)
		if err != nil {
			t.Fatalf("event at %d/%d: %v", r.Partition, r.Offset, err)
		}
		k := fmt.Sprintf("%s/%d", ev.AggregateID, ev.Version)
		if seen[k] {
			t.Errorf("event %s twice on the events topic", k)
		}
		seen[k] = true
		events++
	}
	if events != len(x.events) {
		t.Errorf("%d events on the events topic, want %d (one per accepted command)", events, len(x.events))
	}
}

func TestSinkExitsWhenTheBrokerStaysUnreachable(t *testing.T) {
	e := newSinkEnv(t, 3)
	pe := &procEnv{t: t, brokers: e.brokers, names: e.names, cl: e.cl}
	pe.kafkaServices("status")
	t.Cleanup(func() { sinkServicesQuiet("up", "kafka") })
	ctx := sinkTestContext(t)
	cmds, x := generateSinkCommands(1200, 24, e.ns)
	proc := e.startProcessor("proc-1")
	short := e.startSink("sink-postgres-short", "postgres", "--broker-unreachable-timeout", "6s")
	half := len(cmds) / 2
	e.produceCommands(ctx, cmds[:half])
	waitRows(t, e, "payments", "payments", 1, 60*time.Second)

	down := time.Now()
	pe.kafkaServices("down")
	if out := short.exitsAfterUnreachable(t, "sink", down, 6*time.Second); !strings.Contains(out, e.brokers[0]) {
		t.Errorf("the exit message does not name the broker %s:\n%s", e.brokers[0], tailFile(short.log, 5))
	}

	// Nothing is lost: a sink started while the broker is still away
	// waits for it, and with the rest of the commands the table matches.
	again := e.startSink("sink-postgres-again", "postgres")
	time.Sleep(3 * time.Second)
	again.running(t)
	if code := again.health(); code != http.StatusServiceUnavailable {
		t.Errorf("/healthz of a sink waiting for the broker: %d, want 503", code)
	}
	pe.kafkaServices("up")
	e.produceCommands(ctx, cmds[half:])
	e.waitEqual("payments table", 3*time.Minute, func(ctx context.Context) []string { return e.checkPostgresSink(ctx, x) })
	e.waitZeroLag(e.names.SinkGroup("postgres"))
	again.stopWithin(t, 5*time.Second)
	proc.stop(t)
}
