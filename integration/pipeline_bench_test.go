package integration

// The whole pipeline against bare writers of the same rows (issue 14,
// part 3): `make bench-e2e`.

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/elastic/go-elasticsearch/v8"
	"github.com/jackc/pgx/v5"
	goredis "github.com/redis/go-redis/v9"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/prism-cqrs/prism/internal/testkit"
	"github.com/prism-cqrs/prism/payment"
	"github.com/prism-cqrs/prism/payment/schemas"
	essink "github.com/prism-cqrs/prism/sinks/elasticsearch"
	redissink "github.com/prism-cqrs/prism/sinks/redis"
	"github.com/prism-cqrs/prism/sinks/sinktest"
)

// pipelineSinks are the four sinks of the pipeline benchmark, in the order
// they are reported; each is compared with the bare writer of its rows.
var pipelineSinks = []string{"postgres", "readmodels", "elasticsearch", "redis"}

// pipelinePartitions is the partition count of the benchmark's topics.
const pipelinePartitions = 12

// BenchmarkPipelineEndToEnd runs generated commands (PRISM_BENCH_COMMANDS,
// default 30,000: the shared 2-core machine; the figure is 100,000)
// through the real binary. Each round has three phases:
//
//   - End to end: the processor and the four sinks started together,
//     timed from the first command produced until the processor's group
//     and every sink group have lag 0 (polled every 100 ms).
//   - Catch-up: the five processes stopped and the targets checked, the
//     sinks' targets are emptied (schema dropped, indices deleted, keys
//     unlinked) and their groups deleted; the four sinks start together
//     again and read the events already on the topic. Each sink's time
//     runs from its group's assignment (the group Stable with a member:
//     the process started, set its target up and joined) to lag 0, polled
//     every 20 ms; the targets are checked again, Elasticsearch and Redis
//     too.
//   - Bare writers of the same rows, run together, each in batches of
//     1,000 (a fixed size, whatever the sinks'): two pgx CopyFrom (one row
//     per event into a copy of the payments table, one timeline row per
//     event into a copy of payment_timeline), one Elasticsearch _bulk of
//     the events' documents into an index with the sink's mapping, one
//     Redis pipeline of what the Redis sink writes (each document and its
//     recent-index entry; per pipeline the invalidation message, the
//     organizations' trims and change counters, the offsets: see
//     bareRedisSameWrites). The rows are the events the sinks consumed,
//     read back from the events topic. Then a second pass of the four,
//     the same but with plain SETs of the documents alone as the Redis
//     writer (the Redis reference before, printed beside).
//
// Why two figures per sink: in the end-to-end phase a sink's rate (events
// over the time its group reached lag 0) cannot exceed the processor's, so
// for a sink faster than the processor it measures the processor. The
// catch-up phase has every event on the topic at the start, so a sink's
// rate there is its own (with the other three sinks running beside it, as
// the bare writers run beside each other).
//
// Printed per round and as min/median/max over PRISM_BENCH_ROUNDS rounds
// (default 3): the end-to-end time, the bare writers' time together, their
// ratio (target ≤ 2); per sink its end-to-end rate and its catch-up rate,
// each as a share of its bare writer's rate in that round (target ≥ 50 %
// for the catch-up rate). The figures go to stdout (go test keeps only the
// first lines of a benchmark's log). PRISM_BENCH_SINK_ARGS adds flags to
// every sink (for example "--batch-max-records 5000"). b.N is 1: one
// iteration runs every round.
func BenchmarkPipelineEndToEnd(b *testing.B) {
	n := testkit.EnvInt(b, "PRISM_BENCH_COMMANDS", 30_000)
	rounds := testkit.EnvInt(b, "PRISM_BENCH_ROUNDS", 3)
	var res []pipelineRound
	for i := 0; i < b.N; i++ {
		for r := 0; r < rounds; r++ {
			x := runPipelineRound(b, n, uint64(40+r))
			fmt.Printf("round %d: %s\n", r+1, x)
			res = append(res, x)
		}
	}
	pick := func(f func(pipelineRound) float64) []float64 {
		out := make([]float64, len(res))
		for i, x := range res {
			out[i] = f(x)
		}
		slices.Sort(out)
		return out
	}
	median := func(v []float64) float64 { return (v[(len(v)-1)/2] + v[len(v)/2]) / 2 }
	mmm := func(v []float64, format string) string {
		return fmt.Sprintf(format+" / "+format+" / "+format, v[0], median(v), v[len(v)-1])
	}
	e2e := pick(func(x pipelineRound) float64 { return x.e2e.Seconds() })
	bare := pick(func(x pipelineRound) float64 { return x.bare.Seconds() })
	ratio := pick(func(x pipelineRound) float64 { return x.e2e.Seconds() / x.bare.Seconds() })
	fmt.Printf("%d commands, %d events, %d rounds (min / median / max):\n", n, res[0].events, len(res))
	fmt.Printf("  end to end   %s s\n", mmm(e2e, "%.1f"))
	fmt.Printf("  processor    %s s (its group at lag 0)\n", mmm(pick(func(x pipelineRound) float64 { return x.processor.Seconds() }), "%.1f"))
	fmt.Printf("  bare writers %s s (together)\n", mmm(bare, "%.1f"))
	fmt.Printf("  ratio        %s (target ≤ 2)\n", mmm(ratio, "%.2f"))
	fmt.Println("  per sink, end-to-end phase (its rate bounded by the processor's):")
	for _, s := range pipelineSinks {
		rate := pick(func(x pipelineRound) float64 { return x.rate(s) })
		share := pick(func(x pipelineRound) float64 { return 100 * x.rate(s) / x.bareRate(s) })
		fmt.Printf("    %-13s %s events/s; %s %% of bare\n", s, mmm(rate, "%.0f"), mmm(share, "%.0f"))
	}
	fmt.Println("  per sink, catch-up phase (the four together on the topic's events, from their groups' assignment):")
	for _, s := range pipelineSinks {
		rate := pick(func(x pipelineRound) float64 { return x.catchUpRate(s) })
		bareRate := pick(func(x pipelineRound) float64 { return x.bareRate(s) })
		share := pick(func(x pipelineRound) float64 { return 100 * x.catchUpRate(s) / x.bareRate(s) })
		fmt.Printf("    %-13s %s events/s; bare %s rows/s; %s %% of bare (target ≥ 50)\n", s, mmm(rate, "%.0f"), mmm(bareRate, "%.0f"), mmm(share, "%.0f"))
		b.ReportMetric(median(share), s+"_%_of_bare")
	}
	setOnly := pick(func(x pipelineRound) float64 { return x.bareRate(redisSetOnly) })
	setShare := pick(func(x pipelineRound) float64 { return 100 * x.catchUpRate("redis") / x.bareRate(redisSetOnly) })
	fmt.Printf("    %-13s second pass, plain SETs of the documents %s rows/s: redis catch-up %s %% of it (reference)\n", "", mmm(setOnly, "%.0f"), mmm(setShare, "%.0f"))
	b.ReportMetric(median(e2e), "e2e_s")
	b.ReportMetric(median(bare), "bare_s")
	b.ReportMetric(median(ratio), "ratio")
}

// pipelineRound is one round's measurements.
type pipelineRound struct {
	events    int
	e2e       time.Duration            // first command → every group at lag 0
	processor time.Duration            // first command → the processor's group at lag 0
	caughtUp  map[string]time.Duration // per sink: first command → its group at lag 0
	catchUp   map[string]time.Duration // catch-up phase, per sink: its group assigned → lag 0
	joined    map[string]time.Duration // catch-up phase, per sink: process started → its group assigned
	bare      time.Duration            // the four bare writers run together
	bareEach  map[string]time.Duration // per sink: its bare writer alone in that run
	bareCount map[string]int           // rows each bare writer wrote
}

// rate is a sink's rate in the end-to-end phase (bounded by the processor's).
func (x pipelineRound) rate(sink string) float64 {
	return float64(x.events) / x.caughtUp[sink].Seconds()
}

// catchUpRate is a sink's rate in the catch-up phase: the events over the
// time from its group's assignment to lag 0.
func (x pipelineRound) catchUpRate(sink string) float64 {
	return float64(x.events) / x.catchUp[sink].Seconds()
}

func (x pipelineRound) bareRate(sink string) float64 {
	return float64(x.bareCount[sink]) / x.bareEach[sink].Seconds()
}

func (x pipelineRound) String() string {
	s := fmt.Sprintf("%d events: end to end %.1fs (processor %.1fs), bare writers %.1fs, ratio %.2f;",
		x.events, x.e2e.Seconds(), x.processor.Seconds(), x.bare.Seconds(), x.e2e.Seconds()/x.bare.Seconds())
	for _, k := range pipelineSinks {
		s += fmt.Sprintf("\n  %-13s end to end %.1fs %.0f/s (%.0f%%), catch-up %.2fs %.0f/s (joined in %.1fs) vs bare %.2fs %.0f/s: %.0f%% of bare",
			k, x.caughtUp[k].Seconds(), x.rate(k), 100*x.rate(k)/x.bareRate(k),
			x.catchUp[k].Seconds(), x.catchUpRate(k), x.joined[k].Seconds(),
			x.bareEach[k].Seconds(), x.bareRate(k), 100*x.catchUpRate(k)/x.bareRate(k))
	}
	s += fmt.Sprintf("\n  %-13s second pass, plain SETs of the documents %.2fs %.0f/s: redis catch-up %.0f%% of it",
		"", x.bareEach[redisSetOnly].Seconds(), x.bareRate(redisSetOnly), 100*x.catchUpRate("redis")/x.bareRate(redisSetOnly))
	return s
}

// runPipelineRound runs one round in a fresh namespace (topics, schema,
// index, keys; deleted when the benchmark ends): the end-to-end phase, the
// catch-up phase on the events it produced, the bare writers.
func runPipelineRound(b *testing.B, n int, seed uint64) pipelineRound {
	ctx := testkit.Context(b, 15*time.Minute)
	e := newSinkEnv(b, pipelinePartitions)
	es, rs := esAndRedisStores(b, e)
	cmds, x := generateSinkCommands(n, seed, e.ns)
	extra := strings.Fields(os.Getenv("PRISM_BENCH_SINK_ARGS"))
	startSinks := func(prefix string) []*sinkProc {
		return []*sinkProc{
			e.startSink(prefix+"postgres", "postgres", extra...),
			e.startSink(prefix+"readmodels", "readmodels", extra...),
			e.startSink(prefix+"elasticsearch", "elasticsearch", append([]string{"--elasticsearch-url", es.url}, extra...)...),
			e.startSink(prefix+"redis", "redis", append([]string{"--redis-url", rs.url}, extra...)...),
		}
	}
	proc := e.startProcessor("proc-bench")
	procs := startSinks("sink-")
	// Let the five processes join their groups before the clock starts.
	time.Sleep(8 * time.Second)
	res := pipelineRound{events: len(x.events), caughtUp: map[string]time.Duration{}}
	start := time.Now()
	e.produceCommands(ctx, cmds)
	adm := kadm.NewClient(e.cl)
	groups := []string{e.names.ProcessorGroup()}
	for _, s := range pipelineSinks {
		groups = append(groups, e.names.SinkGroup(s))
	}
	for deadline := time.Now().Add(10 * time.Minute); len(res.caughtUp) < len(pipelineSinks); time.Sleep(100 * time.Millisecond) {
		if time.Now().After(deadline) {
			b.Fatalf("the pipeline did not reach lag 0 within 10 minutes (caught up: %v)", res.caughtUp)
		}
		lags, err := adm.Lag(ctx, groups...)
		if err != nil || !groupAtZero(lags, e.names.ProcessorGroup(), e.names.CommandsTopic()) {
			continue
		}
		at := time.Since(start)
		if res.processor == 0 {
			res.processor = at
		}
		for _, s := range pipelineSinks {
			if _, done := res.caughtUp[s]; !done && groupAtZero(lags, e.names.SinkGroup(s), e.names.EventsTopic()) {
				res.caughtUp[s] = at
			}
		}
	}
	for _, d := range res.caughtUp {
		res.e2e = max(res.e2e, d)
	}
	for i, s := range pipelineSinks {
		fmt.Printf("  end to end %-13s %s\n", s, sinkBatchStats(b, procs[i]))
	}
	for _, p := range append(procs, proc) {
		p.stop(b)
	}
	checkPipelineTargets(b, ctx, e, es, rs, x, start, false)

	// The catch-up phase: the four sinks again, on empty targets and new
	// groups, with every event already on the topic.
	resetSinkTargets(b, ctx, e, es, rs)
	res.catchUp, res.joined = map[string]time.Duration{}, map[string]time.Duration{}
	assigned := map[string]time.Time{}
	started := time.Now()
	procs = startSinks("catchup-")
	groups = groups[1:]
	for deadline := time.Now().Add(10 * time.Minute); len(res.catchUp) < len(pipelineSinks); time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			b.Fatalf("the sinks did not catch up within 10 minutes (caught up: %v)", res.catchUp)
		}
		lags, err := adm.Lag(ctx, groups...)
		if err != nil {
			continue
		}
		now := time.Now()
		for _, s := range pipelineSinks {
			g := lags[e.names.SinkGroup(s)]
			if _, ok := assigned[s]; !ok && g.State == "Stable" && len(g.Members) > 0 {
				assigned[s] = now
				res.joined[s] = now.Sub(started)
			}
			if _, done := res.catchUp[s]; !done && !assigned[s].IsZero() && groupAtZero(lags, e.names.SinkGroup(s), e.names.EventsTopic()) {
				res.catchUp[s] = now.Sub(assigned[s])
			}
		}
	}
	for i, s := range pipelineSinks {
		fmt.Printf("  catch-up   %-13s %s\n", s, sinkBatchStats(b, procs[i]))
	}
	for _, p := range procs {
		p.stop(b)
	}
	checkPipelineTargets(b, ctx, e, es, rs, x, start, true)

	evs := readEvents(b, ctx, e, len(x.events))
	res.bare, res.bareEach, res.bareCount = runBareWriters(b, ctx, e, es, rs, evs, false)
	// The reference the Redis sink was held to before: the same pass with
	// plain SETs of the documents as the Redis writer.
	_, each, count := runBareWriters(b, ctx, e, es, rs, evs, true)
	res.bareEach[redisSetOnly], res.bareCount[redisSetOnly] = each["redis"], count["redis"]
	return res
}

// checkPipelineTargets fails the benchmark when the payments table or the
// read models (and, with all, the Elasticsearch index and the Redis
// documents) differ from the expectation computed from the commands.
func checkPipelineTargets(b *testing.B, ctx context.Context, e *sinkEnv, es *esStore, rs *redisStore, x sinkExpect, start time.Time, all bool) {
	if diffs := e.checkPostgresSink(ctx, x); len(diffs) > 0 {
		b.Fatalf("payments table differs: %v", diffs[:min(len(diffs), 5)])
	}
	if diffs := e.checkReadModels(ctx, x, start.Add(-time.Minute)); len(diffs) > 0 {
		b.Fatalf("read models differ: %v", diffs[:min(len(diffs), 5)])
	}
	if !all {
		return
	}
	ignore := []sinktest.Field{sinktest.FieldCreatedAt, sinktest.FieldUpdatedAt}
	for name, read := range map[string]func(context.Context) (map[string]schemas.Payment, error){"elasticsearch": es.Payments, "redis": rs.Payments} {
		got, err := read(ctx)
		if err != nil {
			b.Fatalf("read %s: %v", name, err)
		}
		if diffs := sinktest.DiffPayments(x.live(), got, 5, ignore...); len(diffs) > 0 {
			b.Fatalf("%s differs: %v", name, diffs)
		}
	}
}

// resetSinkTargets empties the four sinks' targets and deletes their groups
// (the sinks stopped): the schema dropped, the indices deleted, the Redis
// keys unlinked. Sinks started afterwards set their targets up again and
// read the events topic from its start.
func resetSinkTargets(b *testing.B, ctx context.Context, e *sinkEnv, es *esStore, rs *redisStore) {
	if _, err := e.pool.Exec(ctx, `DROP SCHEMA `+pgx.Identifier{e.schema}.Sanitize()+` CASCADE`); err != nil {
		b.Fatalf("drop schema: %v", err)
	}
	if st, err := es.call(ctx, http.MethodDelete, "/"+e.names.ElasticsearchAlias()+"-v*", nil, nil); err != nil || st != http.StatusOK {
		b.Fatalf("delete indices: status %d: %v", st, err)
	}
	for cursor := uint64(0); ; {
		keys, next, err := rs.client.Scan(ctx, cursor, e.names.RedisPrefix()+"*", 5000).Result()
		if err != nil {
			b.Fatalf("scan keys: %v", err)
		}
		if len(keys) > 0 {
			if err := rs.client.Unlink(ctx, keys...).Err(); err != nil {
				b.Fatalf("unlink keys: %v", err)
			}
		}
		if cursor = next; cursor == 0 {
			break
		}
	}
	var groups []string
	for _, s := range pipelineSinks {
		groups = append(groups, e.names.SinkGroup(s))
	}
	resps, err := kadm.NewClient(e.cl).DeleteGroups(ctx, groups...)
	if err == nil {
		err = resps.Error()
	}
	if err != nil {
		b.Fatalf("delete groups: %v", err)
	}
}

// sinkBatchStats summarizes the payment runner's batch metrics of a sink
// (docs/sinks.md, /metrics): batches, mean records per batch, the time
// spent in the target's Write in all and per batch.
func sinkBatchStats(b *testing.B, p *sinkProc) string {
	resp, err := http.Get("http://" + p.http + "/metrics")
	if err != nil {
		b.Fatalf("metrics: %v", err)
	}
	defer resp.Body.Close()
	v := map[string]float64{}
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		name, rest, ok := strings.Cut(sc.Text(), "{")
		if !ok || !strings.Contains(rest, `aggregate="payment"`) {
			continue
		}
		if f, err := strconv.ParseFloat(rest[strings.LastIndexByte(rest, ' ')+1:], 64); err == nil {
			v[name] = f
		}
	}
	n := v["prism_sink_batch_write_seconds_count"]
	if n == 0 {
		return "no batch written"
	}
	return fmt.Sprintf("%.0f batches of %.0f records on average, Write %.2fs in all (%.0f ms per batch)",
		n, v["prism_sink_batch_records_sum"]/v["prism_sink_batch_records_count"], v["prism_sink_batch_write_seconds_sum"],
		1000*v["prism_sink_batch_write_seconds_sum"]/n)
}

// groupAtZero reports whether group has committed the end of every
// partition of topic.
func groupAtZero(lags kadm.DescribedGroupLags, group, topic string) bool {
	gl, ok := lags[group]
	if !ok || gl.Error() != nil {
		return false
	}
	t, ok := gl.Lag.TotalByTopic()[topic]
	return ok && t.Lag == 0
}

// readEvents reads the want committed events of e's events topic, decoded
// (tombstones skipped).
func readEvents(b *testing.B, ctx context.Context, e *sinkEnv, want int) []*schemas.EventEnvelope {
	cl, err := kgo.NewClient(kgo.SeedBrokers(e.brokers...), kgo.ConsumeTopics(e.names.EventsTopic()),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		b.Fatal(err)
	}
	defer cl.Close()
	out := make([]*schemas.EventEnvelope, 0, want)
	for len(out) < want {
		fs := cl.PollFetches(ctx)
		if err := fs.Err0(); err != nil {
			b.Fatalf("read events: %v", err)
		}
		for it := fs.RecordIter(); !it.Done(); {
			rec := it.Next()
			if len(rec.Value) == 0 {
				continue // the tombstone after a PaymentDeleted
			}
			ev, err := e.codec.DecodeEvent(rec.Value)
			if err != nil {
				b.Fatalf("decode event: %v", err)
			}
			out = append(out, ev)
		}
	}
	return out
}

// runBareWriters writes the rows of evs with the four bare writers at once
// and returns the time until all finished, each one's time and its rows.
// With setOnly the Redis writer writes the documents alone, plain SETs
// (and every writer its own tables, index and keys).
func runBareWriters(b *testing.B, ctx context.Context, e *sinkEnv, es *esStore, rs *redisStore, evs []*schemas.EventEnvelope, setOnly bool) (time.Duration, map[string]time.Duration, map[string]int) {
	const batch = 1000
	pass := 0
	if setOnly {
		pass = 1
	}
	bare := fmt.Sprintf("bare%d", pass)
	// The targets of the copies, made before the clock starts.
	for _, t := range []string{"payments", "payment_timeline"} {
		if _, err := e.pool.Exec(ctx, `CREATE TABLE `+e.table(bare+"_"+t)+` (LIKE `+e.table(t)+` INCLUDING ALL)`); err != nil {
			b.Fatal(err)
		}
	}
	cfg := essink.DefaultConfig(es.url, e.names)
	cfg.IndexVersion, cfg.Direct = 2+pass, true // the sink's mapping, another index
	bareIndex, err := essink.NewTarget(cfg, payment.ElasticsearchProjection{})
	if err != nil {
		b.Fatal(err)
	}
	defer bareIndex.Close()
	if err := bareIndex.Setup(ctx); err != nil {
		b.Fatal(err)
	}
	client, err := elasticsearch.NewClient(elasticsearch.Config{Addresses: []string{es.url}})
	if err != nil {
		b.Fatal(err)
	}

	// Every writer's input, built before the clock starts.
	var payRows, timeRows [][]any
	var esBodies [][]byte
	var redisKeys []string
	var redisDocs [][]byte
	var redisIdx []redisIndexEntry
	var body bytes.Buffer
	for i, ev := range evs {
		payRows, timeRows = bareRows(ev, payRows, timeRows)
		if p := ev.State; p != nil {
			doc, _ := json.Marshal(map[string]any{"id": p.ID, "organization_id": p.OrganizationID, "user_id": p.UserID,
				"amount_minor": p.AmountMinor, "amount": json.Number(testDecimal(p.AmountMinor, p.Currency)), "currency": p.Currency,
				"description": p.Description, "status": p.Status, "created_at": p.CreatedAt.Format(time.RFC3339Nano),
				"updated_at": p.UpdatedAt.Format(time.RFC3339Nano), "version": p.Version})
			fmt.Fprintf(&body, `{"index":{"_index":%q,"_id":%q}}`+"\n%s\n", e.names.ElasticsearchIndex(2), ev.EventID, doc)
			redisKeys = append(redisKeys, rs.keys.Doc(bare+"-"+ev.EventID))
			redisDocs = append(redisDocs, doc)
			redisIdx = append(redisIdx, redisIndexEntry{org: bare + "-" + p.OrganizationID, id: bare + "-" + ev.EventID,
				score: float64(p.CreatedAt.UnixMilli()), version: p.Version})
		}
		if ((i+1)%batch == 0 || i == len(evs)-1) && body.Len() > 0 {
			esBodies = append(esBodies, bytes.Clone(body.Bytes()))
			body.Reset()
		}
	}
	copyRows := func(table string, cols []string, rows [][]any) error {
		for i := 0; i < len(rows); i += batch {
			if _, err := e.pool.CopyFrom(ctx, pgx.Identifier{e.schema, table}, cols, pgx.CopyFromRows(rows[i:min(i+batch, len(rows))])); err != nil {
				return fmt.Errorf("CopyFrom %s: %w", table, err)
			}
		}
		return nil
	}
	writers := map[string]func() error{
		"postgres": func() error { return copyRows(bare+"_payments", barePaymentCols, payRows) },
		"readmodels": func() error {
			return copyRows(bare+"_payment_timeline", bareTimelineCols, timeRows)
		},
		"elasticsearch": func() error {
			for _, body := range esBodies {
				res, err := client.Bulk(bytes.NewReader(body), client.Bulk.WithContext(ctx))
				if err != nil {
					return fmt.Errorf("bare bulk: %w", err)
				}
				var br struct{ Errors bool }
				err = json.NewDecoder(res.Body).Decode(&br)
				res.Body.Close()
				if err != nil || res.StatusCode != http.StatusOK || br.Errors {
					return fmt.Errorf("bare bulk: status %d, errors %v, %v", res.StatusCode, br.Errors, err)
				}
			}
			return nil
		},
		"redis": func() error {
			if setOnly {
				return bareRedisSets(ctx, rs, redisKeys, redisDocs, batch)
			}
			return bareRedisSameWrites(ctx, rs, redisKeys, redisDocs, redisIdx, batch)
		},
	}
	counts := map[string]int{"postgres": len(payRows), "readmodels": len(timeRows), "elasticsearch": len(redisKeys), "redis": len(redisKeys)}
	each := map[string]time.Duration{}
	var mu sync.Mutex
	var wg sync.WaitGroup
	errs := make(chan error, len(writers))
	start := time.Now()
	for name, w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			t0 := time.Now()
			if err := w(); err != nil {
				errs <- err
				return
			}
			mu.Lock()
			each[name] = time.Since(t0)
			mu.Unlock()
		}()
	}
	wg.Wait()
	all := time.Since(start)
	close(errs)
	for err := range errs {
		b.Fatal(err)
	}
	return all, each, counts
}

// bareRedisSets writes the documents alone, plain SETs with the sink's
// TTL, in pipelines of batch.
func bareRedisSets(ctx context.Context, rs *redisStore, keys []string, docs [][]byte, batch int) error {
	for i := 0; i < len(keys); i += batch {
		pipe := rs.client.Pipeline()
		for j := i; j < min(i+batch, len(keys)); j++ {
			pipe.Set(ctx, keys[j], docs[j], redissink.DefaultTTL)
		}
		if _, err := pipe.Exec(ctx); err != nil {
			return fmt.Errorf("bare SET pipeline: %w", err)
		}
	}
	return nil
}

// redisSetOnly names, in a round's bare figures, the Redis writer of the
// second pass: the documents alone, plain SETs (the reference before the
// same writes).
const redisSetOnly = "redis SET only"

// redisIndexEntry is a document's entry in its organization's recent index.
type redisIndexEntry struct {
	org, id string
	score   float64
	version int64
}

// bareRedisSameWrites writes what the Redis sink writes for the same
// events (README, "Redis"), in pipelines of batch events: each document
// (SET with the sink's TTL) and its entry in the organization's recent
// index (ZADD); per pipeline, as the sink per chunk, one invalidation
// message (PUBLISH), per organization the trim, EXPIRE and change counter
// (INCR), and the partitions' offsets (SET). Keys are the bench's own
// ("bare0-" ids and organizations), so the sink's are left as checked.
func bareRedisSameWrites(ctx context.Context, rs *redisStore, keys []string, docs [][]byte, idx []redisIndexEntry, batch int) error {
	var msgs []byte
	for i := 0; i < len(keys); i += batch {
		pipe := rs.client.Pipeline()
		orgs := map[string]bool{}
		msgs = append(msgs[:0], '[')
		for j := i; j < min(i+batch, len(keys)); j++ {
			x := idx[j]
			pipe.Set(ctx, keys[j], docs[j], redissink.DefaultTTL)
			pipe.ZAdd(ctx, rs.keys.Recent(x.org), goredis.Z{Score: x.score, Member: x.id})
			orgs[x.org] = true
			if j > i {
				msgs = append(msgs, ',')
			}
			msgs = fmt.Appendf(msgs, `{"organizationId":%q,"paymentId":%q,"version":%d}`, x.org, x.id, x.version)
		}
		pipe.Publish(ctx, rs.keys.InvalidateChannel(), append(msgs, ']'))
		for org := range orgs {
			pipe.ZRemRangeByRank(ctx, rs.keys.Recent(org), 0, -(redissink.DefaultRecentSize + 1))
			pipe.Expire(ctx, rs.keys.Recent(org), redissink.DefaultTTL)
			pipe.Incr(ctx, rs.keys.CacheVersion(org))
		}
		for p := range pipelinePartitions {
			pipe.Set(ctx, rs.keys.Offset("bare", int32(p)), i+batch, 0)
		}
		if _, err := pipe.Exec(ctx); err != nil {
			return fmt.Errorf("bare pipeline: %w", err)
		}
	}
	return nil
}

var (
	barePaymentCols  = []string{"id", "organization_id", "user_id", "amount_minor", "currency", "description", "status", "created_at", "updated_at", "version"}
	bareTimelineCols = []string{"event_id", "aggregate_id", "organization_id", "type", "occurred_at", "correlation_id", "version", "data", "metadata"}
)

// bareRows appends ev's payments row (its state under the event id, so
// every row is new) and its timeline row, as the sinks' benchmarks in
// sinks/postgres/bench_test.go and sinks/readmodels/bench_test.go build them.
func bareRows(ev *schemas.EventEnvelope, pay, timeline [][]any) ([][]any, [][]any) {
	if s := ev.State; s != nil {
		pay = append(pay, []any{ev.EventID, s.OrganizationID, s.UserID, s.AmountMinor, s.Currency, s.Description,
			string(s.Status), s.CreatedAt, s.UpdatedAt, s.Version})
	}
	var change any
	switch pl := ev.Payload; {
	case pl.Created != nil:
		change = pl.Created
	case pl.Updated != nil:
		change = pl.Updated
	case pl.StatusChanged != nil:
		change = pl.StatusChanged
	default:
		change = pl.Deleted
	}
	data, _ := json.Marshal(change)
	meta, _ := json.Marshal(map[string]any{"commandId": ev.CommandID, "causationId": ev.CausationID,
		"correlationId": ev.CorrelationID, "topic": "bench.events", "partition": 0, "offset": 0})
	return pay, append(timeline, []any{ev.EventID, ev.AggregateID, ev.OrganizationID, ev.Type, ev.OccurredAt, ev.CorrelationID,
		ev.Version, string(data), string(meta)})
}
