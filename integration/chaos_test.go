package integration

// The chaos run (issue 13, docs/chaos.md): commands of the payment
// generator (5 % built to be rejected) and 0.1 % raw undecodable records,
// 3 processor instances and 2 instances of each of the four sinks, while a
// seeded driver SIGKILLs and restarts instances, restarts Kafka, Postgres,
// Redis and Elasticsearch once each through scripts/services.sh (with this
// process's environment: CI's services under CI, a private set when the
// PRISM_*_PORT variables say so) and runs one side-by-side rebuild. At the
// end (`prism lag --max-lag 0` passes) every read source must equal what
// refModel (refmodel_test.go, written from the rules, not the payment
// package's fold) computes from the commands.
//
// `make chaos` runs it with CHAOS_COMMANDS (default there 1,000,000) and
// CHAOS_SEED; `make test` runs the short version (30,000 commands, one
// fault of each kind).

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"math/rand/v2"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/prism-cqrs/prism/internal/testkit"
	"github.com/prism-cqrs/prism/payment"
	"github.com/prism-cqrs/prism/payment/schemas"
	"github.com/prism-cqrs/prism/records"
	"github.com/prism-cqrs/prism/sinks/sinktest"
)

// chaosConfig is what a run depends on: the same config, the same
// commands, the same faults at the same offsets of the run.
type chaosConfig struct {
	commands   int
	seed       uint64
	rate       int // commands produced per second
	processors int
	// Process kills (each followed by a restart of the same instance).
	procKills, sinkKills int
}

func chaosConfigFromEnv(t *testing.T) chaosConfig {
	t.Helper()
	c := chaosConfig{commands: 30_000, rate: 1000, processors: 3}
	intEnv := func(name string, into *int) {
		if v := os.Getenv(name); v != "" {
			n, err := strconv.Atoi(strings.ReplaceAll(v, "_", ""))
			if err != nil || n <= 0 {
				t.Fatalf("%s=%q: want a positive integer", name, v)
			}
			*into = n
		}
	}
	intEnv("CHAOS_COMMANDS", &c.commands)
	intEnv("CHAOS_RATE", &c.rate)
	c.seed = uint64(time.Now().UnixNano() % 1_000_000_000)
	if v := os.Getenv("CHAOS_SEED"); v != "" {
		n, err := strconv.ParseUint(v, 10, 64)
		if err != nil {
			t.Fatalf("CHAOS_SEED=%q: want a non-negative integer", v)
		}
		c.seed = n
	}
	// One kill of each kind per 100,000 commands (at least one).
	c.procKills = max(1, c.commands/100_000)
	c.sinkKills = max(1, c.commands/50_000)
	return c
}

// chaosExpect is the outcome computed from the commands alone (refModel).
type chaosExpect struct {
	model    *refModel
	accepted map[uint64]bool // hash of each accepted, non-duplicate command id
	events   int             // events other than tombstones
	byType   map[string]int  // events by type
	rejected int             // commands rejected (not duplicates)
	dups     int             // commands answered as duplicates
	garbage  int             // raw undecodable records
	daily    map[string]*chaosDaily
	// Commands where the generator's own expectation and refModel disagree.
	disagree []string
}

type chaosDaily struct{ cc, ca, cap, ref int64 }

func chaosHash(s string) uint64 {
	h := fnv.New64a()
	h.Write([]byte(s))
	return h.Sum64()
}

func (x *chaosExpect) add(c *schemas.CommandEnvelope, want payment.Expectation) {
	res, evs := x.model.handle(c)
	if res.Accepted != want.Accepted && len(x.disagree) < 5 {
		x.disagree = append(x.disagree, fmt.Sprintf("%s (%s): generator says accepted=%t, the reference model %t %s %s",
			c.CommandID, want.Kind, want.Accepted, res.Accepted, res.Reason, res.Field))
	}
	switch {
	case res.Duplicate:
		x.dups++
	case !res.Accepted:
		x.rejected++
	default:
		x.accepted[chaosHash(c.CommandID)] = true
	}
	for _, ev := range evs {
		if ev.Tombstone {
			continue
		}
		x.events++
		x.byType[ev.Type]++
		p := x.model.payments[c.PaymentID]
		d := func() *chaosDaily {
			k := ev.Org + "/" + ev.Currency
			if x.daily[k] == nil {
				x.daily[k] = &chaosDaily{}
			}
			return x.daily[k]
		}
		switch {
		case ev.Type == schemas.TypePaymentCreated:
			d().cc++
			d().ca += ev.Amount
		case ev.Type == schemas.TypePaymentStatusChanged && p != nil && ev.Status == schemas.StatusCaptured:
			d().cap += ev.Amount
		case ev.Type == schemas.TypePaymentStatusChanged && p != nil && ev.Status == schemas.StatusRefunded:
			d().ref += ev.Amount
		}
	}
}

func (x *chaosExpect) live() map[string]schemas.Payment {
	out := make(map[string]schemas.Payment, len(x.model.payments))
	for id, p := range x.model.payments {
		out[id] = schemas.Payment{ID: id, OrganizationID: p.org, UserID: p.user, AmountMinor: p.amount,
			Currency: p.currency, Description: p.descr, Status: p.status, Version: p.version}
	}
	return out
}

// chaosFault is one injected fault and how long the pipeline took to be
// healthy again.
type chaosFault struct {
	what     string
	at       time.Duration // since the start of production
	command  int           // commands sent when it started
	recovery time.Duration // until every instance answered /healthz 200 (-1: never)
	note     string
}

type chaosCheck struct {
	name    string
	ok      bool
	figures string
}

// chaosRun is the state of one run.
type chaosRun struct {
	t     *testing.T
	e     *serveEnv
	cfg   chaosConfig
	rng   *rand.Rand
	start time.Time

	mu    sync.Mutex
	procs map[string]*sinkProc // running instances by name ("processor/p1", "redis/b")
	gen   map[string]int       // restarts per instance (log file names)
	logs  []string             // every instance's log file, restarts included
}

func (r *chaosRun) startInstance(key string) {
	r.t.Helper()
	kind, id, _ := strings.Cut(key, "/")
	r.mu.Lock()
	r.gen[key]++
	name := fmt.Sprintf("%s-%s-%d", kind, id, r.gen[key])
	r.mu.Unlock()
	var p *sinkProc
	if kind == "processor" {
		p = r.e.start(name, true, "process", "--instance-id", id, "--session-timeout", "6s")
	} else {
		extra := []string{"--instance-id", id}
		switch kind {
		case "redis":
			extra = append(extra, "--redis-url", r.e.redisURL, "--redis-recent-size", "100000")
		case "elasticsearch":
			extra = append(extra, "--elasticsearch-url", r.e.esURL)
		}
		p = r.e.startSink(name, kind, extra...)
	}
	r.mu.Lock()
	r.procs[key] = p
	r.logs = append(r.logs, p.log)
	r.mu.Unlock()
}

// keepLogs copies every instance's log into dir (CHAOS_LOGS), before the
// test's temporary directory is removed.
func (r *chaosRun) keepLogs(dir string) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		r.t.Logf("CHAOS_LOGS: %v", err)
		return
	}
	r.mu.Lock()
	logs := slices.Clone(r.logs)
	r.mu.Unlock()
	for _, l := range logs {
		b, err := os.ReadFile(l)
		if err == nil {
			err = os.WriteFile(filepath.Join(dir, filepath.Base(l)), b, 0o644)
		}
		if err != nil {
			r.t.Logf("CHAOS_LOGS: %v", err)
		}
	}
	r.t.Logf("chaos: the instances' logs are in %s", dir)
}

// healthy reports whether every running instance answers /healthz 200.
func (r *chaosRun) healthy() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, p := range r.procs {
		if p.health() != http.StatusOK {
			return false
		}
	}
	return true
}

// exited names the instances that are not running any more (none may
// exit on its own during the run).
func (r *chaosRun) exited() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []string
	for k, p := range r.procs {
		select {
		case <-p.done:
			out = append(out, fmt.Sprintf("%s (%v)\n%s", k, p.err, tailFile(p.log, 15)))
		default:
		}
	}
	sort.Strings(out)
	return out
}

// waitHealthy returns how long after from every instance answered 200
// (-1 when not within 3 minutes).
func (r *chaosRun) waitHealthy(from time.Time) time.Duration {
	for deadline := time.Now().Add(3 * time.Minute); time.Now().Before(deadline); time.Sleep(200 * time.Millisecond) {
		if r.healthy() {
			return time.Since(from)
		}
	}
	return -1
}

// services runs scripts/services.sh with this process's environment.
func (r *chaosRun) services(verb, service string) {
	r.t.Helper()
	sinkServices(r.t, verb, service)
}

// chaosGuard fails the test, before anything is restarted, unless each
// connection setting names the port scripts/services.sh restarts.
func chaosGuard(t *testing.T, e *serveEnv) {
	t.Helper()
	port := func(env, def string) string {
		if v := os.Getenv(env); v != "" {
			return v
		}
		return def
	}
	check := func(what, raw, envName, def string) {
		host := raw
		if u, err := url.Parse(raw); err == nil && u.Host != "" {
			host = u.Host
		}
		if p := port(envName, def); !strings.HasSuffix(host, ":"+p) {
			t.Fatalf("the chaos run restarts the %s of scripts/services.sh (port %s, %s) but uses %s: set %s to the port of the service under test",
				what, p, envName, raw, envName)
		}
	}
	if len(e.brokers) != 1 {
		t.Fatalf("the chaos run restarts one broker, but uses %v", e.brokers)
	}
	check("Kafka broker", e.brokers[0], "PRISM_KAFKA_PORT", "9092")
	check("Postgres", e.pgURL, "PRISM_POSTGRES_PORT", "5432")
	check("Redis", e.redisURL, "PRISM_REDIS_PORT", "6379")
	check("Elasticsearch", e.esURL, "PRISM_ES_PORT", "9200")
}

// TestChaosKillsAndRestarts is the chaos run (its name says it restarts
// services: never run it against services others use).
func TestChaosKillsAndRestarts(t *testing.T) {
	cfg := chaosConfigFromEnv(t)
	replay := fmt.Sprintf("make chaos CHAOS_SEED=%d CHAOS_COMMANDS=%d", cfg.seed, cfg.commands)
	if cfg.rate != 1000 {
		replay += fmt.Sprintf(" CHAOS_RATE=%d", cfg.rate)
	}
	t.Logf("chaos: seed %d, %d commands; replay with: %s", cfg.seed, cfg.commands, replay)
	e := newServeEnv(t, 12)
	chaosGuard(t, e)
	t.Cleanup(func() {
		for _, s := range []string{"kafka", "postgres", "redis", "elasticsearch"} {
			sinkServicesQuiet("up", s)
		}
	})
	r := &chaosRun{t: t, e: e, cfg: cfg, rng: rand.New(rand.NewPCG(cfg.seed, 0x6368616f73)),
		procs: map[string]*sinkProc{}, gen: map[string]int{}}
	if dir := os.Getenv("CHAOS_LOGS"); dir != "" {
		// The logs live in t.TempDir(): asking for one first registers
		// the directory's removal before this copy, so the copy runs first.
		_ = t.TempDir()
		t.Cleanup(func() { r.keepLogs(dir) })
	}

	// The commands, and their expectation, computed before anything runs.
	x, recs := chaosCommands(t, e, cfg)
	if len(x.disagree) > 0 {
		t.Fatalf("the generator and the reference model disagree:\n  %s", strings.Join(x.disagree, "\n  "))
	}

	var keys []string
	for i := range cfg.processors {
		keys = append(keys, fmt.Sprintf("processor/p%d", i+1))
	}
	for _, sk := range serveSinks {
		keys = append(keys, sk+"/a", sk+"/b")
	}
	for _, k := range keys {
		r.startInstance(k)
	}
	if d := r.waitHealthy(time.Now()); d < 0 {
		t.Fatalf("the pipeline never became healthy")
	}

	// The plan: what, at which command. Each fault starts when the
	// producer has sent its command; the producer does not pass the next
	// fault's command before the fault has recovered, so commands flow
	// during and after every fault (the last one at 90 % at most).
	type planned struct {
		what string
		at   int
	}
	var plan []planned
	at := func() int { return cfg.commands/20 + r.rng.IntN(cfg.commands*17/20) }
	for range cfg.procKills {
		plan = append(plan, planned{"kill processor", at()})
	}
	for range cfg.sinkKills {
		plan = append(plan, planned{"kill sink", at()})
	}
	for _, s := range []string{"kafka", "postgres", "redis", "elasticsearch"} {
		plan = append(plan, planned{"restart " + s, at()})
	}
	plan = append(plan, planned{"rebuild elasticsearch --side-by-side", at()})
	sort.SliceStable(plan, func(i, j int) bool { return plan[i].at < plan[j].at })
	gates := make([]int, len(plan))
	for i, p := range plan {
		gates[i] = p.at
	}

	ctx := testkit.Context(t, 4*time.Hour)
	pr := newChaosProducer(e, recs, cfg.rate, gates)
	produced := make(chan error, 1)
	r.start = time.Now()
	go func() { produced <- pr.run(ctx) }()

	var faults []chaosFault
	for i, p := range plan {
		if err := pr.reached(ctx, p.at); err != nil {
			t.Fatalf("produce: %v", err)
		}
		f := r.inject(ctx, p.what)
		f.command = p.at
		faults = append(faults, f)
		pr.release(i)
		if gone := r.exited(); len(gone) > 0 {
			t.Fatalf("instances exited during the run:\n%s", strings.Join(gone, "\n"))
		}
	}
	if err := <-produced; err != nil {
		t.Fatalf("produce: %v", err)
	}
	produceTook := time.Since(r.start)

	// The end: every group's lag 0, by the user's own check.
	lagStart := time.Now()
	if out, ok := r.lagZero(ctx, 30*time.Minute); !ok {
		t.Fatalf("prism lag --max-lag 0 never passed within 30 minutes:\n%s", out)
	}
	drained := time.Since(lagStart)
	if gone := r.exited(); len(gone) > 0 {
		t.Errorf("instances exited during the run:\n%s", strings.Join(gone, "\n"))
	}

	// Lag 0 means every sink has applied every event: the checks must pass
	// at once. When they do not, they are repeated (every 5 s, up to 2
	// minutes) only to tell whether the sources caught up later (lag 0
	// came too early) or stay wrong; the run fails either way.
	checks := r.checks(ctx, x)
	var failed bool
	for _, c := range checks {
		failed = failed || !c.ok
	}
	t.Log(chaosTable(cfg, x, faults, checks, produceTook, drained, replay))
	if failed {
		for deadline := time.Now().Add(2 * time.Minute); time.Now().Before(deadline); time.Sleep(5 * time.Second) {
			again := r.checks(ctx, x)
			var still []string
			for _, c := range again {
				if !c.ok {
					still = append(still, c.name+": "+c.figures)
				}
			}
			if len(still) == 0 {
				t.Errorf("chaos: every source equals the expectation %s after lag 0, not at lag 0", time.Since(lagStart.Add(drained)).Round(time.Second))
				break
			}
			if time.Now().Add(5 * time.Second).After(deadline) {
				t.Errorf("chaos: still different 2 minutes after lag 0:\n  %s", strings.Join(still, "\n  "))
			}
		}
	}
	if failed {
		t.Errorf("chaos: a check failed (seed %d); replay with: %s", cfg.seed, replay)
	}
	for _, f := range faults {
		if f.recovery < 0 {
			t.Errorf("chaos: %s at %s: the pipeline never became healthy again", f.what, f.at.Round(time.Second))
		}
	}
	// Every instance stops cleanly.
	r.mu.Lock()
	procs := r.procs
	r.mu.Unlock()
	for _, p := range procs {
		p.stopWithin(t, 60*time.Second)
	}
}

// chaosCommands generates the commands (payment generator, 5 % invalid),
// places the raw undecodable records among them and computes the
// expectation.
func chaosCommands(t *testing.T, e *serveEnv, cfg chaosConfig) (*chaosExpect, []*kgo.Record) {
	t.Helper()
	g, err := payment.NewGenerator(payment.GeneratorConfig{Count: cfg.commands, Organizations: 8, Seed: int64(cfg.seed),
		InvalidRatio: 0.05, IDPrefix: e.ns})
	if err != nil {
		t.Fatal(err)
	}
	x := &chaosExpect{model: newRefModel(), accepted: map[uint64]bool{}, byType: map[string]int{}, daily: map[string]*chaosDaily{}}
	// Exactly round(n × 0.1 %) raw records, at seeded places.
	rng := rand.New(rand.NewPCG(cfg.seed, 0x676172626167))
	garbage := map[int]bool{}
	for want := (cfg.commands + 500) / 1000; len(garbage) < want; {
		garbage[rng.IntN(cfg.commands)] = true
	}
	recs := make([]*kgo.Record, 0, cfg.commands+len(garbage))
	topic := e.names.CommandsTopic()
	for i := 0; ; i++ {
		gc, ok := g.Next()
		if !ok {
			break
		}
		if garbage[i] {
			x.garbage++
			recs = append(recs, &kgo.Record{Topic: topic, Key: []byte(fmt.Sprintf("%s-garbage-%d", e.ns, i)),
				Value: []byte(fmt.Sprintf("\x00\xffnot a command %d", i))})
		}
		line := gc.Line
		c, err := line.Envelope()
		if err != nil {
			t.Fatalf("command %d (%s): %v", gc.Seq, gc.Expect.Kind, err)
		}
		v, err := e.codec.EncodeCommand(c)
		if err != nil {
			t.Fatalf("encode command %d (%s): %v", gc.Seq, gc.Expect.Kind, err)
		}
		x.add(c, gc.Expect)
		recs = append(recs, &kgo.Record{Topic: topic, Key: []byte(c.PaymentID), Value: v,
			Headers: []kgo.RecordHeader{{Key: records.HeaderType, Value: []byte(c.Type)}, {Key: records.HeaderCommandID, Value: []byte(c.CommandID)}}})
	}
	return x, recs
}

// chaosProducer sends the records at about rate records per second (the
// client's sends wait while the broker is away), never past gate i+1
// before release(i).
type chaosProducer struct {
	e     *serveEnv
	recs  []*kgo.Record
	rate  int
	gates []int // command numbers, ascending (raw records not counted)

	mu       sync.Mutex
	cond     *sync.Cond
	sent     int // commands sent
	released int // faults done
	err      error
}

func newChaosProducer(e *serveEnv, recs []*kgo.Record, rate int, gates []int) *chaosProducer {
	p := &chaosProducer{e: e, recs: recs, rate: rate, gates: gates}
	p.cond = sync.NewCond(&p.mu)
	return p
}

func (p *chaosProducer) run(ctx context.Context) error {
	const tick = 100 * time.Millisecond
	step := max(1, p.rate/10)
	start := time.Now()
	commands := 0
	fail := func(err error) error {
		p.mu.Lock()
		p.err = err
		p.cond.Broadcast()
		p.mu.Unlock()
		return err
	}
	for i, n := 0, 0; i < len(p.recs); n++ {
		// The chunk: up to step records, not past the next gate that is
		// not released.
		p.mu.Lock()
		limit := p.limit()
		for limit >= 0 && commands >= limit && p.err == nil {
			p.cond.Wait()
			limit = p.limit()
		}
		p.mu.Unlock()
		j := i
		c := commands
		for j < len(p.recs) && j-i < step && (limit < 0 || c < limit) {
			if p.recs[j].Headers != nil {
				c++
			}
			j++
		}
		if err := p.e.cl.ProduceSync(ctx, p.recs[i:j]...).FirstErr(); err != nil {
			return fail(err)
		}
		i, commands = j, c
		p.mu.Lock()
		p.sent = commands
		p.cond.Broadcast()
		p.mu.Unlock()
		if wait := time.Until(start.Add(time.Duration(n+1) * tick)); wait > 0 {
			time.Sleep(wait)
		}
	}
	return nil
}

// limit is the command number the producer may not pass yet (-1: none).
func (p *chaosProducer) limit() int {
	if g := p.released + 1; g < len(p.gates) {
		return p.gates[g]
	}
	return -1
}

// reached waits until n commands are sent.
func (p *chaosProducer) reached(ctx context.Context, n int) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	for p.sent < n && p.err == nil && ctx.Err() == nil {
		p.cond.Wait()
	}
	if p.err != nil {
		return p.err
	}
	return ctx.Err()
}

// release lets the producer pass gate i+1.
func (p *chaosProducer) release(i int) {
	p.mu.Lock()
	p.released = i + 1
	p.cond.Broadcast()
	p.mu.Unlock()
}

// inject runs one fault and waits until the pipeline is healthy again.
func (r *chaosRun) inject(ctx context.Context, what string) chaosFault {
	r.t.Helper()
	f := chaosFault{what: what, at: time.Since(r.start)}
	began := time.Now()
	pick := func(processor bool) string {
		r.mu.Lock()
		defer r.mu.Unlock()
		var ks []string
		for k := range r.procs {
			if strings.HasPrefix(k, "processor/") == processor {
				ks = append(ks, k)
			}
		}
		sort.Strings(ks)
		return ks[r.rng.IntN(len(ks))]
	}
	kill := func(key string) {
		r.mu.Lock()
		p := r.procs[key]
		r.mu.Unlock()
		p.kill(r.t)
		pause := time.Duration(500+r.rng.IntN(4500)) * time.Millisecond
		time.Sleep(pause)
		r.startInstance(key)
		f.what = "SIGKILL " + key
		f.note = fmt.Sprintf("restarted after %.1f s", pause.Seconds())
	}
	switch {
	case what == "kill processor":
		kill(pick(true))
	case what == "kill sink":
		kill(pick(false))
	case strings.HasPrefix(what, "restart "):
		svc := strings.TrimPrefix(what, "restart ")
		r.services("down", svc)
		pause := time.Duration(1000+r.rng.IntN(4000)) * time.Millisecond
		time.Sleep(pause)
		r.services("up", svc)
		f.what = "services.sh down/up " + svc
		f.note = fmt.Sprintf("down for %.1f s (and the script's stop/start)", time.Since(began).Seconds())
	case strings.HasPrefix(what, "rebuild "):
		res := runPrism(r.t, ctx, "", "--namespace", r.e.ns, "--brokers", strings.Join(r.e.brokers, ","),
			"--postgres-url", r.e.pgURL, "--redis-url", r.e.redisURL, "--elasticsearch-url", r.e.esURL,
			"--log-level", "warn", "rebuild", "elasticsearch", "--aggregate", "payments", "--side-by-side", "--execute")
		f.what = "prism rebuild elasticsearch --side-by-side --execute"
		if res.code != 0 {
			r.t.Errorf("rebuild: exit %d\n%s\n%s", res.code, res.stdout, res.stderr)
			f.note = fmt.Sprintf("FAILED: exit %d", res.code)
		} else {
			f.note = strings.TrimSpace(lastLines(res.stdout, 1))
		}
	}
	f.recovery = r.waitHealthy(began)
	r.t.Logf("chaos: %s at %s: %s; healthy after %s", f.what, f.at.Round(100*time.Millisecond), f.note, f.recovery.Round(100*time.Millisecond))
	return f
}

// lagZero runs `prism lag --max-lag 0` until it exits 0.
func (r *chaosRun) lagZero(ctx context.Context, timeout time.Duration) (string, bool) {
	var last string
	for deadline := time.Now().Add(timeout); time.Now().Before(deadline); time.Sleep(2 * time.Second) {
		c, cancel := context.WithTimeout(ctx, 30*time.Second)
		cmd := exec.CommandContext(c, r.e.bin, "--namespace", r.e.ns, "--brokers", strings.Join(r.e.brokers, ","),
			"--log-level", "warn", "lag", "--aggregate", "payments", "--max-lag", "0")
		out, err := cmd.CombinedOutput()
		cancel()
		if err == nil {
			return string(out), true
		}
		last = string(out)
	}
	return last, false
}

// checks compares every read source, the events topic and the DLQ with x.
func (r *chaosRun) checks(ctx context.Context, x *chaosExpect) []chaosCheck {
	e := r.e
	live := x.live()
	var out []chaosCheck
	add := func(name string, diffs []string, figures string) {
		c := chaosCheck{name: name, ok: len(diffs) == 0, figures: figures}
		if !c.ok {
			var missing, extra, differ int
			for _, d := range diffs {
				switch {
				case strings.Contains(d, ": missing"):
					missing++
				case strings.Contains(d, "should be absent"):
					extra++
				default:
					differ++
				}
			}
			c.figures += fmt.Sprintf(" (%d missing, %d that should be absent, %d different); %s",
				missing, extra, differ, strings.Join(diffs[:min(len(diffs), 5)], "; "))
		}
		out = append(out, c)
	}
	ignore := []sinktest.Field{sinktest.FieldCreatedAt, sinktest.FieldUpdatedAt}

	// Postgres payments table (read here with SQL of its own).
	pg, err := chaosPayments(ctx, e, `SELECT id, organization_id, user_id, amount_minor, currency, description, status, version FROM `+e.table("payments"))
	if err != nil {
		add("postgres payments table", []string{err.Error()}, "")
	} else {
		add("postgres payments table", sinktest.DiffPayments(live, pg, len(live)+len(pg), ignore...), fmt.Sprintf("%d rows, %d expected", len(pg), len(live)))
	}
	// Read models: state, summary, daily, timeline.
	st, err := chaosPayments(ctx, e, `SELECT id, organization_id, '', amount_minor, currency, '', status, version FROM `+e.table("readmodel_state")+` WHERE NOT deleted`)
	if err != nil {
		add("read model state", []string{err.Error()}, "")
	} else {
		add("read model state", sinktest.DiffPayments(live, st, len(live)+len(st), append(ignore, sinktest.FieldUserID, sinktest.FieldDescription)...),
			fmt.Sprintf("%d live rows, %d expected", len(st), len(live)))
	}
	out = append(out, r.summaryCheck(ctx, live))
	out = append(out, r.dailyCheck(ctx, x))
	out = append(out, r.timelineCheck(ctx, x)...)

	// Redis documents and the Elasticsearch index through its alias (the
	// tests' own readers, sinks_redis_test.go and sinks_elasticsearch_test.go).
	rd, err := e.rs.Payments(ctx)
	if err != nil {
		add("redis documents", []string{err.Error()}, "")
	} else {
		add("redis documents", sinktest.DiffPayments(live, rd, len(live)+len(rd), ignore...), fmt.Sprintf("%d documents, %d expected", len(rd), len(live)))
	}
	es, err := e.es.Payments(ctx)
	if err != nil {
		add("elasticsearch (alias)", []string{err.Error()}, "")
	} else {
		idx, _ := (&rebuildEnv{serveEnv: e}).aliasIndices(ctx)
		add("elasticsearch (alias)", sinktest.DiffPayments(live, es, len(live)+len(es), ignore...), fmt.Sprintf("%d documents in %s, %d expected", len(es), idx, len(live)))
	}

	out = append(out, r.eventsCheck(ctx, x))
	// The commands DLQ: exactly the raw records.
	dlq, err := chaosCount(ctx, e, e.names.CommandsDLQTopic())
	if err != nil {
		add("commands DLQ", []string{err.Error()}, "")
	} else {
		var diffs []string
		if dlq != int64(x.garbage) {
			diffs = append(diffs, fmt.Sprintf("%d records, want %d", dlq, x.garbage))
		}
		add("commands DLQ", diffs, fmt.Sprintf("%d records, %d injected", dlq, x.garbage))
	}
	evDLQ, err := chaosCount(ctx, e, e.names.EventsDLQTopic())
	if err != nil {
		add("events DLQ empty", []string{err.Error()}, "")
	} else {
		var diffs []string
		if evDLQ != 0 {
			diffs = append(diffs, fmt.Sprintf("%d records", evDLQ))
		}
		add("events DLQ empty", diffs, fmt.Sprintf("%d records", evDLQ))
	}
	return out
}

// chaosPayments reads payments with query (8 columns: id, organization,
// user, amount, currency, description, status, version).
func chaosPayments(ctx context.Context, e *serveEnv, query string) (map[string]schemas.Payment, error) {
	rows, err := e.pool.Query(ctx, query)
	if err != nil {
		return nil, err
	}
	out := map[string]schemas.Payment{}
	var p schemas.Payment
	var status string
	_, err = pgx.ForEachRow(rows, []any{&p.ID, &p.OrganizationID, &p.UserID, &p.AmountMinor, &p.Currency, &p.Description, &status, &p.Version}, func() error {
		p.Status = schemas.PaymentStatus(status)
		out[p.ID] = p
		return nil
	})
	return out, err
}

func (r *chaosRun) summaryCheck(ctx context.Context, live map[string]schemas.Payment) chaosCheck {
	type agg struct{ n, sum int64 }
	want := map[string]agg{}
	for _, p := range live {
		k := p.OrganizationID + "/" + string(p.Status) + "/" + p.Currency
		a := want[k]
		a.n++
		a.sum += p.AmountMinor
		want[k] = a
	}
	c := chaosCheck{name: "read model summary"}
	rows, err := r.e.pool.Query(ctx, `SELECT organization_id, status, currency, count, total_amount_minor FROM `+r.e.table("payment_summary"))
	if err != nil {
		c.figures = err.Error()
		return c
	}
	got := map[string]agg{}
	var org, status, cur string
	var a agg
	if _, err := pgx.ForEachRow(rows, []any{&org, &status, &cur, &a.n, &a.sum}, func() error {
		if a.n != 0 || a.sum != 0 {
			got[org+"/"+status+"/"+cur] = a
		}
		return nil
	}); err != nil {
		c.figures = err.Error()
		return c
	}
	var diffs []string
	for k, w := range want {
		if g, ok := got[k]; !ok || g != w {
			diffs = append(diffs, fmt.Sprintf("%s: want %+v, got %+v", k, w, g))
		}
	}
	for k, g := range got {
		if _, ok := want[k]; !ok {
			diffs = append(diffs, fmt.Sprintf("%s: unexpected %+v", k, g))
		}
	}
	sort.Strings(diffs)
	c.ok = len(diffs) == 0
	c.figures = fmt.Sprintf("%d groups, %d expected", len(got), len(want))
	if !c.ok {
		c.figures += "; " + strings.Join(diffs[:min(5, len(diffs))], "; ")
	}
	return c
}

// dailyCheck compares the daily sums per organization and currency over
// the run's days (the day is the processing day).
func (r *chaosRun) dailyCheck(ctx context.Context, x *chaosExpect) chaosCheck {
	c := chaosCheck{name: "read model daily"}
	rows, err := r.e.pool.Query(ctx, `SELECT organization_id, currency, sum(created_count)::bigint, sum(created_amount_minor)::bigint,
		sum(captured_amount_minor)::bigint, sum(refunded_amount_minor)::bigint FROM `+r.e.table("payment_daily")+` GROUP BY 1, 2`)
	if err != nil {
		c.figures = err.Error()
		return c
	}
	got := map[string]chaosDaily{}
	var org, cur string
	var d chaosDaily
	if _, err := pgx.ForEachRow(rows, []any{&org, &cur, &d.cc, &d.ca, &d.cap, &d.ref}, func() error {
		got[org+"/"+cur] = d
		return nil
	}); err != nil {
		c.figures = err.Error()
		return c
	}
	var diffs []string
	var created int64
	for k, w := range x.daily {
		created += w.cc
		if g, ok := got[k]; !ok || g != *w {
			diffs = append(diffs, fmt.Sprintf("%s: want %+v, got %+v", k, *w, g))
		}
	}
	for k := range got {
		if x.daily[k] == nil {
			diffs = append(diffs, "unexpected "+k)
		}
	}
	sort.Strings(diffs)
	c.ok = len(diffs) == 0
	c.figures = fmt.Sprintf("%d organization/currency pairs, %d payments created", len(got), created)
	if !c.ok {
		c.figures += "; " + strings.Join(diffs[:min(5, len(diffs))], "; ")
	}
	return c
}

// timelineCheck: one row per expected event, by type, and no (aggregate,
// version) twice.
func (r *chaosRun) timelineCheck(ctx context.Context, x *chaosExpect) []chaosCheck {
	count := chaosCheck{name: "read model timeline"}
	dup := chaosCheck{name: "no duplicate timeline row"}
	rows, err := r.e.pool.Query(ctx, `SELECT type, count(*) FROM `+r.e.table("payment_timeline")+` GROUP BY 1`)
	if err != nil {
		count.figures = err.Error()
		return []chaosCheck{count, dup}
	}
	got := map[string]int{}
	var typ string
	var n, total int
	if _, err := pgx.ForEachRow(rows, []any{&typ, &n}, func() error { got[typ] = n; total += n; return nil }); err != nil {
		count.figures = err.Error()
		return []chaosCheck{count, dup}
	}
	count.ok = total == x.events
	for k, w := range x.byType {
		count.ok = count.ok && got[k] == w
	}
	count.figures = fmt.Sprintf("%d rows, %d expected events %v, got %v", total, x.events, x.byType, got)
	var dups, distinct int
	err = r.e.pool.QueryRow(ctx, `SELECT count(*) - count(DISTINCT (aggregate_id, version)), count(DISTINCT (aggregate_id, version)) FROM `+
		r.e.table("payment_timeline")).Scan(&dups, &distinct)
	if err != nil {
		dup.figures = err.Error()
	} else {
		dup.ok = dups == 0
		dup.figures = fmt.Sprintf("%d duplicate (aggregate, version) rows of %d distinct", dups, distinct)
	}
	return []chaosCheck{count, dup}
}

// eventsCheck reads the events topic (committed records only) and counts
// events by their command id header.
func (r *chaosRun) eventsCheck(ctx context.Context, x *chaosExpect) chaosCheck {
	c := chaosCheck{name: "events topic: one event per accepted command"}
	seen := make(map[uint64]int, len(x.accepted))
	var events, twice, unknown, noHeader int
	err := chaosConsume(ctx, r.e, r.e.names.EventsTopic(), func(rec *kgo.Record) {
		if rec.Value == nil {
			return // the tombstone after a deletion
		}
		events++
		id := sinkHeader(rec, records.HeaderCommandID)
		if id == "" {
			noHeader++
			return
		}
		h := chaosHash(id)
		if !x.accepted[h] {
			unknown++
		}
		seen[h]++
		if seen[h] == 2 {
			twice++
		}
	})
	if err != nil {
		c.figures = err.Error()
		return c
	}
	missing := 0
	for h := range x.accepted {
		if seen[h] == 0 {
			missing++
		}
	}
	c.ok = events == x.events && twice == 0 && unknown == 0 && missing == 0 && noHeader == 0
	c.figures = fmt.Sprintf("%d events for %d accepted commands (besides %d rejected, %d answered as duplicates); %d command ids twice, %d missing, %d unknown, %d without header",
		events, len(x.accepted), x.rejected, x.dups, twice, missing, unknown, noHeader)
	return c
}

// chaosConsume reads topic from the start, committed records only, until
// no record comes for 5 s (15 s at first; the pipeline is idle: every lag
// is 0).
func chaosConsume(ctx context.Context, e *serveEnv, topic string, fn func(*kgo.Record)) error {
	cl, err := kgo.NewClient(kgo.SeedBrokers(e.brokers...), kgo.ConsumeTopics(topic),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		return err
	}
	defer cl.Close()
	// The first fetch waits longer: the client first looks up the
	// partitions' leaders and offsets.
	idle := 15 * time.Second
	for {
		c, cancel := context.WithTimeout(ctx, idle)
		fs := cl.PollFetches(c)
		cancel()
		if ctx.Err() != nil {
			return ctx.Err()
		}
		n := 0
		fs.EachError(func(_ string, _ int32, ferr error) {
			if !errors.Is(ferr, context.DeadlineExceeded) && err == nil {
				err = ferr
			}
		})
		if err != nil {
			return fmt.Errorf("read %s: %w", topic, err)
		}
		fs.EachRecord(func(rec *kgo.Record) { n++; fn(rec) })
		if n == 0 {
			return nil
		}
		idle = 5 * time.Second
	}
}

// chaosCount is the number of committed records of topic.
func chaosCount(ctx context.Context, e *serveEnv, topic string) (int64, error) {
	var n int64
	err := chaosConsume(ctx, e, topic, func(*kgo.Record) { n++ })
	return n, err
}

// chaosTable formats the run's report.
func chaosTable(cfg chaosConfig, x *chaosExpect, faults []chaosFault, checks []chaosCheck, produced, drained time.Duration, replay string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "\n==== chaos run: seed %d, %d commands (%d rejected by the rules, %d answered as duplicates) + %d raw undecodable records ====\n",
		cfg.seed, cfg.commands, x.rejected, x.dups, x.garbage)
	fmt.Fprintf(&b, "%d processor instances, 2 instances of each of %d sinks; produced in %s at ~%d/s; lag 0 %s after the last command\n\n",
		cfg.processors, len(serveSinks), produced.Round(time.Second), cfg.rate, drained.Round(time.Second))
	fmt.Fprintf(&b, "%-4s %-9s %-9s %-56s %-10s %s\n", "#", "AT", "COMMAND", "FAULT", "RECOVERY", "NOTE")
	for i, f := range faults {
		rec := "never"
		if f.recovery >= 0 {
			rec = fmt.Sprintf("%.1f s", f.recovery.Seconds())
		}
		fmt.Fprintf(&b, "%-4d %-9s %-9d %-56s %-10s %s\n", i+1, fmt.Sprintf("%.1f s", f.at.Seconds()), f.command, f.what, rec, f.note)
	}
	fmt.Fprintf(&b, "\n%-6s %-46s %s\n", "CHECK", "WHAT", "FIGURES")
	for _, c := range checks {
		res := "PASS"
		if !c.ok {
			res = "FAIL"
		}
		fmt.Fprintf(&b, "%-6s %-46s %s\n", res, c.name, c.figures)
	}
	fmt.Fprintf(&b, "\nreplay: %s\n", replay)
	return b.String()
}
