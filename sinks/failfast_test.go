package sinks_test

// A sink that cannot do its job says so: missing topics and a target that
// refuses the configuration fail Run at start; a Kafka outage while running
// turns /healthz 503 with a few log lines, and the sink recovers by itself.

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/prism-cqrs/prism/internal/testkit"
	"github.com/prism-cqrs/prism/payment/schemas"
	"github.com/prism-cqrs/prism/sinks"
	"github.com/prism-cqrs/prism/sinks/sinktest"
	"github.com/prism-cqrs/prism/topology"
)

// runWithin runs r until it returns or d passes.
func runWithin(t *testing.T, r *sinks.Runner, d time.Duration) error {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- r.Run(ctx) }()
	select {
	case err := <-done:
		return err
	case <-time.After(d):
		cancel()
		<-done
		t.Fatalf("Run still running after %s", d)
		return nil
	}
}

func TestRunnerFailsWhenItsTopicsAreMissing(t *testing.T) {
	c, err := kfake.NewCluster(kfake.NumBrokers(1)) // no topics
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	f := &fixture{cluster: c, opts: []kgo.Opt{kgo.SeedBrokers(c.ListenAddrs()...)}}
	tg := newRecTarget()
	err = runWithin(t, f.runner(t, tg), 10*time.Second)
	if !errors.Is(err, topology.ErrTopicMissing) {
		t.Fatalf("Run = %v, want ErrTopicMissing", err)
	}
	for _, want := range []string{topic, dlqTopic, "prism topology apply"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not name %q", err, want)
		}
	}
	if _, w := tg.snapshot(); w != 0 {
		t.Errorf("%d writes without topics", w)
	}
}

func TestRunnerFailsWhenNoBrokerAnswers(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close() // refused from now on
	f := &fixture{opts: []kgo.Opt{kgo.SeedBrokers(addr)}}
	err = runWithin(t, f.runner(t, newRecTarget()), 20*time.Second)
	if err == nil || !strings.Contains(err.Error(), addr) {
		t.Fatalf("Run = %v, want an error naming %s", err, addr)
	}
}

// setupTarget is a recTarget whose Setup fails with setupErr.
type setupTarget struct {
	*recTarget
	setupErr error
	setups   int
}

func (s *setupTarget) Setup(context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.setups++
	return s.setupErr
}

func TestRunnerFailsAtOnceWhenTheTargetRefusesTheConfiguration(t *testing.T) {
	f := newFixture(t, 1)
	tg := &setupTarget{recTarget: newRecTarget(),
		setupErr: fmt.Errorf("%w: password authentication failed for user \"u\"", sinks.ErrPermanent)}
	start := time.Now()
	err := runWithin(t, f.runner(t, tg), 10*time.Second)
	if !errors.Is(err, sinks.ErrPermanent) || !strings.Contains(err.Error(), "password authentication failed") {
		t.Fatalf("Run = %v, want the permanent setup error", err)
	}
	if tg.setups != 1 {
		t.Errorf("Setup called %d times, want 1 (no retry of a permanent error)", tg.setups)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("took %s", d)
	}
}

func TestRunnerRetriesATransientSetupError(t *testing.T) {
	f := newFixture(t, 1)
	tg := &setupTarget{recTarget: newRecTarget(), setupErr: fmt.Errorf("%w: connection refused", sinks.ErrTransient)}
	r := f.runner(t, tg)
	stop := start(t, r)
	waitFor(t, "several setup attempts", func() bool { tg.mu.Lock(); defer tg.mu.Unlock(); return tg.setups >= 3 })
	if h := r.Health(); h.Healthy || !strings.Contains(h.LastError, "connection refused") {
		t.Fatalf("Health during setup retries: %+v", h)
	}
	tg.mu.Lock()
	tg.setupErr = nil
	tg.mu.Unlock()
	waitFor(t, "healthy once set up", func() bool { return r.Health().Healthy })
	if err := stop(); err != nil {
		t.Fatal(err)
	}
}

// permanentWriteTarget fails its first Write with an ErrPermanent error,
// like a password changed under a running sink.
type permanentWriteTarget struct {
	*recTarget
	failed bool
}

func (p *permanentWriteTarget) Write(ctx context.Context, tp string, batch []sinks.Event) ([]sinks.Rejected, error) {
	p.mu.Lock()
	if !p.failed {
		p.failed = true
		p.writes++
		p.mu.Unlock()
		return nil, fmt.Errorf("%w: password authentication failed", sinks.ErrPermanent)
	}
	p.mu.Unlock()
	return p.recTarget.Write(ctx, tp, batch)
}

func TestRunnerRetriesAPermanentWriteErrorAfterBackoffMax(t *testing.T) {
	f := newFixture(t, 1)
	f.produce(t, sinktest.GenerateStream(sinktest.StreamConfig{Topic: topic, Partitions: 1, Payments: 5, Seed: 9}))
	tg := &permanentWriteTarget{recTarget: newRecTarget()}
	var logs testkit.LogBuffer
	r, err := sinks.NewRunner(sinks.RunnerConfig{
		KafkaOpts: f.opts, EventsTopic: topic, EventsDLQTopic: dlqTopic, Group: group, Target: tg, Codec: f.codec.Events(),
		BatchMaxWait: 20 * time.Millisecond, BackoffMin: time.Millisecond, BackoffMax: 500 * time.Millisecond,
		Logger: slog.New(slog.NewTextHandler(&logs, nil)),
	})
	if err != nil {
		t.Fatal(err)
	}
	stop := start(t, r)
	waitFor(t, "the failed write", func() bool { _, w := tg.snapshot(); return w >= 1 })
	failedAt := time.Now()
	waitFor(t, "every record applied", func() bool { a, _ := tg.snapshot(); return len(a) == len(f.produced) })
	if d := time.Since(failedAt); d < 400*time.Millisecond {
		t.Errorf("permanent error retried after %s, want about BackoffMax (500ms)", d)
	}
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(logs.String(), `level=ERROR msg="target refuses the configuration; retrying until it is fixed"`) {
		t.Errorf("no error line for the permanent failure:\n%s", logs.String())
	}
}

func TestRunnerReportsKafkaUnreachableAndRecovers(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	cluster := func() *kfake.Cluster {
		c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.Ports(port), kfake.SeedTopics(1, topic, dlqTopic))
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	c := cluster()
	addr := c.ListenAddrs()[0]
	tg := newRecTarget()
	var logs testkit.LogBuffer
	r, err := sinks.NewRunner(sinks.RunnerConfig{
		// A logger for franz-go's own lines, as cmd/prism gives: the runner
		// keeps them at debug (they repeat on every failed dial).
		KafkaOpts:   []kgo.Opt{kgo.SeedBrokers(addr), kgo.WithLogger(kgo.BasicLogger(&logs, kgo.LogLevelWarn, func() string { return "level=WARN franz-go " }))},
		EventsTopic: topic, EventsDLQTopic: dlqTopic, Group: group, Target: tg, Codec: mustCodec(t).Events(),
		BatchMaxWait: 20 * time.Millisecond, ProbeInterval: 20 * time.Millisecond,
		Logger: slog.New(slog.NewTextHandler(&logs, nil)),
	})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(r.HealthHandler())
	defer srv.Close()
	stop := start(t, r)
	waitFor(t, "partitions assigned", func() bool { return strings.Contains(logs.String(), "partitions assigned") })
	if code := get(t, srv.URL); code != http.StatusOK {
		t.Fatalf("/healthz with Kafka up: %d, want 200", code)
	}

	c.Close()
	waitFor(t, "unhealthy while Kafka is down", func() bool { return !r.Health().Healthy })
	if code := get(t, srv.URL); code != http.StatusServiceUnavailable {
		t.Fatalf("/healthz with Kafka down: %d, want 503", code)
	}
	if h := r.Health(); !strings.Contains(h.LastError, "kafka "+addr+" unreachable") {
		t.Errorf("lastError %q does not name the broker", h.LastError)
	}
	time.Sleep(500 * time.Millisecond) // about 25 failed probes
	if n := strings.Count(logs.String(), `msg="Kafka unreachable"`); n != 1 {
		t.Errorf("%d \"Kafka unreachable\" lines for one outage, want 1:\n%s", n, logs.String())
	}
	if n := strings.Count(logs.String(), `level=WARN msg="fetch error"`); n > 1 {
		t.Errorf("%d fetch error warnings for one outage, want at most 1:\n%s", n, logs.String())
	}
	if strings.Contains(logs.String(), "franz-go") {
		t.Errorf("franz-go's own warnings reach the log:\n%s", logs.String())
	}
	if !strings.Contains(logs.String(), "brokers="+addr) {
		t.Errorf("the warning does not name the broker:\n%s", logs.String())
	}

	c = cluster()
	defer c.Close()
	waitFor(t, "healthy once Kafka is back", func() bool { return r.Health().Healthy })
	if !strings.Contains(logs.String(), `msg="Kafka reachable again"`) {
		t.Errorf("no recovery line:\n%s", logs.String())
	}
	if err := stop(); err != nil {
		t.Fatal(err)
	}
}

func mustCodec(t *testing.T) *schemas.Codec {
	t.Helper()
	c, err := schemas.NewCodec()
	if err != nil {
		t.Fatal(err)
	}
	return c
}
