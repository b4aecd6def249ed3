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
func Inspect(ctx context.Context, cfg InspectConfig) (Sources, error) {
	src := Sources{LivePayments: map[string]int64{}, Sample: map[string]string{}}
	schema := pgx.Identifier{cfg.Names.PostgresSchema()}.Sanitize()

	pg, err := pgx.Connect(ctx, cfg.PostgresURL)
	if err != nil {
		return src, fmt.Errorf("postgres: %w", err)
	}
	defer pg.Close(context.Background())
	var n int64
	if err := pg.QueryRow(ctx, "SELECT count(*) FROM "+schema+".payments").Scan(&n); err != nil {
		return src, fmt.Errorf("postgres: count payments: %w", err)
	}
	src.LivePayments["postgres"] = n
	if err := pg.QueryRow(ctx, "SELECT count(*) FROM "+schema+".payment_timeline").Scan(&src.TimelineRows); err != nil {
		return src, fmt.Errorf("postgres: count timeline: %w", err)
	}
	rows, err := pg.Query(ctx, "SELECT organization_id, status, currency, count, total_amount_minor FROM "+schema+
		".payment_summary WHERE count > 0 ORDER BY organization_id, status, currency")
	if err != nil {
		return src, fmt.Errorf("postgres: read payment_summary: %w", err)
	}
	for rows.Next() {
		var r SummaryRow
		if err := rows.Scan(&r.Organization, &r.Status, &r.Currency, &r.Count, &r.TotalMinor); err != nil {
			rows.Close()
			return src, fmt.Errorf("postgres: scan payment_summary: %w", err)
		}
		src.Summary = append(src.Summary, r)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return src, fmt.Errorf("postgres: read payment_summary: %w", err)
	}
	var sample string
	err = pg.QueryRow(ctx, "SELECT row_to_json(p)::text, p.id FROM "+schema+".payments p ORDER BY p.id LIMIT 1").Scan(&sample, &src.SampleID)
	if err != nil && !errors.Is(err, pgx.ErrNoRows) {
		return src, fmt.Errorf("postgres: sample: %w", err)
	}
	if src.SampleID != "" {
		src.Sample["postgres"] = sample
	}

	ropts, err := redis.ParseURL(cfg.RedisURL)
	if err != nil {
		return src, fmt.Errorf("redis url: %w", err)
	}
	rc := redis.NewClient(ropts)
	defer rc.Close()
	prefix := cfg.Names.RedisPrefix() + "payment:"
	var count int64
	iter := rc.Scan(ctx, 0, prefix+"*", 1000).Iterator()
	for iter.Next(ctx) {
		if !strings.HasSuffix(iter.Val(), ":v") {
			count++
		}
	}
	if err := iter.Err(); err != nil {
		return src, fmt.Errorf("redis: scan payments: %w", err)
	}
	src.LivePayments["redis"] = count
	if src.SampleID != "" {
		if v, err := rc.Get(ctx, prefix+src.SampleID).Result(); err == nil {
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
