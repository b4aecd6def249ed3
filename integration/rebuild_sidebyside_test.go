package integration

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/prism-cqrs/prism/internal/testkit"
	"github.com/prism-cqrs/prism/payment/schemas"
	"github.com/prism-cqrs/prism/queries/payments"
)

// The organizations of the stable batch (generateSinkCommands') and of
// the commands that flow during a side-by-side rebuild: the readers ask
// about the stable ones, whose answers must not change.
var (
	stableOrgs = []string{"org-a", "org-b", "org-c", "org-d"}
	flowOrg    = "org-flow"
)

// flow produces cmds in chunks of 15 every 100 ms until release is called,
// then the rest at once; wait returns when everything is produced, with
// the first error, or an error when everything was produced before release
// (the commands did not flow during all of what release ends).
func (e *rebuildEnv) flow(ctx context.Context, cmds []*schemas.CommandEnvelope) (release func(), wait func() error) {
	rel := make(chan struct{})
	done := make(chan error, 1)
	go func() {
		i, released := 0, false
		for i < len(cmds) {
			n := 15
			select {
			case <-rel:
				n, released = len(cmds)-i, true
			case <-time.After(100 * time.Millisecond):
			}
			recs, err := e.commandRecords(cmds[i:min(i+n, len(cmds))])
			if err == nil {
				err = e.cl.ProduceSync(ctx, recs...).FirstErr()
			}
			if err != nil {
				done <- fmt.Errorf("produce the flowing commands: %w", err)
				return
			}
			i += n
		}
		if !released {
			<-rel
			done <- fmt.Errorf("the %d commands were all produced before the rebuild ended: make the flow longer", len(cmds))
			return
		}
		done <- nil
	}()
	var once sync.Once
	return func() { once.Do(func() { close(rel) }) }, func() error { return <-done }
}

// orgTotals is the expected count and sum of amounts of the live payments
// of each stable organization.
func (e *rebuildEnv) orgTotals() map[string][2]int64 {
	out := map[string][2]int64{}
	for _, p := range e.x.live() {
		t := out[p.OrganizationID]
		out[p.OrganizationID] = [2]int64{t[0] + 1, t[1] + p.AmountMinor}
	}
	return out
}

// readers runs read in n goroutines and sample in one, continuously,
// until stop: it counts the reads and keeps the first failures (a read
// that fails or answers other than the expectation) and the sequence of
// distinct values sample saw (the version serving reads).
type readers struct {
	mu       sync.Mutex
	reads    int
	failures []string
	failed   int
	seen     []string
	cancel   context.CancelFunc
	wg       sync.WaitGroup
}

func startReaders(ctx context.Context, n int, read func(ctx context.Context, i int) error, sample func(ctx context.Context) (string, error)) *readers {
	ctx, cancel := context.WithCancel(ctx)
	r := &readers{cancel: cancel}
	fail := func(err error) {
		r.mu.Lock()
		defer r.mu.Unlock()
		r.failed++
		if len(r.failures) < 10 {
			r.failures = append(r.failures, time.Now().Format("15:04:05.000")+" "+err.Error())
		}
	}
	for g := 0; g < n; g++ {
		r.wg.Add(1)
		go func() {
			defer r.wg.Done()
			for i := g; ctx.Err() == nil; i += n {
				err := read(ctx, i)
				if ctx.Err() != nil {
					return
				}
				r.mu.Lock()
				r.reads++
				r.mu.Unlock()
				if err != nil {
					fail(err)
				}
			}
		}()
	}
	r.wg.Add(1)
	go func() {
		defer r.wg.Done()
		for ctx.Err() == nil {
			v, err := sample(ctx)
			if ctx.Err() != nil {
				return
			}
			if err != nil {
				fail(fmt.Errorf("sample the version: %w", err))
			} else {
				r.mu.Lock()
				if len(r.seen) == 0 || r.seen[len(r.seen)-1] != v {
					r.seen = append(r.seen, v)
				}
				r.mu.Unlock()
			}
			time.Sleep(5 * time.Millisecond)
		}
	}()
	return r
}

// stop ends the readers and fails t on any failed read, or when the
// served version did not change exactly once from a value to another.
func (r *readers) stop(t *testing.T, what string) []string {
	t.Helper()
	r.cancel()
	r.wg.Wait()
	t.Logf("%s: %d reads during the rebuild, versions seen %v", what, r.reads, r.seen)
	if r.failed > 0 {
		t.Errorf("%s: %d of %d reads failed or were partial, first:\n  %s", what, r.failed, r.reads, strings.Join(r.failures, "\n  "))
	}
	if r.reads < 20 {
		t.Errorf("%s: only %d reads during the rebuild", what, r.reads)
	}
	if len(r.seen) != 2 {
		t.Errorf("%s: served versions seen in order %v, want one switch (two values)", what, r.seen)
	}
	return r.seen
}

// TestRebuildSideBySideElasticsearch rebuilds the Elasticsearch index
// side by side while `prism serve` answers searches and readers count
// documents through the alias, and while commands keep flowing through
// the processor and the live elasticsearch sink: no read fails or
// misses a document, the alias moves once from -v1 to -v2, -v1 is
// deleted, and once the flow is applied the index equals the expectation
// of every command (the live sink followed the alias). A second rebuild
// with --keep-old moves the alias to -v3 and keeps -v2.
func TestRebuildSideBySideElasticsearch(t *testing.T) {
	e := newRebuildEnv(t, 3)
	ctx := testkit.Context(t, 3*time.Minute)
	e.startSinks("elasticsearch")
	e.produceCommands(ctx, e.commands(500, ""))
	e.waitSinks(time.Minute, "elasticsearch")
	want := e.orgTotals()
	flowing := e.commands(3000, flowOrg)
	srv := e.startServe("serve", serveTokens{"tok-all": "*"}, "--cache-ttl", "1ns")
	alias := e.names.ElasticsearchAlias()

	read := func(ctx context.Context, i int) error {
		org := stableOrgs[i%len(stableOrgs)]
		if i%2 == 0 {
			// Through prism serve: a search answered by Elasticsearch.
			path := "/v1/payments?" + searchQ{org: org, size: 1}.values().Encode()
			st, h, body, err := httpGet(ctx, srv.client, srv.base+path, "tok-all")
			if err != nil {
				return err
			}
			var a payments.SearchAnswer
			if st != http.StatusOK || h.Get("X-Prism-Source") != payments.SourceElasticsearch || json.Unmarshal(body, &a) != nil {
				return fmt.Errorf("GET %s: %d source %q %s", path, st, h.Get("X-Prism-Source"), clipBody(body))
			}
			if a.Total != want[org][0] {
				return fmt.Errorf("GET %s: total %d, want %d", path, a.Total, want[org][0])
			}
			return nil
		}
		// Directly: a count through the alias.
		var c struct {
			Count int64 `json:"count"`
		}
		q := map[string]any{"query": map[string]any{"term": map[string]any{"organization_id": org}}}
		st, err := e.es.call(ctx, http.MethodPost, "/"+alias+"/_count", q, &c)
		if err != nil || st != http.StatusOK {
			return fmt.Errorf("count %s of %s: status %d: %v", org, alias, st, err)
		}
		if c.Count != want[org][0] {
			return fmt.Errorf("count %s of %s: %d, want %d", org, alias, c.Count, want[org][0])
		}
		return nil
	}
	sample := func(ctx context.Context) (string, error) { return e.aliasIndices(ctx) }

	release, wait := e.flow(ctx, flowing)
	rd := startReaders(ctx, 4, read, sample)
	time.Sleep(time.Second)
	e.mustRebuild(ctx, "elasticsearch", "--aggregate", "payments", "--side-by-side", "--execute")
	time.Sleep(time.Second)
	seen := rd.stop(t, "elasticsearch side by side")
	release()
	if err := wait(); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(seen, []string{e.names.ElasticsearchIndex(1), e.names.ElasticsearchIndex(2)}) {
		t.Errorf("the alias pointed at %v in turn, want %s then %s", seen, e.names.ElasticsearchIndex(1), e.names.ElasticsearchIndex(2))
	}
	e.requireIndex(ctx, 1, false)
	e.waitSinks(2*time.Minute, "elasticsearch")

	// --keep-old: -v3 serves, -v2 stays.
	e.mustRebuild(ctx, "elasticsearch", "--aggregate", "payments", "--side-by-side", "--keep-old", "--execute")
	if got, err := e.aliasIndices(ctx); err != nil || got != e.names.ElasticsearchIndex(3) {
		t.Errorf("after the rebuild with --keep-old the alias points at %q (%v), want %s", got, err, e.names.ElasticsearchIndex(3))
	}
	e.requireIndex(ctx, 2, true)
	e.requireEqual(ctx, "elasticsearch", "after the rebuild with --keep-old")
	srv.stop(t)
}

// aliasIndices returns the indices the alias points at, comma separated.
func (e *rebuildEnv) aliasIndices(ctx context.Context) (string, error) {
	var res map[string]any
	alias := e.names.ElasticsearchAlias()
	st, err := e.es.call(ctx, http.MethodGet, "/_alias/"+alias, nil, &res)
	if err != nil || st != http.StatusOK {
		return "", fmt.Errorf("GET /_alias/%s: status %d: %v", alias, st, err)
	}
	var out []string
	for index := range res {
		out = append(out, index)
	}
	slices.Sort(out)
	return strings.Join(out, ","), nil
}

// requireIndex fails unless index version v exists (exists) or not.
func (e *rebuildEnv) requireIndex(ctx context.Context, v int, exists bool) {
	e.t.Helper()
	index := e.names.ElasticsearchIndex(v)
	st, err := e.es.call(ctx, http.MethodHead, "/"+index, nil, nil)
	if err != nil && st == 0 {
		e.t.Fatalf("HEAD %s: %v", index, err)
	}
	if (st == http.StatusOK) != exists {
		e.t.Errorf("index %s: HEAD answers %d, want it to exist: %v", index, st, exists)
	}
}

// httpGet sends GET url with a bearer token and returns the answer.
func httpGet(ctx context.Context, c *http.Client, url, token string) (int, http.Header, []byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return 0, nil, nil, err
	}
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := c.Do(req)
	if err != nil {
		return 0, nil, nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header, b, err
}

// TestRebuildSideBySidePostgres rebuilds the postgres sink's payments
// table side by side while readers query it directly (prepared
// statements of a pool) and through `prism serve` (by id, answered by
// Postgres: no Redis sink runs), and while commands keep flowing through
// the processor and the live postgres sink: no read fails or sees other
// figures, the live table changes once (its oid), the old one is gone,
// and once the flow is applied the table equals the expectation of every
// command (the live sink followed the switch). A second rebuild with
// --keep-old keeps the previous table in a schema of its own.
func TestRebuildSideBySidePostgres(t *testing.T) {
	e := newRebuildEnv(t, 3)
	e.sideBySidePostgres(t, "postgres", "payments", func(srv *serveProc, pool *pgxpool.Pool) func(ctx context.Context, i int) error {
		want, live, ids := e.orgTotals(), e.x.live(), e.livePaymentIDs(nil)
		table := e.table("payments")
		return func(ctx context.Context, i int) error {
			if i%2 == 0 {
				id := ids[(i*7919)%len(ids)]
				st, h, body, err := httpGet(ctx, srv.client, srv.base+"/v1/payments/"+id, "tok-all")
				if err != nil {
					return err
				}
				var p payments.Payment
				w := live[id]
				if st != http.StatusOK || h.Get("X-Prism-Source") != payments.SourcePostgres || json.Unmarshal(body, &p) != nil {
					return fmt.Errorf("GET /v1/payments/%s: %d source %q %s", id, st, h.Get("X-Prism-Source"), clipBody(body))
				}
				if p.AmountMinor != w.AmountMinor || p.Status != string(w.Status) || p.Version != w.Version {
					return fmt.Errorf("GET /v1/payments/%s: %s, want amount %d status %s version %d", id, clipBody(body), w.AmountMinor, w.Status, w.Version)
				}
				return nil
			}
			org := stableOrgs[i%len(stableOrgs)]
			var n, sum int64
			if err := pool.QueryRow(ctx, `SELECT count(*), coalesce(sum(amount_minor), 0)::bigint FROM `+table+` WHERE organization_id = $1`, org).Scan(&n, &sum); err != nil {
				return fmt.Errorf("count %s: %w", org, err)
			}
			if [2]int64{n, sum} != want[org] {
				return fmt.Errorf("count %s: %d payments of %d, want %v", org, n, sum, want[org])
			}
			return nil
		}
	})
}

// TestRebuildSideBySideReadModels is TestRebuildSideBySidePostgres for the
// readmodels sink: readers ask `prism serve` for statistics (answered by
// the read models' payment_summary) and sum payment_summary directly; the
// summary table changes once; at the end every read model equals the
// expectation (checkReadModels).
func TestRebuildSideBySideReadModels(t *testing.T) {
	e := newRebuildEnv(t, 3)
	e.sideBySidePostgres(t, "readmodels", "payment_summary", func(srv *serveProc, pool *pgxpool.Pool) func(ctx context.Context, i int) error {
		want := e.orgTotals()
		table := e.table("payment_summary")
		return func(ctx context.Context, i int) error {
			org := stableOrgs[i%len(stableOrgs)]
			if i%2 == 0 {
				path := "/v1/organizations/" + org + "/statistics"
				st, h, body, err := httpGet(ctx, srv.client, srv.base+path, "tok-all")
				if err != nil {
					return err
				}
				var a payments.StatisticsAnswer
				if st != http.StatusOK || h.Get("X-Prism-Source") != payments.SourceReadModels || json.Unmarshal(body, &a) != nil {
					return fmt.Errorf("GET %s: %d source %q %s", path, st, h.Get("X-Prism-Source"), clipBody(body))
				}
				var sum int64
				for _, s := range a.ByStatus {
					sum += s.TotalMinor
				}
				if a.Count != want[org][0] || sum != want[org][1] {
					return fmt.Errorf("GET %s: count %d sum %d, want %v", path, a.Count, sum, want[org])
				}
				return nil
			}
			var n, sum int64
			if err := pool.QueryRow(ctx, `SELECT coalesce(sum(count), 0)::bigint, coalesce(sum(total_amount_minor), 0)::bigint FROM `+table+` WHERE organization_id = $1`, org).Scan(&n, &sum); err != nil {
				return fmt.Errorf("sum the summary of %s: %w", org, err)
			}
			if [2]int64{n, sum} != want[org] {
				return fmt.Errorf("summary of %s: %d payments of %d, want %v", org, n, sum, want[org])
			}
			return nil
		}
	})
}

// sideBySidePostgres runs a side-by-side rebuild of sink (postgres or
// readmodels) while the readers read returns (built once the stable batch
// is applied) run with `prism serve` and a pool of their own, and commands
// flow; sampled is the table whose oid tells the version serving. Then it
// checks the switch, the old table dropped, the content, and a second
// rebuild with --keep-old.
func (e *rebuildEnv) sideBySidePostgres(t *testing.T, sink, sampled string, read func(srv *serveProc, pool *pgxpool.Pool) func(ctx context.Context, i int) error) {
	ctx := testkit.Context(t, 3*time.Minute)
	e.dropVersionSchemasAtCleanup()
	e.startSinks(sink)
	e.produceCommands(ctx, e.commands(500, ""))
	e.waitSinks(time.Minute, sink)
	srv := e.startServe("serve", serveTokens{"tok-all": "*"}, "--cache-ttl", "1ns")
	readPool, err := pgxpool.New(ctx, e.pgURL) // statements prepared and cached per connection
	if err != nil {
		t.Fatal(err)
	}
	defer readPool.Close()
	reader := read(srv, readPool)
	flowing := e.commands(3000, flowOrg)
	table := e.table(sampled)
	sample := func(ctx context.Context) (string, error) {
		var oid uint32
		err := e.pool.QueryRow(ctx, `SELECT to_regclass($1)::oid`, table).Scan(&oid)
		return fmt.Sprint(oid), err
	}

	release, wait := e.flow(ctx, flowing)
	rd := startReaders(ctx, 4, reader, sample)
	time.Sleep(time.Second)
	e.mustRebuild(ctx, sink, "--aggregate", "payments", "--side-by-side", "--execute")
	time.Sleep(time.Second)
	seen := rd.stop(t, sink+" side by side")
	release()
	if err := wait(); err != nil {
		t.Fatal(err)
	}
	if len(seen) > 0 {
		e.requireTable(ctx, seen[0], false)
	}
	e.waitSinks(2*time.Minute, sink)

	// --keep-old: the table serving before stays, in another schema.
	before, err := sample(ctx)
	if err != nil {
		t.Fatal(err)
	}
	e.mustRebuild(ctx, sink, "--aggregate", "payments", "--side-by-side", "--keep-old", "--execute")
	if after, err := sample(ctx); err != nil || after == before {
		t.Errorf("after the rebuild with --keep-old %s is %s (%v), want a new table (was %s)", sampled, after, err, before)
	}
	e.requireTable(ctx, before, true)
	e.requireEqual(ctx, sink, "after the rebuild with --keep-old")
	srv.stop(t)
}

// requireTable fails unless the table of that oid exists (exists) or not;
// a kept table must be in another schema than the live one.
func (e *rebuildEnv) requireTable(ctx context.Context, oid string, exists bool) {
	e.t.Helper()
	var schema string
	err := e.pool.QueryRow(ctx, `SELECT n.nspname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE c.oid = $1::oid`, oid).Scan(&schema)
	found := err == nil
	if err != nil && !strings.Contains(err.Error(), "no rows") {
		e.t.Fatal(err)
	}
	switch {
	case found != exists:
		e.t.Errorf("the old table (oid %s): exists %v, want %v", oid, found, exists)
	case found && schema == e.schema:
		e.t.Errorf("the old table (oid %s) is still in the live schema %s", oid, schema)
	}
}

// dropVersionSchemasAtCleanup drops the schemas of other versions the
// rebuilds leave (named after the namespace's schema) when the test ends.
func (e *rebuildEnv) dropVersionSchemasAtCleanup() {
	e.t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		rows, err := e.pool.Query(ctx, `SELECT nspname FROM pg_namespace WHERE left(nspname, $2) = $1`, e.schema+"_", len(e.schema)+1)
		if err != nil {
			e.t.Logf("list version schemas: %v", err)
			return
		}
		var names []string
		for rows.Next() {
			var n string
			if rows.Scan(&n) == nil {
				names = append(names, n)
			}
		}
		rows.Close()
		for _, n := range names {
			if _, err := e.pool.Exec(ctx, `DROP SCHEMA IF EXISTS "`+n+`" CASCADE`); err != nil {
				e.t.Logf("drop schema %s: %v", n, err)
			}
		}
	})
}
