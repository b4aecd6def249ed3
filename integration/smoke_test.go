package integration

// Smoke tests: each service is real and usable the way Prism uses it. They
// run against the services of scripts/services.sh (or Docker), fail under CI
// when one is missing, and clean up everything they create.

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/elastic/go-elasticsearch/v8"
	"github.com/elastic/go-elasticsearch/v8/esapi"
	"github.com/jackc/pgx/v5"
	"github.com/redis/go-redis/v9"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/prism-cqrs/prism/internal/testkit"
	"github.com/prism-cqrs/prism/topology"
)

type kv struct{ key, value string }

// TestSmokeKafka: a compacted topic created with kadm; one committed, one
// aborted and one more committed transaction; a read_committed consumer sees
// exactly the committed records, a read_uncommitted one also sees the aborted
// ones (so the filtering is the broker's, not an accident of the test).
func TestSmokeKafka(t *testing.T) {
	t.Parallel()
	brokers := testkit.KafkaBrokers(t)
	ctx := testkit.Context(t, 2*time.Minute)
	ns := testkit.Namespace(t)
	topic := ns + ".smoke.compacted"

	admCl, err := kgo.NewClient(kgo.SeedBrokers(brokers...))
	if err != nil {
		t.Fatalf("admin client: %v", err)
	}
	t.Cleanup(admCl.Close)
	adm := kadm.NewClient(admCl)

	created, err := adm.CreateTopic(ctx, 1, 1, map[string]*string{"cleanup.policy": kadm.StringPtr("compact")}, topic)
	if err == nil {
		err = created.Err
	}
	if err != nil {
		t.Fatalf("create compacted topic %s: %v", topic, err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if _, err := adm.DeleteTopics(ctx, topic); err != nil {
			t.Logf("delete topic %s: %v", topic, err)
		}
	})

	// CreateTopics answers before the broker's metadata has the topic: retry
	// while the topic is still unknown.
	var rc kadm.ResourceConfig
	for {
		configs, err := adm.DescribeTopicConfigs(ctx, topic)
		if err != nil {
			t.Fatalf("describe topic configs: %v", err)
		}
		if rc, err = configs.On(topic, nil); err != nil {
			t.Fatalf("config of %s: %v", topic, err)
		}
		if !errors.Is(rc.Err, kerr.UnknownTopicOrPartition) {
			break
		}
		select {
		case <-ctx.Done():
			t.Fatalf("config of %s: topic still unknown: %v", topic, rc.Err)
		case <-time.After(100 * time.Millisecond):
		}
	}
	if rc.Err != nil {
		t.Fatalf("config of %s: %v", topic, rc.Err)
	}
	policy := ""
	for _, c := range rc.Configs {
		if c.Key == "cleanup.policy" && c.Value != nil {
			policy = *c.Value
		}
	}
	if policy != "compact" {
		t.Fatalf("cleanup.policy of %s = %q, want compact", topic, policy)
	}

	producer, err := kgo.NewClient(
		kgo.SeedBrokers(brokers...),
		kgo.TransactionalID(ns+".smoke.txn"),
		kgo.DefaultProduceTopic(topic),
	)
	if err != nil {
		t.Fatalf("transactional producer: %v", err)
	}
	t.Cleanup(producer.Close)

	runTxn := func(records []kv, commit kgo.TransactionEndTry) {
		t.Helper()
		if err := producer.BeginTransaction(); err != nil {
			t.Fatalf("begin transaction: %v", err)
		}
		for _, r := range records {
			if err := producer.ProduceSync(ctx, kgo.KeyStringRecord(r.key, r.value)).FirstErr(); err != nil {
				t.Fatalf("produce %v: %v", r, err)
			}
		}
		if err := producer.EndTransaction(ctx, commit); err != nil {
			t.Fatalf("end transaction (commit=%v): %v", commit, err)
		}
	}
	first := []kv{{"a", "1"}, {"b", "2"}}
	aborted := []kv{{"a", "X"}, {"c", "3"}}
	last := []kv{{"d", "4"}}
	runTxn(first, kgo.TryCommit)
	runTxn(aborted, kgo.TryAbort)
	runTxn(last, kgo.TryCommit)

	committed := slices.Concat(first, last)
	all := slices.Concat(first, aborted, last)

	if got := consumeN(ctx, t, brokers, topic, kgo.ReadCommitted(), len(committed)); !slices.Equal(got, committed) {
		t.Fatalf("read_committed saw %v, want exactly the committed records %v", got, committed)
	}
	if got := consumeN(ctx, t, brokers, topic, kgo.ReadUncommitted(), len(all)); !slices.Equal(got, all) {
		t.Fatalf("read_uncommitted saw %v, want every written record %v", got, all)
	}
}

// consumeN reads topic from the start with the given isolation level until it
// has n records, then reads once more briefly to catch any extra record.
func consumeN(ctx context.Context, t *testing.T, brokers []string, topic string, iso kgo.IsolationLevel, n int) []kv {
	t.Helper()
	cl, err := kgo.NewClient(
		kgo.SeedBrokers(brokers...),
		kgo.ConsumeTopics(topic),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.FetchIsolationLevel(iso),
	)
	if err != nil {
		t.Fatalf("consumer: %v", err)
	}
	defer cl.Close()
	var got []kv
	collect := func(ctx context.Context) error {
		fs := cl.PollFetches(ctx)
		for _, e := range fs.Errors() {
			if !errors.Is(e.Err, context.DeadlineExceeded) && !errors.Is(e.Err, context.Canceled) {
				return fmt.Errorf("fetch %s[%d]: %w", e.Topic, e.Partition, e.Err)
			}
		}
		fs.EachRecord(func(r *kgo.Record) { got = append(got, kv{string(r.Key), string(r.Value)}) })
		return ctx.Err()
	}
	for len(got) < n {
		if err := collect(ctx); err != nil {
			t.Fatalf("consumed %d of %d records (%v): %v", len(got), n, got, err)
		}
	}
	// Anything beyond the n expected records would be a bug: give it a moment.
	extra, cancel := context.WithTimeout(ctx, 500*time.Millisecond)
	defer cancel()
	_ = collect(extra)
	return got
}

// TestSmokePostgres: pgx round trip in a transaction; a rolled-back
// transaction leaves nothing behind.
func TestSmokePostgres(t *testing.T) {
	t.Parallel()
	url := testkit.PostgresURL(t)
	ctx := testkit.Context(t, time.Minute)
	schema := topology.NewNames(testkit.Namespace(t)).Aggregate("payments").PostgresSchema()

	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatalf("connect %s: %v", url, err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if _, err := conn.Exec(ctx, "DROP SCHEMA IF EXISTS "+pgx.Identifier{schema}.Sanitize()+" CASCADE"); err != nil {
			t.Logf("drop schema %s: %v", schema, err)
		}
		conn.Close(ctx)
	})
	table := pgx.Identifier{schema, "smoke"}.Sanitize()

	err = pgx.BeginFunc(ctx, conn, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, "CREATE SCHEMA "+pgx.Identifier{schema}.Sanitize()); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, "CREATE TABLE "+table+" (id bigint PRIMARY KEY, amount_minor bigint NOT NULL, currency text NOT NULL)"); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, "INSERT INTO "+table+" VALUES ($1, $2, $3)", 1, 12345, "EUR")
		return err
	})
	if err != nil {
		t.Fatalf("committed transaction: %v", err)
	}

	tx, err := conn.Begin(ctx)
	if err != nil {
		t.Fatalf("begin: %v", err)
	}
	if _, err := tx.Exec(ctx, "INSERT INTO "+table+" VALUES ($1, $2, $3)", 2, 1, "JPY"); err != nil {
		t.Fatalf("insert in second transaction: %v", err)
	}
	if err := tx.Rollback(ctx); err != nil {
		t.Fatalf("rollback: %v", err)
	}

	rows, err := conn.Query(ctx, "SELECT id, amount_minor, currency FROM "+table+" ORDER BY id")
	if err != nil {
		t.Fatalf("select: %v", err)
	}
	type row struct {
		ID, Amount int64
		Currency   string
	}
	got, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (row, error) {
		var x row
		err := r.Scan(&x.ID, &x.Amount, &x.Currency)
		return x, err
	})
	if err != nil {
		t.Fatalf("read rows: %v", err)
	}
	want := []row{{1, 12345, "EUR"}}
	if !slices.Equal(got, want) {
		t.Fatalf("rows = %v, want %v (the rolled-back insert must not be there)", got, want)
	}
}

// TestSmokeRedis: a Lua script through go-redis, the way a sink applies an
// update only when its version is newer.
func TestSmokeRedis(t *testing.T) {
	t.Parallel()
	url := testkit.RedisURL(t)
	ctx := testkit.Context(t, time.Minute)
	opts, err := redis.ParseURL(url)
	if err != nil {
		t.Fatalf("parse %s: %v", url, err)
	}
	rdb := redis.NewClient(opts)
	t.Cleanup(func() { _ = rdb.Close() })
	key := topology.NewNames(testkit.Namespace(t)).Aggregate("payments").RedisPrefix() + "smoke:p1"
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		rdb.Del(ctx, key)
	})

	setIfNewer := redis.NewScript(`
local cur = redis.call('HGET', KEYS[1], 'version')
if cur and tonumber(cur) >= tonumber(ARGV[1]) then return 0 end
redis.call('HSET', KEYS[1], 'version', ARGV[1], 'status', ARGV[2])
return 1`)

	steps := []struct {
		version int
		status  string
		applied int64
	}{
		{2, "AUTHORIZED", 1},
		{1, "INITIATED", 0},  // older: ignored
		{2, "AUTHORIZED", 0}, // same: ignored (replay)
		{3, "SETTLED", 1},
	}
	for _, s := range steps {
		got, err := setIfNewer.Run(ctx, rdb, []string{key}, s.version, s.status).Int64()
		if err != nil {
			t.Fatalf("script with version %d: %v", s.version, err)
		}
		if got != s.applied {
			t.Fatalf("script with version %d returned %d, want %d", s.version, got, s.applied)
		}
	}
	final, err := rdb.HGetAll(ctx, key).Result()
	if err != nil {
		t.Fatalf("hgetall: %v", err)
	}
	if final["version"] != "3" || final["status"] != "SETTLED" || len(final) != 2 {
		t.Fatalf("final hash = %v, want version 3 SETTLED", final)
	}
}

// TestSmokeElasticsearch: go-elasticsearch v8 (its product check passes),
// indexing with an external version, an older version refused with 409, a
// search that finds the newest document.
func TestSmokeElasticsearch(t *testing.T) {
	t.Parallel()
	url := testkit.ElasticsearchURL(t)
	ctx := testkit.Context(t, 2*time.Minute)
	index := topology.NewNames(testkit.Namespace(t)).Aggregate("payments").ElasticsearchIndex(1)

	es, err := elasticsearch.NewClient(elasticsearch.Config{Addresses: []string{url}})
	if err != nil {
		t.Fatalf("client: %v", err)
	}
	res, err := es.Indices.Create(index,
		es.Indices.Create.WithContext(ctx),
		es.Indices.Create.WithBody(strings.NewReader(`{
		  "settings": {"number_of_shards": 1, "number_of_replicas": 0},
		  "mappings": {"properties": {"status": {"type": "keyword"}, "amount_minor": {"type": "long"}}}}`)),
	)
	decodeStatus(t, "create index "+index, res, err, http.StatusOK, nil)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		res, err := es.Indices.Delete([]string{index}, es.Indices.Delete.WithContext(ctx))
		if err != nil {
			t.Logf("delete index %s: %v", index, err)
			return
		}
		res.Body.Close()
	})

	put := func(version int, status string) (int, error) {
		body := fmt.Sprintf(`{"status": %q, "amount_minor": %d}`, status, 100*version)
		res, err := es.Index(index, strings.NewReader(body),
			es.Index.WithContext(ctx),
			es.Index.WithDocumentID("p1"),
			es.Index.WithVersion(version),
			es.Index.WithVersionType("external"),
			es.Index.WithRefresh("true"),
		)
		if err != nil {
			return 0, err
		}
		defer res.Body.Close()
		_, _ = io.Copy(io.Discard, res.Body)
		return res.StatusCode, nil
	}
	steps := []struct {
		version int
		status  string
		code    int
	}{
		{5, "AUTHORIZED", http.StatusCreated},
		{3, "INITIATED", http.StatusConflict},  // older version refused
		{5, "AUTHORIZED", http.StatusConflict}, // same version refused
		{7, "SETTLED", http.StatusOK},
	}
	for _, s := range steps {
		code, err := put(s.version, s.status)
		if err != nil {
			t.Fatalf("index version %d: %v", s.version, err)
		}
		if code != s.code {
			t.Fatalf("index version %d: HTTP %d, want %d", s.version, code, s.code)
		}
	}

	res, err = es.Search(
		es.Search.WithContext(ctx),
		es.Search.WithIndex(index),
		es.Search.WithVersion(true),
		es.Search.WithBody(strings.NewReader(`{"query": {"term": {"status": "SETTLED"}}}`)),
	)
	var found struct {
		Hits struct {
			Total struct {
				Value int `json:"value"`
			} `json:"total"`
			Hits []struct {
				ID      string `json:"_id"`
				Version int    `json:"_version"`
				Source  struct {
					Status      string `json:"status"`
					AmountMinor int64  `json:"amount_minor"`
				} `json:"_source"`
			} `json:"hits"`
		} `json:"hits"`
	}
	decodeStatus(t, "search", res, err, http.StatusOK, &found)
	if found.Hits.Total.Value != 1 || len(found.Hits.Hits) != 1 {
		t.Fatalf("search found %d documents, want 1: %+v", found.Hits.Total.Value, found)
	}
	h := found.Hits.Hits[0]
	if h.ID != "p1" || h.Version != 7 || h.Source.Status != "SETTLED" || h.Source.AmountMinor != 700 {
		t.Fatalf("search hit = %+v, want p1 version 7 SETTLED 700", h)
	}
}

// decodeStatus fails the test unless the request succeeded with HTTP want,
// then decodes the body into into (when not nil).
func decodeStatus(t *testing.T, what string, res *esapi.Response, err error, want int, into any) {
	t.Helper()
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
	defer res.Body.Close()
	body, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatalf("%s: read body: %v", what, err)
	}
	if res.StatusCode != want {
		t.Fatalf("%s: HTTP %d, want %d: %s", what, res.StatusCode, want, body)
	}
	if into != nil {
		if err := json.Unmarshal(body, into); err != nil {
			t.Fatalf("%s: decode %s: %v", what, body, err)
		}
	}
}
