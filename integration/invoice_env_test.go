package integration

// The invoice aggregate's end-to-end environment: a namespace on the real
// services, the pipeline run through the prism binary (topology apply,
// process, sinks, produce), and readers that compare every read source
// with an expectation computed in the test from the invoice generator's
// own model (invoice.Generator), never from the processor's rules.

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	goredis "github.com/redis/go-redis/v9"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/prism-cqrs/prism/internal/testkit"
	"github.com/prism-cqrs/prism/invoice"
	"github.com/prism-cqrs/prism/invoice/schemas"
	"github.com/prism-cqrs/prism/topology"
)

// invEnv is one namespace with every service, for the invoice tests.
type invEnv struct {
	t                      *testing.T
	ns, bin                string
	brokers                []string
	pgURL, redisURL, esURL string
	names                  topology.Names // the invoices' names
	schema                 string
	pool                   *pgxpool.Pool
	rdb                    *goredis.Client
	cl                     *kgo.Client
	codec                  *schemas.Codec
	procs                  map[string]*prismProc
	sinkAddrs              map[string]string
	partitions             int
}

// newInvEnv applies the namespace's topology (every registered aggregate)
// with partitions per topic and removes everything at cleanup.
func newInvEnv(t *testing.T, partitions int) *invEnv {
	t.Helper()
	e := &invEnv{
		t: t, ns: testkit.Namespace(t), bin: testkit.PrismBinary(t), brokers: testkit.KafkaBrokers(t),
		pgURL: testkit.PostgresURL(t), redisURL: testkit.RedisURL(t), esURL: strings.TrimRight(testkit.ElasticsearchURL(t), "/"),
		procs: map[string]*prismProc{}, sinkAddrs: map[string]string{}, partitions: partitions,
	}
	e.names = topology.NewNames(e.ns).Aggregate("invoices")
	e.schema = e.names.PostgresSchema()
	var err error
	if e.codec, err = schemas.NewCodec(); err != nil {
		t.Fatal(err)
	}
	if e.cl, err = kgo.NewClient(kgo.SeedBrokers(e.brokers...), kgo.ProducerLinger(5*time.Millisecond)); err != nil {
		t.Fatal(err)
	}
	if e.pool, err = pgxpool.New(context.Background(), e.pgURL); err != nil {
		t.Fatal(err)
	}
	opts, err := goredis.ParseURL(e.redisURL)
	if err != nil {
		t.Fatal(err)
	}
	e.rdb = goredis.NewClient(opts)
	t.Cleanup(e.cleanup)
	ctx := testkit.Context(t, 2*time.Minute)
	r := runPrism(t, ctx, "", e.global("topology", "apply", "--partitions", fmt.Sprint(partitions))...)
	if r.code != 0 {
		t.Fatalf("prism topology apply: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	return e
}

// global returns args after the global flags of the namespace.
func (e *invEnv) global(args ...string) []string {
	return append([]string{"--namespace", e.ns, "--brokers", strings.Join(e.brokers, ","), "--postgres-url", e.pgURL,
		"--redis-url", e.redisURL, "--elasticsearch-url", e.esURL, "--log-level", "info"}, args...)
}

func (e *invEnv) cleanup() {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	adm := kadm.NewClient(e.cl)
	if topics, err := adm.ListTopics(ctx); err == nil {
		var mine []string
		for _, name := range topics.Names() {
			if strings.HasPrefix(name, e.ns+".") {
				mine = append(mine, name)
			}
		}
		if len(mine) > 0 {
			_, _ = adm.DeleteTopics(ctx, mine...)
		}
	}
	e.cl.Close()
	if _, err := e.pool.Exec(ctx, `DROP SCHEMA IF EXISTS `+pgx.Identifier{e.schema}.Sanitize()+` CASCADE`); err != nil {
		e.t.Logf("drop schema %s: %v", e.schema, err)
	}
	e.pool.Close()
	iter := e.rdb.Scan(ctx, 0, e.names.RedisPrefix()+"*", 1000).Iterator()
	for iter.Next(ctx) {
		e.rdb.Del(ctx, iter.Val())
	}
	e.rdb.Close()
	for _, plural := range []string{"invoices", "payments"} {
		alias := topology.NewNames(e.ns).Aggregate(plural).ElasticsearchAlias()
		if req, err := http.NewRequestWithContext(ctx, http.MethodDelete, e.esURL+"/"+alias+"-v*", nil); err == nil {
			if res, err := http.DefaultClient.Do(req); err == nil {
				res.Body.Close()
			}
		}
	}
}

// startProcessor runs `prism process` for every registered aggregate.
func (e *invEnv) startProcessor(name string) *prismProc {
	e.t.Helper()
	p := startPrismProc(e.t, e.bin, name, e.global("process", "--http", "", "--instance-id", name,
		"--session-timeout", "6s")...)
	e.procs[name] = p
	return p
}

// startSink runs `prism sink <sink>` for every registered aggregate.
func (e *invEnv) startSink(name, sink string) *prismProc {
	e.t.Helper()
	addr, ok := e.sinkAddrs[name]
	if !ok {
		addr = freeAddr(e.t)
		e.sinkAddrs[name] = addr
	}
	p := startPrismProc(e.t, e.bin, name, e.global("sink", sink, "--http", addr, "--session-timeout", "6s",
		"--batch-max-wait", "100ms", "--backoff-max", "2s")...)
	e.procs[name] = p
	return p
}

// startAll runs one processor and the four sinks.
func (e *invEnv) startAll() {
	e.startProcessor("proc-1")
	for _, s := range []string{"postgres", "readmodels", "redis", "elasticsearch"} {
		e.startSink("sink-"+s, s)
	}
}

// generate builds a reproducible invoice workload of n commands and writes
// it as a JSON Lines file; it returns the file and the generator (whose
// model holds the expected invoices) and every command's expectation by
// command id.
func (e *invEnv) generate(n int, seed int64, invalid float64) (string, *invoice.Generator, map[string]invoice.Expectation) {
	e.t.Helper()
	gen, err := invoice.NewGenerator(invoice.GeneratorConfig{Count: n, Seed: seed, InvalidRatio: invalid,
		Organizations: 5, IDPrefix: e.ns + "-g" + fmt.Sprint(seed)})
	if err != nil {
		e.t.Fatal(err)
	}
	path := filepath.Join(e.t.TempDir(), fmt.Sprintf("invoices-%d.jsonl", seed))
	f, err := os.Create(path)
	if err != nil {
		e.t.Fatal(err)
	}
	defer f.Close()
	want := map[string]invoice.Expectation{}
	for {
		c, ok := gen.Next()
		if !ok {
			break
		}
		b, err := c.JSON()
		if err != nil {
			e.t.Fatal(err)
		}
		if _, err := f.Write(append(b, '\n')); err != nil {
			e.t.Fatal(err)
		}
		want[c.Line.CommandID] = c.Expect
	}
	return path, gen, want
}

// produceFile runs `prism produce --file path`.
func (e *invEnv) produceFile(ctx context.Context, path string, extra ...string) {
	e.t.Helper()
	if err := e.runProduce(ctx, path, extra...); err != nil {
		e.t.Fatal(err)
	}
}

// runProduce is produceFile for another goroutine than the test's: it
// returns the failure.
func (e *invEnv) runProduce(ctx context.Context, path string, extra ...string) error {
	cmd := exec.CommandContext(ctx, e.bin, e.global(append([]string{"produce", "--file", path, "--progress", "none"}, extra...)...)...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		return fmt.Errorf("prism produce --file %s: %v\n%s", filepath.Base(path), err, out)
	}
	return nil
}

// splitFile writes the lines of path from index from (0-based) to to
// (exclusive) into a new file.
func splitFile(t *testing.T, path string, from, to int) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.SplitAfter(string(b), "\n")
	out := filepath.Join(t.TempDir(), fmt.Sprintf("part-%d-%d.jsonl", from, to))
	if err := os.WriteFile(out, []byte(strings.Join(lines[from:min(to, len(lines))], "")), 0o644); err != nil {
		t.Fatal(err)
	}
	return out
}

// ---------------------------------------------------------------- expectations

// expectedInvoices indexes the generator's model by id.
func expectedInvoices(gen *invoice.Generator) map[string]invoice.ExpectedInvoice {
	out := map[string]invoice.ExpectedInvoice{}
	for _, inv := range gen.Invoices() {
		out[inv.ID] = inv
	}
	return out
}

// expectedReceivables sums the ISSUED invoices per organization and
// currency ("org/EUR").
func expectedReceivables(want map[string]invoice.ExpectedInvoice) map[string]invoice.Receivables {
	out := map[string]invoice.Receivables{}
	for _, inv := range want {
		if inv.Status != schemas.StatusIssued {
			continue
		}
		k := inv.OrganizationID + "/" + inv.Currency
		r := out[k]
		r.OrganizationID, r.Currency = inv.OrganizationID, inv.Currency
		r.OpenCount++
		r.OpenTotalMinor += inv.TotalMinor
		out[k] = r
	}
	return out
}

// invoiceDiff lists how got differs from want (at most a few lines).
func invoiceDiff(want invoice.ExpectedInvoice, got *schemas.Invoice) string {
	switch {
	case got == nil:
		return "missing"
	case got.OrganizationID != want.OrganizationID || got.Currency != want.Currency:
		return fmt.Sprintf("organization/currency %s/%s, want %s/%s", got.OrganizationID, got.Currency, want.OrganizationID, want.Currency)
	case got.Status != want.Status || got.Version != want.Version:
		return fmt.Sprintf("status %s v%d, want %s v%d", got.Status, got.Version, want.Status, want.Version)
	case got.TotalMinor != want.TotalMinor || !slices.Equal(got.Lines, want.Lines):
		return fmt.Sprintf("total %d lines %v, want %d %v", got.TotalMinor, got.Lines, want.TotalMinor, want.Lines)
	case !slices.Equal(got.PaymentIDs, want.PaymentIDs):
		return fmt.Sprintf("payment ids %v, want %v", got.PaymentIDs, want.PaymentIDs)
	}
	return ""
}

// compareInvoices lists the differences between a read source's invoices
// and the expectation.
func compareInvoices(source string, want map[string]invoice.ExpectedInvoice, got map[string]*schemas.Invoice) []string {
	var diffs []string
	for id, w := range want {
		if d := invoiceDiff(w, got[id]); d != "" {
			diffs = append(diffs, fmt.Sprintf("%s: invoice %s: %s", source, id, d))
		}
	}
	for id := range got {
		if _, ok := want[id]; !ok {
			diffs = append(diffs, fmt.Sprintf("%s: unexpected invoice %s", source, id))
		}
	}
	sort.Strings(diffs)
	return diffs
}

// waitEqual polls diff until it reports nothing, failing after timeout with
// its last report.
func waitEqual(t *testing.T, what string, timeout time.Duration, diff func() ([]string, error)) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		d, err := diff()
		if err == nil && len(d) == 0 {
			return
		}
		if time.Now().After(deadline) {
			if err != nil {
				t.Fatalf("%s after %s: %v", what, timeout, err)
			}
			t.Fatalf("%s after %s: %d differences, first: %s", what, timeout, len(d), strings.Join(d[:min(len(d), 8)], "\n  "))
		}
		time.Sleep(500 * time.Millisecond)
	}
}

// ---------------------------------------------------------------- readers

// postgresInvoices reads the invoices table.
func (e *invEnv) postgresInvoices(ctx context.Context) (map[string]*schemas.Invoice, error) {
	return invoice.ReadInvoices(ctx, e.pool, e.schema)
}

// redisInvoices reads <ns>:invoice:<id> of every id in ids.
func (e *invEnv) redisInvoices(ctx context.Context, ids []string) (map[string]*schemas.Invoice, error) {
	out := map[string]*schemas.Invoice{}
	for i := 0; i < len(ids); i += 500 {
		chunk := ids[i:min(i+500, len(ids))]
		keys := make([]string, len(chunk))
		for j, id := range chunk {
			keys[j] = e.names.RedisPrefix() + "invoice:" + id
		}
		vals, err := e.rdb.MGet(ctx, keys...).Result()
		if err != nil {
			return nil, err
		}
		for j, v := range vals {
			s, ok := v.(string)
			if !ok {
				continue
			}
			var doc invoice.RedisDocument
			if err := json.Unmarshal([]byte(s), &doc); err != nil {
				return nil, fmt.Errorf("redis document of %s: %w", chunk[j], err)
			}
			inv := &schemas.Invoice{ID: doc.ID, OrganizationID: doc.OrganizationID, Currency: doc.Currency,
				Status: schemas.InvoiceStatus(doc.Status), TotalMinor: doc.TotalMinor, Version: doc.Version}
			for _, l := range doc.Lines {
				inv.Lines = append(inv.Lines, schemas.InvoiceLine{LineID: l.LineID, Description: l.Description, AmountMinor: l.AmountMinor})
			}
			if len(doc.PaymentIDs) > 0 {
				inv.PaymentIDs = doc.PaymentIDs
			}
			out[chunk[j]] = inv
		}
	}
	return out, nil
}

// esInvoices reads every document of the <ns>-invoices alias (after a
// refresh).
func (e *invEnv) esInvoices(ctx context.Context) (map[string]*schemas.Invoice, error) {
	alias := e.names.ElasticsearchAlias()
	if err := e.esCall(ctx, http.MethodPost, "/"+alias+"/_refresh", nil, nil); err != nil {
		return nil, err
	}
	out := map[string]*schemas.Invoice{}
	var res struct {
		Hits struct {
			Hits []struct {
				ID     string                        `json:"_id"`
				Source invoice.ElasticsearchDocument `json:"_source"`
			} `json:"hits"`
		} `json:"hits"`
	}
	body := map[string]any{"size": 10000, "query": map[string]any{"match_all": map[string]any{}}}
	if err := e.esCall(ctx, http.MethodPost, "/"+alias+"/_search", body, &res); err != nil {
		return nil, err
	}
	for _, h := range res.Hits.Hits {
		d := h.Source
		inv := &schemas.Invoice{ID: d.ID, OrganizationID: d.OrganizationID, Currency: d.Currency,
			Status: schemas.InvoiceStatus(d.Status), TotalMinor: d.TotalMinor, Version: d.Version}
		for _, l := range d.Lines {
			inv.Lines = append(inv.Lines, schemas.InvoiceLine{LineID: l.LineID, Description: l.Description, AmountMinor: l.AmountMinor})
		}
		if len(d.PaymentIDs) > 0 {
			inv.PaymentIDs = d.PaymentIDs
		}
		if h.ID != d.ID {
			return nil, fmt.Errorf("document _id %s holds invoice %s", h.ID, d.ID)
		}
		out[h.ID] = inv
	}
	return out, nil
}

func (e *invEnv) esCall(ctx context.Context, method, path string, body, out any) error {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return err
		}
		rd = strings.NewReader(string(b))
	}
	req, err := http.NewRequestWithContext(ctx, method, e.esURL+path, rd)
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	if res.StatusCode >= 300 {
		return fmt.Errorf("%s %s: %d %s", method, path, res.StatusCode, b)
	}
	if out != nil {
		return json.Unmarshal(b, out)
	}
	return nil
}

// readTopic returns the committed data records of topic (read_committed,
// from the start to the end offsets of when it is called).
func (e *invEnv) readTopic(ctx context.Context, topic string) ([]*kgo.Record, error) {
	cl, err := kgo.NewClient(kgo.SeedBrokers(e.brokers...), kgo.ConsumeTopics(topic),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.FetchIsolationLevel(kgo.ReadCommitted()),
		kgo.KeepControlRecords(), kgo.FetchMaxWait(200*time.Millisecond))
	if err != nil {
		return nil, err
	}
	defer cl.Close()
	ends, err := kadm.NewClient(cl).ListCommittedOffsets(ctx, topic)
	if err != nil {
		return nil, err
	}
	need := map[int32]int64{}
	ends.Each(func(o kadm.ListedOffset) {
		if o.Offset > 0 {
			need[o.Partition] = o.Offset
		}
	})
	var out []*kgo.Record
	for len(need) > 0 {
		fs := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			return nil, fmt.Errorf("read %s: %w", topic, ctx.Err())
		}
		fs.EachRecord(func(r *kgo.Record) {
			if end, ok := need[r.Partition]; ok && r.Offset >= end-1 {
				delete(need, r.Partition)
			}
			if !r.Attrs.IsControl() {
				out = append(out, r)
			}
		})
	}
	return out, nil
}

// results reads the invoices' results topic, by command id; a command
// answered twice is an error.
func (e *invEnv) results(ctx context.Context) (map[string]*schemas.CommandResult, error) {
	recs, err := e.readTopic(ctx, e.names.ResultsTopic())
	if err != nil {
		return nil, err
	}
	out := map[string]*schemas.CommandResult{}
	for _, r := range recs {
		res, err := e.codec.DecodeResult(r.Value)
		if err != nil {
			return nil, fmt.Errorf("result at %d/%d: %w", r.Partition, r.Offset, err)
		}
		if _, dup := out[res.CommandID]; dup {
			return nil, fmt.Errorf("command %s answered twice", res.CommandID)
		}
		out[res.CommandID] = res
	}
	return out, nil
}

// compareResults lists the commands whose result is missing or not the
// expected one.
func compareResults(want map[string]invoice.Expectation, got map[string]*schemas.CommandResult) []string {
	var diffs []string
	for id, w := range want {
		g := got[id]
		switch {
		case g == nil:
			diffs = append(diffs, "no result for "+id)
		case g.Accepted != w.Accepted || g.Reason != w.Reason || g.Duplicate:
			diffs = append(diffs, fmt.Sprintf("%s (%s): accepted=%v duplicate=%v reason=%s %q, want accepted=%v reason=%s",
				id, w.Kind, g.Accepted, g.Duplicate, g.Reason, g.Message, w.Accepted, w.Reason))
		}
	}
	sort.Strings(diffs)
	return diffs
}

// waitEverySource waits until the results, the invoices table, the read
// model, Redis and Elasticsearch all hold exactly the expectation.
func (e *invEnv) waitEverySource(ctx context.Context, gen *invoice.Generator, results map[string]invoice.Expectation, timeout time.Duration) {
	e.t.Helper()
	want := expectedInvoices(gen)
	ids := make([]string, 0, len(want))
	for id := range want {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	if results != nil {
		waitEqual(e.t, "invoice command results", timeout, func() ([]string, error) {
			got, err := e.results(ctx)
			if err != nil {
				return nil, err
			}
			return compareResults(results, got), nil
		})
	}
	waitEqual(e.t, "postgres invoices", timeout, func() ([]string, error) {
		got, err := e.postgresInvoices(ctx)
		if err != nil {
			return nil, err
		}
		return compareInvoices("postgres", want, got), nil
	})
	wantRecv := expectedReceivables(want)
	waitEqual(e.t, "invoice receivables read model", timeout, func() ([]string, error) {
		got, err := invoice.ReadReceivables(ctx, e.pool, e.schema)
		if err != nil {
			return nil, err
		}
		var d []string
		for k, w := range wantRecv {
			if got[k] != w {
				d = append(d, fmt.Sprintf("%s: %+v, want %+v", k, got[k], w))
			}
		}
		for k, g := range got {
			if _, ok := wantRecv[k]; !ok {
				d = append(d, fmt.Sprintf("%s: unexpected %+v", k, g))
			}
		}
		return d, nil
	})
	waitEqual(e.t, "redis invoices", timeout, func() ([]string, error) {
		got, err := e.redisInvoices(ctx, ids)
		if err != nil {
			return nil, err
		}
		return compareInvoices("redis", want, got), nil
	})
	waitEqual(e.t, "elasticsearch invoices", timeout, func() ([]string, error) {
		got, err := e.esInvoices(ctx)
		if err != nil {
			return nil, err
		}
		return compareInvoices("elasticsearch", want, got), nil
	})
	// The per-organization recent index holds each organization's invoices.
	perOrg := map[string]int64{}
	for _, w := range want {
		perOrg[w.OrganizationID]++
	}
	for org, n := range perOrg {
		key := e.names.RedisPrefix() + "org:" + org + ":recent:invoices"
		if got, err := e.rdb.ZCard(ctx, key).Result(); err != nil || got != n {
			e.t.Errorf("%s holds %d ids (%v), want %d", key, got, err, n)
		}
	}
}
