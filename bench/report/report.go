package main

import (
	"bytes"
	"context"
	"fmt"
	"image/color"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"time"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
)

// report gathers the figures of every round.
type report struct {
	cfg      config
	started  time.Time
	check    checkResult
	order    []string // systems, in the order first seen
	runs     map[string][]runFigures
	lat      map[string][]latencyFigures
	live     int
	commands []string
}

func (r *report) system(name string) {
	if !slices.Contains(r.order, name) {
		r.order = append(r.order, name)
	}
}

func (r *report) add(name string, f runFigures) {
	r.system(name)
	if r.runs == nil {
		r.runs = map[string][]runFigures{}
	}
	r.runs[name] = append(r.runs[name], f)
}

func (r *report) addLatency(name string, l latencyFigures) {
	r.system(name)
	if r.lat == nil {
		r.lat = map[string][]latencyFigures{}
	}
	r.lat[name] = append(r.lat[name], l)
}

// stat is min, median and max of a figure over the rounds.
type stat struct{ Min, Median, Max float64 }

func stats(v []float64) stat {
	s := slices.Sorted(slices.Values(v))
	if len(s) == 0 {
		return stat{}
	}
	med := s[len(s)/2]
	if len(s)%2 == 0 {
		med = (s[len(s)/2-1] + s[len(s)/2]) / 2
	}
	return stat{s[0], med, s[len(s)-1]}
}

// metric is one row of the tables and one plot.
type metric struct {
	file, title, unit string
	lowerIsBetter     bool
	value             func(r *report, system string) []float64
}

func (r *report) metrics() []metric {
	runs := func(f func(runFigures) float64) func(*report, string) []float64 {
		return func(r *report, s string) (v []float64) {
			for _, x := range r.runs[s] {
				v = append(v, f(x))
			}
			return v
		}
	}
	lats := func(f func(latencyFigures) float64) func(*report, string) []float64 {
		return func(r *report, s string) (v []float64) {
			for _, x := range r.lat[s] {
				v = append(v, f(x))
			}
			return v
		}
	}
	return []metric{
		{"throughput", "Commands/s (time to drain, start-up included)", "commands/s", false,
			runs(func(f runFigures) float64 { return f.PerSecond })},
		{"drain-wall", "Time to drain: process start to the last result", "s", true,
			runs(func(f runFigures) float64 { return f.Wall.Seconds() })},
		{"first-result", "Start-up: process start to the first result", "s", true,
			runs(func(f runFigures) float64 { return f.FirstAt.Seconds() })},
		{"latency-p50", fmt.Sprintf("p50 command → result latency at %.0f/s", r.cfg.rate), "ms", true,
			lats(func(l latencyFigures) float64 { return float64(l.P50) / 1e6 })},
		{"latency-p99", fmt.Sprintf("p99 command → result latency at %.0f/s", r.cfg.rate), "ms", true,
			lats(func(l latencyFigures) float64 { return float64(l.P99) / 1e6 })},
		{"cpu", "CPU seconds per 1,000 commands", "s", true,
			runs(func(f runFigures) float64 { return f.CPUSeconds / float64(f.Commands) * 1000 })},
		{"memory", "Peak resident memory (VmHWM)", "MiB", true,
			runs(func(f runFigures) float64 { return float64(f.PeakRSS) / (1 << 20) })},
		{"memory-per-aggregate", "Peak resident memory per live aggregate", "KiB", true,
			runs(func(f runFigures) float64 { return float64(f.PeakRSS) / 1024 / float64(max(r.live, 1)) })},
		{"memory-growth-per-aggregate", "Memory growth per live aggregate (VmHWM − VmRSS at the first result)", "KiB", true,
			func(r *report, s string) (v []float64) {
				for _, f := range r.runs[s] {
					// Not measurable when every result was read in the
					// first poll: the baseline was taken after the work.
					if f.FirstAt < f.Wall {
						v = append(v, float64(f.PeakRSS-f.StartRSS)/1024/float64(max(r.live, 1)))
					}
				}
				return v
			}},
	}
}

func (r *report) write(ctx context.Context) error {
	if err := os.MkdirAll(r.cfg.plots, 0o755); err != nil {
		return err
	}
	var b bytes.Buffer
	p := func(format string, a ...any) { fmt.Fprintf(&b, format, a...) }
	p("# Benchmarks: Prism beside a Kafka Streams peer\n\n")
	p("Written by `make bench-report` (bench/report) on %s; rerun it to get your own figures. ", r.started.UTC().Format("2006-01-02 15:04 UTC"))
	p("Both processors run one after the other on the same broker, on the same pre-produced commands (same count and partitions), ")
	p("%d rounds, alternating which goes first. The machine is shared (other jobs run beside the benchmark), so the absolute figures move from run to run: the ratios are what count.\n\n", r.cfg.rounds)

	p("## Machine and versions\n\n")
	for _, l := range r.machine(ctx) {
		p("- %s\n", l)
	}
	p("\n## What runs\n\n")
	p("- **Prism**: `prism process --aggregate payment` with its defaults (one Kafka transaction per batch: events, results and the consumed offsets; state restored from the compacted events topic, kept in memory).\n")
	p("- **Kafka Streams peer** ([bench/peers/kstreams](bench/peers/kstreams)): a Processor API topology, `processing.guarantee=exactly_once_v2`, ")
	p("`num.stream.threads=%d`, a persistent key-value store (RocksDB, with its changelog topic), the JVM's defaults; ", r.cfg.peerThreads)
	p("it applies the rules of payment/decide.go, payment/validate.go and payment/transitions.go and writes Avro events (with the state after the event) and results to topics of its own.\n")
	p("- **Commands**: Avro, the records `prism produce --generate` writes to `<namespace>.payments.commands` (single-object encoding, payment/schemas/avro). ")
	p("Both processors read that very topic, so they decode the same bytes; JSON Lines would have given the peer a different input (Prism reads Avro only).\n")
	p("- Workload: the payment generator (payment/generator.go), %d commands, %.0f %% built to be rejected, %d partitions; %d payments live at the end.\n\n",
		r.cfg.commands, r.cfg.invalidRatio*100, r.cfg.partitions, r.live)

	p("## Correctness check\n\n")
	p("Before the rounds, both ran on one workload of %d commands (%.0f %% built to be rejected, seed %d); every command must get the outcome the generator's model expects. Results per outcome:\n\n",
		r.check.Commands, checkRatio*100, checkSeed)
	p("| outcome | expected |")
	for _, s := range r.order {
		p(" %s |", s)
	}
	p("\n|---|---:|%s\n", strings.Repeat("---:|", len(r.order)))
	for _, o := range r.check.Outcomes {
		p("| %s | %d |", o, r.check.Counts["expected"][o])
		for _, s := range r.order {
			p(" %d |", r.check.Counts[s][o])
		}
		p("\n")
	}
	p("\nEvery command was answered as expected by both (the report is written only then).\n\n")

	p("## Figures (min / median / max over %d rounds)\n\n", r.cfg.rounds)
	p("| figure |")
	for _, s := range r.order {
		p(" %s |", s)
	}
	p(" Prism ÷ peer (medians) | plot |\n|---|%s---:|---|\n", strings.Repeat("---:|", len(r.order)))
	for _, m := range r.metrics() {
		p("| %s (%s) |", m.title, m.unit)
		var med []float64
		for _, s := range r.order {
			vals := m.value(r, s)
			st := stats(vals)
			med = append(med, st.Median)
			if len(vals) == 0 {
				p(" not measurable |")
				continue
			}
			p(" %s / **%s** / %s |", num(st.Min), num(st.Median), num(st.Max))
		}
		ratio := "–"
		if len(med) == 2 && med[0] != 0 && med[1] != 0 {
			ratio = fmt.Sprintf("%.2f×", med[0]/med[1])
		}
		file := m.file + ".png"
		p(" %s | [%s](%s) |\n", ratio, file, filepath.ToSlash(filepath.Join(r.cfg.plots, file)))
		if err := r.plot(m, filepath.Join(r.cfg.plots, file)); err != nil {
			return fmt.Errorf("plot %s: %w", m.file, err)
		}
	}
	p("\n")
	p("How each figure is measured:\n\n")
	p("- **Commands/s**: the process starts on a topic already holding the %d commands; a read_committed consumer counts its results; commands / time to drain, the time from the process start to the moment the last result was read. It holds the start-up (the JVM's, the consumer group's first rebalance, Prism's state restore), shown on its own as the time to the first result: a rate from the first result to the last is not measurable for Prism, whose transactions make whole batches readable at once.\n", r.cfg.commands)
	p("- **Latency**: on a fresh namespace, after %d warm-up commands, `prism produce --generate %d --rate %.0f` sends commands; for each, the time its result was read by a read_committed consumer minus the command record's timestamp (set when the producer sent it). ",
		warmup, int(r.cfg.rate*r.cfg.latencyFor.Seconds()), r.cfg.rate)
	p("Achieved rates (median): %s.\n", r.achieved())
	p("- **CPU**: utime + stime of the process (/proc/<pid>/stat) when its last result was read, start-up included, per 1,000 commands.\n")
	p("- **Memory**: VmHWM (/proc/<pid>/status) at the same moment; per live aggregate divides it by the %d payments live at the end, the runtime's own footprint included; the growth per live aggregate subtracts VmRSS at the moment the first result was read (the runtime after start-up), so it is closer to what each payment costs, but it also holds buffers and, for the JVM, garbage not yet collected. It is not measurable when every result was readable in the first poll (then the baseline was taken after the work); docs/payment-rules.md (Memory) measures Prism's own figure per live payment in process. The JVM runs with its defaults: its heap may grow to a quarter of the machine's memory, so its resident memory is as much the collector's choice as the store's need.\n", r.live)
	p("- **Sinks**: not measured by this report. Each sink's benchmark against a bare client load of the same events (bare `COPY`, a bare Redis pipeline, bare `_bulk`) runs in `make bench`; its figures are in the README's Performance table and docs/sinks.md, docs/sinks-redis-elasticsearch.md. A sink peer on the JVM side (Kafka Connect) is not built.\n\n")

	p("## Targets of issue 13\n\n")
	p("%s\n\n", r.targets())

	p("## Exact commands\n\n")
	p("```sh\n(cd bench/peers/kstreams && mvn -B -q package)\ngo build -o bin/prism ./cmd/prism\ngo run ./bench/report %s\n```\n\n", strings.Join(os.Args[1:], " "))
	p("What bench/report ran (first of each kind; `XXXXXX` is a random namespace suffix):\n\n```sh\n")
	for _, c := range r.commands {
		p("%s\n", c)
	}
	p("```\n")
	return os.WriteFile(r.cfg.out, b.Bytes(), 0o644)
}

func num(v float64) string {
	switch {
	case v >= 100:
		return fmt.Sprintf("%.0f", v)
	case v >= 10:
		return fmt.Sprintf("%.1f", v)
	}
	return fmt.Sprintf("%.3g", v)
}

func (r *report) achieved() string {
	var parts []string
	for _, s := range r.order {
		var v []float64
		for _, l := range r.lat[s] {
			v = append(v, l.Rate)
		}
		parts = append(parts, fmt.Sprintf("%s %.0f/s", s, stats(v).Median))
	}
	return strings.Join(parts, ", ")
}

// targets compares the medians with the targets, as measured.
func (r *report) targets() string {
	if len(r.order) != 2 {
		return "–"
	}
	med := func(file string, s string) float64 {
		for _, m := range r.metrics() {
			if m.file == file {
				return stats(m.value(r, s)).Median
			}
		}
		return 0
	}
	pr, peer := r.order[0], r.order[1]
	if pr != "Prism" {
		pr, peer = peer, pr
	}
	met := func(ok bool) string {
		if ok {
			return "met"
		}
		return "**not met**"
	}
	tp := med("throughput", pr) / med("throughput", peer)
	p99p, p99k := med("latency-p99", pr), med("latency-p99", peer)
	mp, mk := med("memory-per-aggregate", pr), med("memory-per-aggregate", peer)
	gp, gk := med("memory-growth-per-aggregate", pr), med("memory-growth-per-aggregate", peer)
	growth := "the growth per live aggregate was not measurable for both"
	if gp != 0 && gk != 0 {
		growth = fmt.Sprintf("growth per live aggregate %s KiB against %s KiB — %s", num(gp), num(gk), met(gp < gk))
	}
	return fmt.Sprintf("- Prism ≥ 1.5× the peer's commands/s: %.2f× — %s (start-up included on both sides: a large part of the peer's time to drain here).\n- Lower p99: %s ms against %s ms — %s.\n"+
		"- Less memory per live aggregate: %s KiB against %s KiB peak per live aggregate, runtimes included — %s; %s.",
		tp, met(tp >= 1.5), num(p99p), num(p99k), met(p99p < p99k), num(mp), num(mk), met(mp < mk), growth)
}

// plot draws one figure: a bar per system at its median, a dot per round.
func (r *report) plot(m metric, file string) error {
	pl := plot.New()
	pl.Title.Text = m.title
	pl.Y.Label.Text = m.unit
	pl.Y.Min = 0
	w := vg.Points(40)
	colors := []color.Color{color.RGBA{R: 0x2b, G: 0x6c, B: 0xb0, A: 0xff}, color.RGBA{R: 0xd9, G: 0x6c, B: 0x1e, A: 0xff}}
	var names []string
	for i, s := range r.order {
		vals := slices.DeleteFunc(m.value(r, s), func(v float64) bool { return math.IsInf(v, 0) || math.IsNaN(v) })
		st := stats(vals)
		bars, err := plotter.NewBarChart(plotter.Values{st.Median}, w)
		if err != nil {
			return err
		}
		bars.XMin = float64(i)
		bars.Color = colors[i%len(colors)]
		bars.LineStyle.Width = 0
		pl.Add(bars)
		pts := make(plotter.XYs, len(vals))
		for j, v := range vals {
			pts[j] = plotter.XY{X: float64(i), Y: v}
		}
		sc, err := plotter.NewScatter(pts)
		if err != nil {
			return err
		}
		sc.GlyphStyle.Radius = vg.Points(2.5)
		pl.Add(sc)
		names = append(names, s)
	}
	pl.NominalX(names...)
	pl.X.Min, pl.X.Max = -0.6, float64(len(names))-0.4
	return pl.Save(5*vg.Inch, 3.5*vg.Inch, file)
}

// machine describes the machine and the versions.
func (r *report) machine(ctx context.Context) []string {
	var out []string
	cpu, _ := os.ReadFile("/proc/cpuinfo")
	model, cores := "", 0
	for _, l := range strings.Split(string(cpu), "\n") {
		if v, ok := strings.CutPrefix(l, "model name"); ok && model == "" {
			model = strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(v), ":"))
		}
		if strings.HasPrefix(l, "processor") {
			cores++
		}
	}
	out = append(out, fmt.Sprintf("CPU: %s, %d logical cores (/proc/cpuinfo)", model, cores))
	mem, _ := os.ReadFile("/proc/meminfo")
	for _, l := range strings.Split(string(mem), "\n") {
		if strings.HasPrefix(l, "MemTotal:") {
			out = append(out, "Memory: "+strings.Join(strings.Fields(strings.TrimPrefix(l, "MemTotal:")), " ")+" (/proc/meminfo)")
		}
	}
	if la, err := os.ReadFile("/proc/loadavg"); err == nil {
		out = append(out, "Load average when the report was written: "+strings.Join(strings.Fields(string(la))[:3], " "))
	}
	out = append(out, "Go: "+runtime.Version()+", "+runtime.GOOS+"/"+runtime.GOARCH)
	if v, err := exec.CommandContext(ctx, r.cfg.prism, "version").CombinedOutput(); err == nil {
		out = append(out, "Prism: "+strings.TrimSpace(firstLine(string(v))))
	}
	if v, err := exec.CommandContext(ctx, "java", "-version").CombinedOutput(); err == nil {
		out = append(out, "Java: "+strings.TrimSpace(firstLine(string(v))))
	}
	out = append(out, "Kafka Streams 4.1.1, Apache Avro 1.12.0, RocksDB (rocksdbjni) 9.7.3 (bench/peers/kstreams/pom.xml)")
	out = append(out, "Broker: Apache Kafka 4.1.1, one broker (scripts/kafka/pom.xml), at "+r.cfg.brokers)
	return out
}

func firstLine(s string) string {
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		return s[:i]
	}
	return s
}
