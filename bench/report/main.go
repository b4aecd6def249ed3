// Command report runs Prism's processor and its Kafka Streams peer
// (bench/peers/kstreams) on the same commands on one broker, one after the
// other over several rounds, and writes BENCHMARKS.md and one PNG plot per
// stage (`make bench-report`).
package main

import (
	"bufio"
	"cmp"
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/prism-cqrs/prism/payment/schemas"
	"github.com/prism-cqrs/prism/records"
)

// config is the command line.
type config struct {
	brokers      string
	prism        string // the prism binary
	peerDir      string // bench/peers/kstreams, built by mvn package
	schemas      string // payment/schemas/avro
	commands     int    // pre-produced commands of the throughput stage
	checkCount   int    // commands of the correctness check
	partitions   int
	rounds       int
	rate         float64       // commands/s of the latency stage
	latencyFor   time.Duration // how long the latency stage produces
	invalidRatio float64
	peerThreads  int
	timeout      time.Duration // longest a drain may take
	out          string        // BENCHMARKS.md
	plots        string        // folder of the PNGs
}

func main() {
	var c config
	flag.StringVar(&c.brokers, "brokers", cmp.Or(os.Getenv("PRISM_KAFKA_BROKERS"), "127.0.0.1:9092"), "Kafka bootstrap brokers")
	flag.StringVar(&c.prism, "prism", "bin/prism", "the prism binary (make build)")
	flag.StringVar(&c.peerDir, "peer", "bench/peers/kstreams", "the Kafka Streams peer's Maven project, packaged (mvn package)")
	flag.StringVar(&c.schemas, "schemas", "payment/schemas/avro", "the payment's Avro schemas")
	flag.IntVar(&c.commands, "commands", 20000, "pre-produced commands of the throughput stage")
	flag.IntVar(&c.checkCount, "check-commands", 3000, "commands of the correctness check")
	flag.IntVar(&c.partitions, "partitions", 6, "partitions of every topic")
	flag.IntVar(&c.rounds, "rounds", 3, "rounds (each runs both systems, alternating which goes first)")
	flag.Float64Var(&c.rate, "rate", 1000, "commands per second of the latency stage")
	flag.DurationVar(&c.latencyFor, "latency-duration", 5*time.Second, "how long the latency stage produces at -rate")
	flag.Float64Var(&c.invalidRatio, "invalid-ratio", 0.05, "share of commands built to be rejected")
	flag.IntVar(&c.peerThreads, "peer-threads", 2, "num.stream.threads of the Kafka Streams peer")
	flag.DurationVar(&c.timeout, "timeout", 5*time.Minute, "longest one system may take to answer a stage's commands")
	flag.StringVar(&c.out, "out", "BENCHMARKS.md", "the report")
	flag.StringVar(&c.plots, "plots", "bench/plots", "folder of the PNG plots")
	flag.Parse()

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, c); err != nil {
		slog.Error("bench-report failed", "err", err)
		os.Exit(1)
	}
}

// system is one of the two processors under test.
type system struct {
	name    string
	results func(ns string) string // its results topic
	events  func(ns string) string
	// start launches it on namespace ns's commands topic.
	start func(ctx context.Context, b *bench, ns string) (*proc, error)
}

// bench holds what every stage shares.
type bench struct {
	cfg     config
	adm     *kadm.Client
	cl      *kgo.Client // admin only
	results records.ResultDecoder
	logMu   sync.Mutex
	log     []string // the commands run, in order
	seen    map[string]bool
}

func run(ctx context.Context, c config) error {
	cl, err := kgo.NewClient(kgo.SeedBrokers(strings.Split(c.brokers, ",")...))
	if err != nil {
		return err
	}
	defer cl.Close()
	codec, err := schemas.NewCodec()
	if err != nil {
		return err
	}
	b := &bench{cfg: c, adm: kadm.NewClient(cl), cl: cl, results: codec.Results(), seen: map[string]bool{}}
	jar := filepath.Join(c.peerDir, "target", "prism-bench-kstreams-1.jar")
	if _, err := os.Stat(jar); err != nil {
		return fmt.Errorf("the Kafka Streams peer is not built (cd %s && mvn package): %w", c.peerDir, err)
	}
	systems := []system{prismSystem(), peerSystem(jar)}
	rep := &report{cfg: c, started: time.Now()}

	slog.Info("correctness check", "commands", c.checkCount)
	if rep.check, err = b.check(ctx, systems); err != nil {
		return err
	}
	for r := range c.rounds {
		order := slices.Clone(systems)
		if r%2 == 1 {
			slices.Reverse(order)
		}
		ns := b.namespace(fmt.Sprintf("tp%d", r+1))
		if err := b.prepare(ctx, ns, c.commands, 1, "", c.invalidRatio); err != nil {
			return err
		}
		for _, s := range order {
			slog.Info("throughput", "round", r+1, "system", s.name, "commands", c.commands)
			m, _, err := b.drain(ctx, s, ns, c.commands)
			if err != nil {
				return fmt.Errorf("round %d, %s: %w", r+1, s.name, err)
			}
			rep.add(s.name, m)
		}
		for _, s := range order {
			slog.Info("latency", "round", r+1, "system", s.name, "rate", c.rate)
			l, err := b.latency(ctx, s, b.namespace(fmt.Sprintf("lat%d", r+1)))
			if err != nil {
				return fmt.Errorf("round %d, %s latency: %w", r+1, s.name, err)
			}
			rep.addLatency(s.name, l)
		}
	}
	rep.live = liveAggregates(c.commands, 1, c.invalidRatio)
	rep.commands = b.log
	return rep.write(ctx)
}

// namespace is a fresh namespace for one stage.
func (b *bench) namespace(stage string) string {
	return fmt.Sprintf("bench-%s-%06x", stage, rand.IntN(1<<24))
}

// prism runs the prism binary to completion.
func (b *bench) prism(ctx context.Context, args ...string) error {
	b.record(b.cfg.prism, args...)
	cmd := exec.CommandContext(ctx, b.cfg.prism, append(args, "--brokers", b.cfg.brokers)...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		return fmt.Errorf("%s %s: %w\n%s", b.cfg.prism, strings.Join(args, " "), err, out)
	}
	return nil
}

// record keeps the first command line of each kind for the report, with
// the namespace's random part masked.
func (b *bench) record(name string, args ...string) {
	fields := []string{name}
	for _, a := range args {
		if a == "" {
			a = "''"
		}
		fields = append(fields, nsSuffix.ReplaceAllString(a, "$1-XXXXXX"))
	}
	b.logMu.Lock()
	defer b.logMu.Unlock()
	key := strings.Join(fields[:min(3, len(fields))], " ")
	if !b.seen[key] {
		b.seen[key] = true
		b.log = append(b.log, strings.Join(fields, " "))
	}
}

// nsSuffix is the random part of a namespace (bench.namespace).
var nsSuffix = regexp.MustCompile(`(bench-[a-z0-9]+)-[0-9a-f]{6}`)

// prepare creates namespace ns's topics and, when n > 0, produces n
// generated commands (seed, idPrefix, share ratio built to be rejected).
func (b *bench) prepare(ctx context.Context, ns string, n int, seed int64, idPrefix string, ratio float64) error {
	if err := b.prism(ctx, "topology", "apply", "--namespace", ns, "--partitions", strconv.Itoa(b.cfg.partitions)); err != nil {
		return err
	}
	peer := []string{peerTopic(ns, "events"), peerTopic(ns, "command-results")}
	resp, err := b.adm.CreateTopics(ctx, int32(b.cfg.partitions), 1, nil, peer...)
	if err != nil {
		return fmt.Errorf("create %v: %w", peer, err)
	}
	for _, t := range resp.Sorted() {
		if t.Err != nil && !strings.Contains(t.Err.Error(), "TOPIC_ALREADY_EXISTS") {
			return fmt.Errorf("create %s: %w", t.Topic, t.Err)
		}
	}
	if n == 0 {
		return nil
	}
	return b.produce(ctx, ns, n, seed, idPrefix, ratio, 0)
}

// produce writes n generated commands with `prism produce --generate`
// (rate 0: as fast as possible).
func (b *bench) produce(ctx context.Context, ns string, n int, seed int64, idPrefix string, ratio, rate float64) error {
	args := []string{"produce", "--namespace", ns, "--aggregate", "payment", "--generate", strconv.Itoa(n),
		"--seed", strconv.FormatInt(seed, 10), "--invalid-ratio", strconv.FormatFloat(ratio, 'g', -1, 64),
		"--progress", "none", "--log-level", "warn"}
	if idPrefix != "" {
		args = append(args, "--id-prefix", idPrefix)
	}
	if rate > 0 {
		args = append(args, "--rate", strconv.FormatFloat(rate, 'g', -1, 64))
	}
	return b.prism(ctx, args...)
}

// peerTopic names the Kafka Streams peer's own topics.
func peerTopic(ns, what string) string { return ns + ".kstreams." + what }

func prismSystem() system {
	return system{
		name:    "Prism",
		results: func(ns string) string { return ns + ".payments.command-results" },
		events:  func(ns string) string { return ns + ".payments.events" },
		start: func(ctx context.Context, b *bench, ns string) (*proc, error) {
			args := []string{"process", "--namespace", ns, "--aggregate", "payment", "--http", "",
				"--instance-id", "bench", "--log-level", "warn", "--brokers", b.cfg.brokers}
			b.record(b.cfg.prism, args[:len(args)-2]...)
			return startProc(ctx, b.cfg.prism, args...)
		},
	}
}

func peerSystem(jar string) system {
	return system{
		name:    "Kafka Streams",
		results: func(ns string) string { return peerTopic(ns, "command-results") },
		events:  func(ns string) string { return peerTopic(ns, "events") },
		start: func(ctx context.Context, b *bench, ns string) (*proc, error) {
			state, err := os.MkdirTemp("", "prism-bench-kstreams-")
			if err != nil {
				return nil, err
			}
			cp := jar + ":" + filepath.Join(filepath.Dir(jar), "lib", "*")
			args := []string{"-cp", cp, "dev.prism.bench.kstreams.PaymentStreams",
				"--application-id", ns + ".kstreams", "--commands", ns + ".payments.commands",
				"--events", peerTopic(ns, "events"), "--results", peerTopic(ns, "command-results"),
				"--schemas", b.cfg.schemas, "--threads", strconv.Itoa(b.cfg.peerThreads),
				"--state-dir", state, "--brokers", b.cfg.brokers}
			b.record("java", append(slices.Clone(args[:len(args)-4]), "--state-dir", "$(mktemp -d)")...)
			p, err := startProc(ctx, "java", args...)
			if err != nil {
				os.RemoveAll(state)
				return nil, err
			}
			p.cleanup = func() { os.RemoveAll(state) }
			return p, nil
		},
	}
}

// proc is a running system.
type proc struct {
	cmd     *exec.Cmd
	stderr  *strings.Builder
	mu      sync.Mutex
	done    chan struct{}
	cleanup func()
}

func startProc(ctx context.Context, name string, args ...string) (*proc, error) {
	cmd := exec.Command(name, args...)
	p := &proc{cmd: cmd, stderr: &strings.Builder{}, done: make(chan struct{})}
	pr, pw, err := os.Pipe()
	if err != nil {
		return nil, err
	}
	cmd.Stdout, cmd.Stderr = pw, pw
	if err := cmd.Start(); err != nil {
		pr.Close()
		pw.Close()
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	pw.Close()
	go func() {
		sc := bufio.NewScanner(pr)
		for sc.Scan() {
			p.mu.Lock()
			if p.stderr.Len() < 64<<10 {
				p.stderr.WriteString(sc.Text() + "\n")
			}
			p.mu.Unlock()
		}
		pr.Close()
	}()
	go func() {
		_ = cmd.Wait()
		close(p.done)
	}()
	go func() {
		select {
		case <-ctx.Done():
			_ = cmd.Process.Kill()
		case <-p.done:
		}
	}()
	return p, nil
}

// output is what the process printed so far.
func (p *proc) output() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.stderr.String()
}

// usage reads the process's CPU seconds (utime + stime, 100 ticks a
// second), its peak resident memory (VmHWM) and its resident memory now
// (VmRSS).
func (p *proc) usage() (cpu float64, hwm, rss int64, err error) {
	pid := p.cmd.Process.Pid
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, 0, 0, err
	}
	// The fields after the command name in parentheses: state is field 3,
	// utime 14 and stime 15.
	rest := strings.Fields(string(stat[strings.LastIndexByte(string(stat), ')')+1:]))
	ut, err1 := strconv.ParseFloat(rest[11], 64)
	st, err2 := strconv.ParseFloat(rest[12], 64)
	if err := errors.Join(err1, err2); err != nil {
		return 0, 0, 0, fmt.Errorf("/proc/%d/stat: %w", pid, err)
	}
	status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, 0, 0, err
	}
	for _, line := range strings.Split(string(status), "\n") {
		for key, into := range map[string]*int64{"VmHWM:": &hwm, "VmRSS:": &rss} {
			if v, ok := strings.CutPrefix(line, key); ok {
				kb, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
				if err != nil {
					return 0, 0, 0, fmt.Errorf("%s %q: %w", key, v, err)
				}
				*into = kb << 10
			}
		}
	}
	return (ut + st) / 100, hwm, rss, nil
}

// stop sends SIGTERM and waits (SIGKILL after 30 s).
func (p *proc) stop() {
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(30 * time.Second):
		_ = p.cmd.Process.Kill()
		<-p.done
	}
	if p.cleanup != nil {
		p.cleanup()
	}
}

// run is one system's throughput run.
type runFigures struct {
	Wall       time.Duration // start of the process to the last result
	FirstAt    time.Duration // start of the process to the first result
	PerSecond  float64       // commands / Wall
	CPUSeconds float64       // the process's utime+stime at the last result
	PeakRSS    int64         // VmHWM, bytes
	StartRSS   int64         // VmRSS when the first result was read, bytes
	Commands   int
}

// drain starts s on ns, waits until its results topic holds n committed
// results and returns the figures and the results.
func (b *bench) drain(ctx context.Context, s system, ns string, n int) (runFigures, []*records.Result, error) {
	consumer, err := b.consumer(s.results(ns))
	if err != nil {
		return runFigures{}, nil, err
	}
	defer consumer.Close()
	start := time.Now()
	p, err := s.start(ctx, b, ns)
	if err != nil {
		return runFigures{}, nil, err
	}
	defer p.stop()
	var first, last time.Time
	var startRSS int64
	var res []*records.Result
	err = b.consume(ctx, consumer, p, n, func(r *kgo.Record, at time.Time) error {
		if first.IsZero() {
			first = at
			if _, _, rss, err := p.usage(); err == nil {
				startRSS = rss
			}
		}
		last = at
		d, err := b.results.DecodeResult(r.Value)
		if err != nil {
			return fmt.Errorf("%s: result at %s/%d/%d: %w", s.name, r.Topic, r.Partition, r.Offset, err)
		}
		res = append(res, d)
		return nil
	})
	if err != nil {
		return runFigures{}, nil, err
	}
	cpu, hwm, _, err := p.usage()
	if err != nil {
		return runFigures{}, nil, err
	}
	f := runFigures{Wall: last.Sub(start), FirstAt: first.Sub(start), CPUSeconds: cpu, PeakRSS: hwm, StartRSS: startRSS, Commands: n}
	f.PerSecond = float64(n) / f.Wall.Seconds()
	return f, res, nil
}

// consumer reads topic from its start, read_committed.
func (b *bench) consumer(topic string) (*kgo.Client, error) {
	return kgo.NewClient(kgo.SeedBrokers(strings.Split(b.cfg.brokers, ",")...),
		kgo.ConsumeTopics(topic), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()), kgo.FetchMaxWait(50*time.Millisecond),
		kgo.MetadataMinAge(250*time.Millisecond))
}

// consume calls each for records of cl until n arrived, the process exits
// or the timeout passes.
func (b *bench) consume(ctx context.Context, cl *kgo.Client, p *proc, n int, each func(*kgo.Record, time.Time) error) error {
	ctx, cancel := context.WithTimeout(ctx, b.cfg.timeout)
	defer cancel()
	go func() {
		select {
		case <-p.done:
			cancel()
		case <-ctx.Done():
		}
	}()
	got := 0
	for got < n {
		fs := cl.PollFetches(ctx)
		at := time.Now()
		if ctx.Err() != nil {
			return fmt.Errorf("%d of %d results after %v (process exited: %v): %w\n%s", got, n,
				b.cfg.timeout, isDone(p.done), ctx.Err(), tail(p.output(), 3000))
		}
		var err error
		fs.EachError(func(t string, part int32, e error) { err = cmp.Or(err, fmt.Errorf("fetch %s/%d: %w", t, part, e)) })
		if err != nil {
			return err
		}
		for it := fs.RecordIter(); !it.Done() && got < n; {
			if err := each(it.Next(), at); err != nil {
				return err
			}
			got++
		}
	}
	return nil
}

func isDone(c chan struct{}) bool {
	select {
	case <-c:
		return true
	default:
		return false
	}
}

func tail(s string, n int) string {
	if len(s) > n {
		return "…" + s[len(s)-n:]
	}
	return s
}
