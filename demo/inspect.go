package demo

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/elastic/go-elasticsearch/v8"
	"github.com/jackc/pgx/v5"
	"github.com/redis/go-redis/v9"

	"github.com/prism-cqrs/prism/payment"
	redissink "github.com/prism-cqrs/prism/sinks/redis"
	"github.com/prism-cqrs/prism/topology"
)

// InspectConfig says where the read sources are.
type InspectConfig struct {
	Names             topology.Names
	PostgresURL       string
	RedisURL          string
	ElasticsearchURLs []string
	ElasticUser       string
	ElasticPassword   string
}

// Inspect reads the number of live payments from Postgres, Redis and
// Elasticsearch, the read-model summary and one sample payment from each.
// It reads through the readers of the stores' owners, so it never disagrees
// with how the sinks write: Payment's table and read-model readers
// (payment.ReadPayments, ReadSummary, ReadTimeline), the Redis sink's keys
// laid out by Payment's cache projection (sinks/redis.Keys), and the
// Elasticsearch alias of the topology's names.
func Inspect(ctx context.Context, cfg InspectConfig) (Sources, error) {
	src := Sources{LivePayments: map[string]int64{}, Sample: map[string]string{}}
	schema := cfg.Names.PostgresSchema()

	pg, err := pgx.Connect(ctx, cfg.PostgresURL)
	if err != nil {
		return src, fmt.Errorf("postgres: %w", err)
	}
	defer pg.Close(context.Background())
	payments, err := payment.ReadPayments(ctx, pg, schema)
	if err != nil {
		return src, fmt.Errorf("postgres: %w", err)
	}
	src.LivePayments["postgres"] = int64(len(payments))
	timeline, err := payment.ReadTimeline(ctx, pg, schema)
	if err != nil {
		return src, fmt.Errorf("postgres: %w", err)
	}
	src.TimelineRows = int64(len(timeline))
	summary, err := payment.ReadSummary(ctx, pg, schema)
	if err != nil {
		return src, fmt.Errorf("postgres: %w", err)
	}
	for _, r := range summary {
		if r.Count > 0 {
			src.Summary = append(src.Summary, r)
		}
	}
	// The sample is the payment with the smallest id.
	for id := range payments {
		if src.SampleID == "" || id < src.SampleID {
			src.SampleID = id
		}
	}
	if src.SampleID != "" {
		src.SampleOrganization = payments[src.SampleID].OrganizationID
		b, err := json.Marshal(payments[src.SampleID])
		if err != nil {
			return src, fmt.Errorf("postgres: sample: %w", err)
		}
		src.Sample["postgres"] = string(b)
	}

	ropts, err := redis.ParseURL(cfg.RedisURL)
	if err != nil {
		return src, fmt.Errorf("redis url: %w", err)
	}
	rc := redis.NewClient(ropts)
	defer rc.Close()
	keys := redissink.NewKeys(cfg.Names, payment.RedisCache{}.CacheLayout())
	// The version the sink's pointer names (a side-by-side rebuild moves it).
	version, err := keys.CurrentVersion(ctx, rc)
	if err != nil {
		return src, fmt.Errorf("redis: read version pointer: %w", err)
	}
	keys = keys.At(version)
	var count int64
	iter := rc.Scan(ctx, 0, keys.Doc("*"), 1000).Iterator()
	for iter.Next(ctx) {
		// Deletion markers (Keys.Version: the document key and ":v") that
		// earlier sink versions left share the documents' prefix.
		if !strings.HasSuffix(iter.Val(), ":v") {
			count++
		}
	}
	if err := iter.Err(); err != nil {
		return src, fmt.Errorf("redis: scan payments: %w", err)
	}
	src.LivePayments["redis"] = count
	if src.SampleID != "" {
		if v, err := rc.Get(ctx, keys.Doc(src.SampleID)).Result(); err == nil {
			src.Sample["redis"] = v
		} else if !errors.Is(err, redis.Nil) {
			return src, fmt.Errorf("redis: get sample: %w", err)
		}
	}

	es, err := elasticsearch.NewClient(elasticsearch.Config{
		Addresses: cfg.ElasticsearchURLs, Username: cfg.ElasticUser, Password: cfg.ElasticPassword,
	})
	if err != nil {
		return src, fmt.Errorf("elasticsearch client: %w", err)
	}
	alias := cfg.Names.ElasticsearchAlias()
	if res, err := es.Indices.Refresh(es.Indices.Refresh.WithIndex(alias), es.Indices.Refresh.WithContext(ctx)); err == nil {
		res.Body.Close()
	}
	res, err := es.Count(es.Count.WithIndex(alias), es.Count.WithContext(ctx))
	if err != nil {
		return src, fmt.Errorf("elasticsearch: count: %w", err)
	}
	var cnt struct {
		Count int64 `json:"count"`
	}
	err = decodeES(res.StatusCode, res.Body, &cnt)
	res.Body.Close()
	if err != nil {
		return src, fmt.Errorf("elasticsearch: count: %w", err)
	}
	src.LivePayments["elasticsearch"] = cnt.Count
	if src.SampleID != "" {
		res, err := es.Get(alias, src.SampleID, es.Get.WithContext(ctx))
		if err != nil {
			return src, fmt.Errorf("elasticsearch: get sample: %w", err)
		}
		var doc struct {
			Source json.RawMessage `json:"_source"`
		}
		err = decodeES(res.StatusCode, res.Body, &doc)
		res.Body.Close()
		if err == nil {
			src.Sample["elasticsearch"] = string(doc.Source)
		}
	}
	return src, nil
}

func decodeES(status int, body io.Reader, v any) error {
	b, err := io.ReadAll(body)
	if err != nil {
		return err
	}
	if status >= 300 {
		return fmt.Errorf("status %d: %s", status, b)
	}
	return json.Unmarshal(b, v)
}
