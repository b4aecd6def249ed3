package integration

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// Tests of issue 8 (an instance killed and restarted under load) and issue
// 16 (the broker restarted under load). The broker tests restart Kafka
// through scripts/services.sh: they are not parallel, and they refuse to
// run when PRISM_KAFKA_BROKERS is not the broker the script manages
// (PRISM_KAFKA_PORT), so they never restart a broker they do not use.

// offsetSampler polls the processor group's committed offsets, so a test
// can tell when each commands partition was last processed.
type offsetSampler struct {
	mu      sync.Mutex
	samples map[int32][]offsetSample
	stop    func()
}

type offsetSample struct {
	at     time.Time
	offset int64
}

func (e *procEnv) sampleOffsets() *offsetSampler {
	e.t.Helper()
	return sampleGroupOffsets(e.t, e.brokers, e.names.ProcessorGroup())
}

func sampleGroupOffsets(t *testing.T, brokers []string, group string) *offsetSampler {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...))
	if err != nil {
		t.Fatal(err)
	}
	adm := kadm.NewClient(cl)
	ctx, cancel := context.WithCancel(context.Background())
	s := &offsetSampler{samples: map[int32][]offsetSample{}}
	done := make(chan struct{})
	go func() {
		defer close(done)
		for ctx.Err() == nil {
			rctx, rcancel := context.WithTimeout(ctx, time.Second)
			os, err := adm.FetchOffsets(rctx, group)
			rcancel()
			now := time.Now()
			if err == nil {
				s.mu.Lock()
				os.Each(func(o kadm.OffsetResponse) {
					ss := s.samples[o.Partition]
					if o.Err == nil && (len(ss) == 0 || ss[len(ss)-1].offset != o.At) {
						s.samples[o.Partition] = append(ss, offsetSample{now, o.At})
					}
				})
				s.mu.Unlock()
			}
			select {
			case <-ctx.Done():
			case <-time.After(100 * time.Millisecond):
			}
		}
	}()
	s.stop = func() { cancel(); <-done; cl.Close() }
	t.Cleanup(s.stop)
	return s
}

// advanced returns the partitions whose committed offset moved within
// (from, to].
func (s *offsetSampler) advanced(from, to time.Time) []int32 {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []int32
	for p, ss := range s.samples {
		for _, x := range ss[1:] {
			if x.at.After(from) && !x.at.After(to) {
				out = append(out, p)
				break
			}
		}
	}
	slices.Sort(out)
	return out
}

// firstAdvance returns when partition p's committed offset first moved
// after t (zero when it did not).
func (s *offsetSampler) firstAdvance(p int32, t time.Time) time.Time {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, x := range s.samples[p] {
		if x.at.After(t) {
			return x.at
		}
	}
	return time.Time{}
}

// resumedAfter splits partitions 0 to n-1 into those whose committed offset
// moved within (from, restart] and the others (stalled: the dead
// instance's), and returns how long after restart the slowest stalled one
// first moved. A stalled partition that never moved again fails the test
// ("partition P was not <verb> after b's restart").
func (s *offsetSampler) resumedAfter(t *testing.T, n int32, from, restart time.Time, verb string) (during, stalled []int32, worst time.Duration) {
	t.Helper()
	during = s.advanced(from, restart)
	for p := int32(0); p < n; p++ {
		if !slices.Contains(during, p) {
			stalled = append(stalled, p)
		}
	}
	for _, p := range stalled {
		at := s.firstAdvance(p, restart)
		if at.IsZero() {
			t.Errorf("partition %d was not %s after b's restart", p, verb)
			continue
		}
		worst = max(worst, at.Sub(restart))
	}
	return during, stalled, worst
}

// stopWithin sends SIGTERM and requires exit 0 within d.
func (p *prismProc) stopWithin(t *testing.T, d time.Duration) time.Duration {
	t.Helper()
	start := time.Now()
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatalf("SIGTERM %s: %v", p.name, err)
	}
	select {
	case <-p.done:
		took := time.Since(start)
		if p.err != nil {
			t.Errorf("%s after SIGTERM: %v, want exit 0", p.name, p.err)
		}
		t.Logf("%s exited %.2f s after SIGTERM", p.name, took.Seconds())
		return took
	case <-time.After(d):
		_ = p.cmd.Process.Kill()
		t.Errorf("%s did not exit within %s of SIGTERM", p.name, d)
		return d
	}
}

// running fails the test when p has exited.
func (p *prismProc) running(t *testing.T) {
	t.Helper()
	select {
	case <-p.done:
		t.Errorf("%s exited (%v), want it running\n%s", p.name, p.err, tailFile(p.log, 30))
	default:
	}
}

// groupLag is the processor group's lag summed over the commands topic.
func (e *procEnv) groupLag(ctx context.Context) (int64, error) {
	adm := kadm.NewClient(e.cl)
	lags, err := adm.Lag(ctx, e.names.ProcessorGroup())
	if err != nil {
		return 0, err
	}
	var total int64
	for _, l := range lags {
		if err := l.Error(); err != nil {
			return 0, err
		}
		total += l.Lag.Total()
	}
	return total, nil
}

// waitLagZero waits until the processor group has no lag left.
func (e *procEnv) waitLagZero(timeout time.Duration) {
	e.t.Helper()
	deadline := time.Now().Add(timeout)
	var last int64 = -1
	for time.Now().Before(deadline) {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		l, err := e.groupLag(ctx)
		cancel()
		if err == nil && l == 0 {
			return
		}
		last = l
		time.Sleep(250 * time.Millisecond)
	}
	e.t.Errorf("processor group lag %d after %s, want 0", last, timeout)
}

func TestProcessorKilledUnderLoadRejoinsWithoutStallingTheSurvivor(t *testing.T) {
	env := newProcEnv(t, 12)
	cmds := generateCommands(genConfig{N: procSize(30_000, 12_000), Seed: 16, Prefix: env.ns})
	x := expectFor(cmds)
	// A session timeout longer than the test's restart gap: the killed
	// member's partitions wait for its restart, not for the session.
	a := env.startProcessor("a", "--session-timeout", "45s")
	b := env.startProcessor("b", "--session-timeout", "45s")
	samples := env.sampleOffsets()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()

	var killed, restartedAt time.Time
	var restarted *procInstance
	err := env.produceOver(ctx, env.encode(cmds), 40, 16*time.Second, func(i int) {
		switch i {
		case 10:
			b.kill(t)
			killed = time.Now()
			t.Log("SIGKILLed instance b")
		case 18:
			restarted = env.startProcessor("b", "--session-timeout", "45s")
			restartedAt = time.Now()
			t.Log("restarted instance b")
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	env.checkTopics(x, 4*time.Minute)
	env.waitLagZero(time.Minute)

	a.running(t)
	// The survivor processed its partitions while b was dead; b's
	// partitions (the ones nobody processed then) were processed again
	// soon after b's restart.
	during, stalled, worst := samples.resumedAfter(t, 12, killed.Add(time.Second), restartedAt, "processed")
	if len(during) == 0 {
		t.Errorf("no partition was processed between the kill and the restart: the survivor stalled")
	}
	t.Logf("processed while b was dead: partitions %v; b's partitions %v processed again %.2f s after its restart", during, stalled, worst.Seconds())
	if worst > 10*time.Second {
		t.Errorf("b's partitions were processed again %.1f s after its restart, want at most 10 s", worst.Seconds())
	}
	a.stopWithin(t, 5*time.Second)
	restarted.stopWithin(t, 5*time.Second)
}

// kafkaServices runs scripts/services.sh for the broker this test uses; it
// fails the test (before touching anything) when PRISM_KAFKA_BROKERS is
// not the broker of PRISM_KAFKA_PORT (default 9092).
func (e *procEnv) kafkaServices(args ...string) {
	e.t.Helper()
	port := os.Getenv("PRISM_KAFKA_PORT")
	if port == "" {
		port = "9092"
	}
	if len(e.brokers) != 1 || !strings.HasSuffix(e.brokers[0], ":"+port) {
		e.t.Fatalf("the test restarts the broker of scripts/services.sh (port %s) but uses %v: set PRISM_KAFKA_PORT to the port of PRISM_KAFKA_BROKERS", port, e.brokers)
	}
	sinkServices(e.t, append(args, "kafka")...)
}

// health reads /healthz of an instance started with --http addr.
func procHealth(addr string) (lastCommit time.Time, reason string, ok bool) {
	u := url.URL{Scheme: "http", Host: addr, Path: "/healthz"}
	body, err := httpGetBody(u.String())
	if err != nil {
		return time.Time{}, "", false
	}
	var h struct {
		LastCommit time.Time `json:"lastCommit"`
		Reason     string    `json:"reason"`
	}
	if json.Unmarshal(body, &h) != nil {
		return time.Time{}, "", false
	}
	return h.LastCommit, h.Reason, true
}

func TestProcessorRidesOutBrokerRestarts(t *testing.T) {
	env := newProcEnv(t, 6)
	t.Cleanup(func() { sinkServicesQuiet("up", "kafka") })
	cmds := generateCommands(genConfig{N: procSize(24_000, 16_000), Seed: 17, Prefix: env.ns})
	x := expectFor(cmds)
	addr := procFreeAddr(t)
	p := env.startProcessor("a", "--http", addr, "--broker-unreachable-timeout", "2m")
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()

	// The producer keeps sending (about 800 commands/s) while the broker
	// is down: its sends wait and go on when the broker is back.
	produced := make(chan error, 1)
	go func() { produced <- env.produceOver(ctx, env.encode(cmds), 100, 20*time.Second, nil) }()

	// /healthz is watched throughout: while the broker is away it must say
	// why the processor does not process.
	var reasons sync.Map
	watchCtx, stopWatch := context.WithCancel(ctx)
	defer stopWatch()
	go func() {
		for watchCtx.Err() == nil {
			if _, reason, ok := procHealth(addr); ok && reason != "" {
				reasons.Store(reason, true)
			}
			time.Sleep(100 * time.Millisecond)
		}
	}()
	for i := range 2 {
		time.Sleep(4 * time.Second)
		if i == 1 {
			// Stop the broker while the processor's transaction is
			// open on the broker: freeze the processor inside one,
			// stop the broker, let the processor go on.
			env.freezeInOpenTransaction(p, env.names.ProcessorTransactionalID()+"-a")
			env.kafkaServices("down")
			if err := p.cmd.Process.Signal(syscall.SIGCONT); err != nil {
				t.Fatal(err)
			}
		} else {
			env.kafkaServices("down")
		}
		t.Logf("restart %d: broker stopped", i+1)
		time.Sleep(3 * time.Second)
		env.kafkaServices("up")
		back := time.Now()
		var took time.Duration
		for {
			lc, reason, ok := procHealth(addr)
			if ok && lc.After(back) {
				took = lc.Sub(back)
				break
			}
			if time.Since(back) > 60*time.Second {
				t.Fatalf("restart %d: no commit within 60 s of the broker's return (health reason %q)", i+1, reason)
			}
			time.Sleep(50 * time.Millisecond)
		}
		t.Logf("restart %d: broker back, first commit %.2f s later", i+1, took.Seconds())
		if took > 10*time.Second {
			t.Errorf("restart %d: processing resumed %.1f s after the broker was back, want at most 10 s", i+1, took.Seconds())
		}
		p.running(t)
	}
	if err := <-produced; err != nil {
		t.Fatal(err)
	}
	stopWatch()
	var seen []string
	reasons.Range(func(k, _ any) bool { seen = append(seen, k.(string)); return true })
	if len(seen) == 0 {
		t.Errorf("/healthz never gave a reason while the broker was away")
	}
	for i, r := range seen[:min(3, len(seen))] {
		t.Logf("/healthz reason %d: %.160s", i+1, r)
	}
	if _, reason, ok := procHealth(addr); !ok || reason != "" {
		t.Errorf("/healthz after the broker came back: reason %q (answered %v), want none", reason, ok)
	}
	env.checkTopics(x, 4*time.Minute)
	env.waitLagZero(time.Minute)
	p.running(t)
	for _, l := range strings.Split(readFile(p.log), "\n") {
		if strings.Contains(l, "Kafka session broken") || strings.Contains(l, "aborted") || strings.Contains(l, "produce failed") {
			t.Logf("processor: %s", l)
		}
	}
	p.stopWithin(t, 5*time.Second)
}

func TestProcessorExitsWhenTheBrokerStaysUnreachable(t *testing.T) {
	env := newProcEnv(t, 3)
	t.Cleanup(func() { sinkServicesQuiet("up", "kafka") })
	cmds := generateCommands(genConfig{N: 300, Seed: 18, Prefix: env.ns})
	x := expectFor(cmds)
	short := env.startProcessor("short", "--broker-unreachable-timeout", "8s")
	patient := env.startProcessor("patient", "--broker-unreachable-timeout", "0")
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := env.produce(ctx, env.encode(cmds)); err != nil {
		t.Fatal(err)
	}
	env.readTopic(env.names.ResultsTopic(), x.nResults, time.Minute)

	down := time.Now()
	env.kafkaServices("down")
	// SIGTERM while the broker is gone ends an instance as fast as ever.
	time.Sleep(3 * time.Second)
	patient.stopWithin(t, 5*time.Second)
	// So does SIGTERM of an instance started while the broker is gone
	// (waiting for the broker to join the group).
	late := env.startProcessor("late")
	time.Sleep(2 * time.Second)
	late.stopWithin(t, 5*time.Second)

	short.exitsAfterUnreachable(t, "processor", down, 8*time.Second)
	env.kafkaServices("up")
}

// exitsAfterUnreachable waits (at most a minute) for p to exit after the
// broker went away at down, and checks it exited 1, no sooner than its
// unreachable timeout, with a message saying how long no broker answered.
// It returns p's log.
func (p *prismProc) exitsAfterUnreachable(t *testing.T, what string, down time.Time, timeout time.Duration) string {
	t.Helper()
	select {
	case <-p.done:
	case <-time.After(time.Minute):
		t.Fatalf("the %s still runs %s after the broker went away, want exit after its %s unreachable timeout", what, time.Since(down), timeout)
	}
	took := time.Since(down)
	code := -1
	if p.cmd.ProcessState != nil {
		code = p.cmd.ProcessState.ExitCode()
	}
	t.Logf("%s exited %d, %.1f s after the broker went away", what, code, took.Seconds())
	if code != 1 {
		t.Errorf("exit code %d, want 1", code)
	}
	if took < timeout {
		t.Errorf("exited %.1f s after the broker went away, before its %s timeout", took.Seconds(), timeout)
	}
	out := readFile(p.log)
	for _, want := range []string{"no Kafka broker answered for", "broker unreachable timeout " + timeout.String()} {
		if !strings.Contains(out, want) {
			t.Errorf("the exit message lacks %q (how long the broker was unreachable):\n%s", want, tailFile(p.log, 5))
		}
	}
	return out
}

func httpGetBody(u string) ([]byte, error) {
	c := http.Client{Timeout: 2 * time.Second}
	resp, err := c.Get(u)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	return io.ReadAll(resp.Body)
}

// freezeInOpenTransaction stops p (SIGSTOP) at a moment when the broker
// says its transaction txnID is ongoing; the caller sends SIGCONT.
func (e *procEnv) freezeInOpenTransaction(p *procInstance, txnID string) {
	e.t.Helper()
	adm := kadm.NewClient(e.cl)
	for try := 0; try < 200; try++ {
		if err := p.cmd.Process.Signal(syscall.SIGSTOP); err != nil {
			e.t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		d, err := adm.DescribeTransactions(ctx, txnID)
		cancel()
		if err == nil && d[txnID].Err == nil && d[txnID].State == "Ongoing" {
			e.t.Logf("froze %s with its transaction open (try %d)", p.name, try+1)
			return
		}
		if err := p.cmd.Process.Signal(syscall.SIGCONT); err != nil {
			e.t.Fatal(err)
		}
		time.Sleep(time.Duration(7+try%13) * time.Millisecond)
	}
	e.t.Fatalf("%s never had its transaction open", p.name)
}

func readFile(path string) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return err.Error()
	}
	return string(b)
}

func TestSinkKilledUnderLoadGetsItsPartitionsBackOnRestart(t *testing.T) {
	e := newSinkEnv(t, 6)
	cmds, x := generateSinkCommands(6000, 21, e.ns)
	ctx := sinkTestContext(t)
	proc := e.startProcessor("proc-1")
	args := []string{"--session-timeout", "45s"}
	a := e.startSink("sink-postgres-a", "postgres", append(args, "--instance-id", "a")...)
	b := e.startSink("sink-postgres-b", "postgres", append(args, "--instance-id", "b")...)
	samples := sampleGroupOffsets(t, e.brokers, e.names.SinkGroup("postgres"))

	third := len(cmds) / 3
	e.produceCommands(ctx, cmds[:third])
	waitRows(t, e, "payments", "payments", 1, 60*time.Second)
	time.Sleep(2 * time.Second)
	b.kill(t)
	killed := time.Now()
	t.Log("SIGKILLed sink b")
	// Commands keep coming while b is dead (over about 4 s).
	for i, step := third, third/10; i < 2*third; i += step {
		e.produceCommands(ctx, cmds[i:min(i+step, 2*third)])
		time.Sleep(400 * time.Millisecond)
	}
	b2 := e.startSink("sink-postgres-b", "postgres", append(args, "--instance-id", "b")...)
	restarted := time.Now()
	t.Log("restarted sink b with the same instance id")
	e.produceCommands(ctx, cmds[2*third:])

	e.waitEqual("payments table", 3*time.Minute, func(ctx context.Context) []string { return e.checkPostgresSink(ctx, x) })
	e.waitZeroLag(e.names.SinkGroup("postgres"))
	a.running(t)
	during, stalled, worst := samples.resumedAfter(t, 6, killed.Add(time.Second), restarted, "written")
	t.Logf("written while b was dead: partitions %v; b's partitions %v written again %.2f s after its restart", during, stalled, worst.Seconds())
	if len(during) == 0 {
		t.Errorf("no partition was written between the kill and the restart: the surviving sink stalled")
	}
	if worst > 10*time.Second {
		t.Errorf("b's partitions were written again %.1f s after its restart, want at most 10 s", worst.Seconds())
	}
	a.stopWithin(t, 5*time.Second)
	b2.stopWithin(t, 5*time.Second)
	proc.stop(t)
}

func TestSinkAndProcessorRideOutBrokerRestart(t *testing.T) {
	e := newSinkEnv(t, 6)
	pe := &procEnv{t: t, brokers: e.brokers, names: e.names}
	t.Cleanup(func() { sinkServicesQuiet("up", "kafka") })
	cmds, x := generateSinkCommands(12_000, 22, e.ns)
	ctx := sinkTestContext(t)
	proc := e.startProcessor("proc-1")
	sink := e.startSink("sink-postgres", "postgres", "--instance-id", "a")

	// About 800 commands/s for 15 s; the client's sends wait while the
	// broker is down.
	produced := make(chan struct{})
	go func() {
		defer close(produced)
		for i, step := 0, 400; i < len(cmds); i += step {
			e.produceCommands(ctx, cmds[i:min(i+step, len(cmds))])
			time.Sleep(500 * time.Millisecond)
		}
	}()
	time.Sleep(4 * time.Second)
	pe.kafkaServices("down")
	t.Log("broker stopped")
	time.Sleep(3 * time.Second)
	pe.kafkaServices("up")
	t.Log("broker back")
	<-produced

	e.waitEqual("payments table", 3*time.Minute, func(ctx context.Context) []string { return e.checkPostgresSink(ctx, x) })
	e.waitZeroLag(e.names.SinkGroup("postgres"))
	checkEventsOnce(t, e, pe, x)
	proc.running(t)
	sink.running(t)
	sink.stopWithin(t, 5*time.Second)
	proc.stopWithin(t, 5*time.Second)
}

func TestProduceWaitRidesOutBrokerRestart(t *testing.T) {
	env := newProcEnv(t, 6)
	t.Cleanup(func() { sinkServicesQuiet("up", "kafka") })
	proc := env.startProcessor("a")
	const n = 8000
	prod := startPrismProc(t, env.bin, "produce", "--namespace", env.ns, "--brokers", strings.Join(env.brokers, ","),
		"produce", "--generate", fmt.Sprint(n), "--seed", "23", "--id-prefix", env.ns, "--rate", "800",
		"--wait", "--wait-timeout", "2m", "--progress", "none")
	time.Sleep(3 * time.Second)
	env.kafkaServices("down")
	t.Log("broker stopped")
	time.Sleep(3 * time.Second)
	env.kafkaServices("up")
	t.Log("broker back")
	select {
	case <-prod.done:
	case <-time.After(3 * time.Minute):
		t.Fatal("prism produce --wait still runs 3 min after the broker came back")
	}
	out := readFile(prod.log)
	if prod.err != nil {
		t.Fatalf("prism produce --wait: %v\n%s", prod.err, tailFile(prod.log, 5))
	}
	if got := strings.Count(out, `"commandId"`); got != n {
		t.Errorf("%d results printed, want %d", got, n)
	}
	if !strings.Contains(out, fmt.Sprintf("summary: produced=%d skipped=0 failed=0", n)) || !strings.Contains(out, "unanswered=0") {
		t.Errorf("summary: %s", tailFile(prod.log, 1))
	}
	proc.running(t)
	proc.stopWithin(t, 5*time.Second)
}

// A new member's join waits for every member the group knows, a dead one
// included, until its session expires: SIGTERM in that wait must still end
// the instance within 5 s, for the processor and for a sink.
func TestStopWithin5sWhileWaitingToJoin(t *testing.T) {
	e := newSinkEnv(t, 3)
	pe := &procEnv{t: t, ns: e.ns, names: e.names, brokers: e.brokers, bin: e.bin}
	long := []string{"--session-timeout", "45s"}
	a := pe.startProcessor("a", long...)
	b := pe.startProcessor("b", long...)
	sa := e.startSink("sink-a", "postgres", append(long, "--instance-id", "a")...)
	sb := e.startSink("sink-b", "postgres", append(long, "--instance-id", "b")...)
	time.Sleep(8 * time.Second) // both groups settled
	b.kill(t)
	sb.kill(t)
	c := pe.startProcessor("c", long...)
	sc := e.startSink("sink-c", "postgres", long...)
	time.Sleep(6 * time.Second)
	if !strings.Contains(readFile(c.log), "still waiting for the group to assign partitions") {
		t.Errorf("the joining processor does not say what it waits for:\n%s", tailFile(c.log, 5))
	}
	c.stopWithin(t, 5*time.Second)
	sc.stopWithin(t, 5*time.Second)
	a.running(t)
	sa.running(t)
	a.stopWithin(t, 5*time.Second)
	sa.stopWithin(t, 5*time.Second)
}
