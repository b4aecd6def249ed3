package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/elastic/go-elasticsearch/v8"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/redis/go-redis/v9"

	"github.com/prism-cqrs/prism/aggregates"
	"github.com/prism-cqrs/prism/internal/testkit"
	"github.com/prism-cqrs/prism/money"
	"github.com/prism-cqrs/prism/payment"
	"github.com/prism-cqrs/prism/payment/schemas"
	essink "github.com/prism-cqrs/prism/sinks/elasticsearch"
	"github.com/prism-cqrs/prism/sinks/postgres"
	"github.com/prism-cqrs/prism/sinks/readmodels"
	redissink "github.com/prism-cqrs/prism/sinks/redis"
	"github.com/prism-cqrs/prism/topology"
)

// The data set. The served set (every source) is servedOrgs organizations
// of perOrg payments each; the benchmarks' caller is organization benchOrg.
// The Zipf set is zipfSize payments of organization zipfOrg, in Redis only
// (the L1 hit-rate benchmark reads them by id through queries.Cache).
const (
	servedOrgs = 20
	perOrg     = 1_000
	zipfSize   = 100_000
	zipfOrg    = "bench-org-zipf"
)

// benchOrg is organization 0, the benchmarks' caller's.
const benchOrg = "bench-org-00"

func orgName(i int) string { return fmt.Sprintf("bench-org-%02d", i) }

// fixture is the filled services of one `go test` run, shared by every
// benchmark (built by the first that needs it, dropped by TestMain).
type fixture struct {
	ns     string
	names  topology.Names
	schema string
	pgURL  string
	pool   *pgxpool.Pool
	rdb    *redis.Client
	esURL  string
	es     *elasticsearch.Client
	keys   redissink.Keys

	served []payment.RedisDocument // by org: served[i*perOrg:(i+1)*perOrg] is orgName(i)'s
	zipf   []string                // the Zipf set's ids
}

var (
	fixtureOnce sync.Once
	shared      *fixture
	fixtureErr  error
	// atEnd are run by TestMain, last first: stop the write side, drop
	// the fixture.
	atEnd []func()
)

// TestMain drops what the benchmarks created after the run.
func TestMain(m *testing.M) {
	code := m.Run()
	for i := len(atEnd) - 1; i >= 0; i-- {
		atEnd[i]()
	}
	os.Exit(code)
}

// env returns the shared fixture, building it on first use (about 10 s:
// 20,000 payments into the three stores, 100,000 more into Redis).
func env(b *testing.B) *fixture {
	b.Helper()
	pgURL, redisURL, esURL := testkit.PostgresURL(b), testkit.RedisURL(b), testkit.ElasticsearchURL(b)
	fixtureOnce.Do(func() {
		start := time.Now()
		shared, fixtureErr = newFixture(testkit.Namespace(b), pgURL, redisURL, esURL)
		if fixtureErr == nil {
			atEnd = append(atEnd, shared.drop)
			b.Logf("fixture %s filled in %s", shared.ns, time.Since(start).Round(100*time.Millisecond))
		}
	})
	if fixtureErr != nil {
		b.Fatalf("fill the services: %v", fixtureErr)
	}
	return shared
}

func newFixture(ns, pgURL, redisURL, esURL string) (*fixture, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	def, err := payment.Definition()
	if err != nil {
		return nil, err
	}
	names := def.Names(ns)
	f := &fixture{ns: ns, names: names, schema: names.PostgresSchema(), pgURL: pgURL, esURL: esURL,
		keys: redissink.NewKeys(names, def.Cache.CacheLayout())}
	opts, err := redis.ParseURL(redisURL)
	if err != nil {
		return nil, fmt.Errorf("redis URL: %w", err)
	}
	f.rdb = redis.NewClient(opts)
	if f.pool, err = pgxpool.New(ctx, pgURL); err != nil {
		f.drop()
		return nil, fmt.Errorf("postgres: %w", err)
	}
	if f.es, err = elasticsearch.NewClient(elasticsearch.Config{Addresses: []string{esURL}}); err != nil {
		f.drop()
		return nil, fmt.Errorf("elasticsearch client: %w", err)
	}
	f.served, f.zipf = generate()
	if err := f.fill(ctx, def); err != nil {
		f.drop()
		return nil, err
	}
	return f, nil
}

// generate builds the data set, the same every run (fixed seed).
func generate() (served []payment.RedisDocument, zipf []string) {
	rng := rand.New(rand.NewPCG(10, 1))
	statuses := []string{"PENDING", "AUTHORIZED", "CAPTURED", "CAPTURED", "CAPTURED", "FAILED", "CANCELLED", "REFUNDED"}
	currencies := []string{"EUR", "EUR", "USD", "GBP", "JPY", "KWD"}
	words := []string{"GPU hours", "Managed Postgres", "Object storage", "Support plan", "Egress traffic", "Build minutes"}
	base := time.Date(2026, 9, 1, 0, 0, 0, 0, time.UTC)
	doc := func(id, org string) payment.RedisDocument {
		cur := currencies[rng.IntN(len(currencies))]
		minor := 100 + rng.Int64N(1_000_000)
		amount, err := money.Format(minor, cur)
		if err != nil {
			panic(err) // the currencies above are all supported
		}
		created := base.Add(time.Duration(rng.Int64N(int64(90 * 24 * time.Hour)))).Truncate(time.Millisecond)
		return payment.RedisDocument{
			Version: 1 + rng.Int64N(4), ID: id, OrganizationID: org, UserID: org + "-user-" + fmt.Sprint(rng.IntN(50)),
			AmountMinor: minor, Amount: amount, Currency: cur,
			Description: fmt.Sprintf("%s, 2026-%02d", words[rng.IntN(len(words))], 1+rng.IntN(12)),
			Status:      statuses[rng.IntN(len(statuses))], CreatedAt: created, UpdatedAt: created.Add(time.Duration(rng.IntN(3600)) * time.Second),
		}
	}
	for o := range servedOrgs {
		for i := range perOrg {
			served = append(served, doc(fmt.Sprintf("bench-pay-%02d-%04d", o, i), orgName(o)))
		}
	}
	for i := range zipfSize {
		zipf = append(zipf, fmt.Sprintf("bench-zipf-%06d", i))
	}
	return served, zipf
}

// fill creates the tables and the index with the sinks' own setup, then
// writes the data straight into them: payments rows (COPY) and the
// payment_summary they imply, one Redis key per payment (pipelined, as the
// redis sink writes them), one Elasticsearch document per served payment.
func (f *fixture) fill(ctx context.Context, d *aggregates.Definition) error {
	pgCfg := postgres.Config{URL: f.pgURL, Schema: f.schema, Namespace: f.ns}
	pgt, err := postgres.New(pgCfg, d.Table)
	if err != nil {
		return err
	}
	defer pgt.Close()
	if err := pgt.Setup(ctx); err != nil {
		return fmt.Errorf("postgres sink setup: %w", err)
	}
	rmt, err := readmodels.New(pgCfg, d.ReadModel)
	if err != nil {
		return err
	}
	defer rmt.Close()
	if err := rmt.Setup(ctx); err != nil {
		return fmt.Errorf("readmodels sink setup: %w", err)
	}
	est, err := essink.NewTarget(essink.DefaultConfig(f.esURL, f.names), d.Document)
	if err != nil {
		return err
	}
	defer est.Close()
	if err := est.Setup(ctx); err != nil {
		return fmt.Errorf("elasticsearch sink setup: %w", err)
	}
	for _, step := range []func(context.Context) error{f.fillPostgres, f.fillRedis, f.fillElasticsearch} {
		if err := step(ctx); err != nil {
			return err
		}
	}
	return nil
}

func (f *fixture) fillPostgres(ctx context.Context) error {
	rows := make([][]any, len(f.served))
	type group struct{ org, status, currency string }
	sums := map[group][2]int64{}
	for i, p := range f.served {
		rows[i] = []any{p.ID, p.OrganizationID, p.UserID, p.AmountMinor, p.Currency, p.Description, p.Status, p.CreatedAt, p.UpdatedAt, p.Version}
		g := group{p.OrganizationID, p.Status, p.Currency}
		s := sums[g]
		sums[g] = [2]int64{s[0] + 1, s[1] + p.AmountMinor}
	}
	cols := []string{"id", "organization_id", "user_id", "amount_minor", "currency", "description", "status", "created_at", "updated_at", "version"}
	if _, err := f.pool.CopyFrom(ctx, pgx.Identifier{f.schema, "payments"}, cols, pgx.CopyFromRows(rows)); err != nil {
		return fmt.Errorf("copy payments: %w", err)
	}
	var summary [][]any
	for g, s := range sums {
		summary = append(summary, []any{g.org, g.status, g.currency, s[0], s[1]})
	}
	if _, err := f.pool.CopyFrom(ctx, pgx.Identifier{f.schema, "payment_summary"},
		[]string{"organization_id", "status", "currency", "count", "total_amount_minor"}, pgx.CopyFromRows(summary)); err != nil {
		return fmt.Errorf("copy payment_summary: %w", err)
	}
	_, err := f.pool.Exec(ctx, `ANALYZE `+pgx.Identifier{f.schema, "payments"}.Sanitize())
	return err
}

func (f *fixture) fillRedis(ctx context.Context) error {
	zipfDoc := f.served[0]
	zipfDoc.OrganizationID = zipfOrg
	docs := func(yield func(payment.RedisDocument) bool) {
		for _, p := range f.served {
			if !yield(p) {
				return
			}
		}
		for _, id := range f.zipf {
			zipfDoc.ID = id
			if !yield(zipfDoc) {
				return
			}
		}
	}
	pipe := f.rdb.Pipeline()
	for p := range docs {
		b, err := json.Marshal(p)
		if err != nil {
			return err
		}
		pipe.Set(ctx, f.keys.Doc(p.ID), b, 24*time.Hour)
		if pipe.Len() >= 5_000 {
			if _, err := pipe.Exec(ctx); err != nil {
				return fmt.Errorf("redis pipeline: %w", err)
			}
		}
	}
	if _, err := pipe.Exec(ctx); err != nil {
		return fmt.Errorf("redis pipeline: %w", err)
	}
	return nil
}

func (f *fixture) fillElasticsearch(ctx context.Context) error {
	var body bytes.Buffer
	flush := func() error {
		if body.Len() == 0 {
			return nil
		}
		res, err := f.es.Bulk(bytes.NewReader(body.Bytes()), f.es.Bulk.WithContext(ctx), f.es.Bulk.WithIndex(f.names.ElasticsearchAlias()))
		body.Reset()
		if err != nil {
			return fmt.Errorf("elasticsearch bulk: %w", err)
		}
		defer res.Body.Close()
		var out struct {
			Errors bool `json:"errors"`
		}
		raw, _ := io.ReadAll(res.Body)
		if res.IsError() || json.Unmarshal(raw, &out) != nil || out.Errors {
			return fmt.Errorf("elasticsearch bulk: %s %.500s", res.Status(), raw)
		}
		return nil
	}
	for _, p := range f.served {
		doc, err := payment.NewElasticsearchDocument(&schemas.Payment{ID: p.ID, OrganizationID: p.OrganizationID, UserID: p.UserID,
			AmountMinor: p.AmountMinor, Currency: p.Currency, Description: p.Description, Status: schemas.PaymentStatus(p.Status),
			CreatedAt: p.CreatedAt, UpdatedAt: p.UpdatedAt, Version: p.Version})
		if err != nil {
			return err
		}
		fmt.Fprintf(&body, `{"index":{"_id":%q}}`+"\n", p.ID)
		if err := json.NewEncoder(&body).Encode(doc); err != nil {
			return err
		}
		if body.Len() > 4<<20 {
			if err := flush(); err != nil {
				return err
			}
		}
	}
	if err := flush(); err != nil {
		return err
	}
	res, err := f.es.Indices.Refresh(f.es.Indices.Refresh.WithContext(ctx), f.es.Indices.Refresh.WithIndex(f.names.ElasticsearchAlias()))
	if err != nil {
		return fmt.Errorf("elasticsearch refresh: %w", err)
	}
	res.Body.Close()
	return nil
}

// drop removes everything the run wrote: the schema, the index, every key
// under the namespace's prefix.
func (f *fixture) drop() {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if f.pool != nil {
		if _, err := f.pool.Exec(ctx, `DROP SCHEMA IF EXISTS `+pgx.Identifier{f.schema}.Sanitize()+` CASCADE`); err != nil {
			fmt.Fprintf(os.Stderr, "bench: drop schema %s: %v\n", f.schema, err)
		}
		f.pool.Close()
	}
	if f.es != nil {
		req, _ := http.NewRequestWithContext(ctx, http.MethodDelete, "/"+f.names.ElasticsearchIndex(1), nil)
		if res, err := f.es.Perform(req); err != nil {
			fmt.Fprintf(os.Stderr, "bench: delete index: %v\n", err)
		} else {
			res.Body.Close()
		}
	}
	if f.rdb != nil {
		iter := f.rdb.Scan(ctx, 0, f.names.RedisPrefix()+"*", 10_000).Iterator()
		var batch []string
		for iter.Next(ctx) {
			if batch = append(batch, iter.Val()); len(batch) == 10_000 {
				f.rdb.Unlink(ctx, batch...)
				batch = batch[:0]
			}
		}
		if len(batch) > 0 {
			f.rdb.Unlink(ctx, batch...)
		}
		if err := iter.Err(); err != nil {
			fmt.Fprintf(os.Stderr, "bench: delete keys: %v\n", err)
		}
		f.rdb.Close()
	}
}
