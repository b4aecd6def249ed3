package payments

// STUB for the bench branch only (deleted when pgread and esread are
// merged): the contract's reader constructors with just enough behaviour
// for the benchmarks' harness to run.

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/elastic/go-elasticsearch/v8"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/redis/go-redis/v9"
	"github.com/twmb/franz-go/pkg/kadm"

	"github.com/prism-cqrs/prism/money"
	"github.com/prism-cqrs/prism/queries"
	"github.com/prism-cqrs/prism/topology"
)

var errStub = errors.New("stub")

type PostgresReader struct {
	pool  *pgxpool.Pool
	table string
}

func NewPostgresReader(pool *pgxpool.Pool, schema string, names topology.Names) *PostgresReader {
	return &PostgresReader{pool: pool, table: pgx.Identifier{schema, "payments"}.Sanitize()}
}

func (r *PostgresReader) ByID(ctx context.Context, id string) (Payment, error) {
	var p Payment
	var c, u time.Time
	err := r.pool.QueryRow(ctx, `SELECT id, organization_id, user_id, amount_minor, currency, description, status, created_at, updated_at, version FROM `+r.table+` WHERE id = $1`, id).
		Scan(&p.ID, &p.OrganizationID, &p.UserID, &p.AmountMinor, &p.Currency, &p.Description, &p.Status, &c, &u, &p.Version)
	if errors.Is(err, pgx.ErrNoRows) {
		return Payment{}, queries.ErrNotFound
	}
	if err != nil {
		return Payment{}, err
	}
	p.Amount, _ = money.Format(p.AmountMinor, p.Currency)
	p.CreatedAt, p.UpdatedAt = FormatTime(c), FormatTime(u)
	return p, nil
}
func (r *PostgresReader) Search(context.Context, queries.Scope, SearchParams) (SearchAnswer, error) {
	return SearchAnswer{}, errStub
}
func (r *PostgresReader) Statistics(context.Context, string) (StatisticsAnswer, error) {
	return StatisticsAnswer{}, errStub
}
func (r *PostgresReader) Analytics(context.Context, AnalyticsParams) (AnalyticsAnswer, error) {
	return AnalyticsAnswer{}, errStub
}
func (r *PostgresReader) Applied(context.Context, queries.Token) (int64, error) { return 0, errStub }

type ReadModelsReader struct {
	pool  *pgxpool.Pool
	table string
}

func NewReadModelsReader(pool *pgxpool.Pool, schema string, names topology.Names) *ReadModelsReader {
	return &ReadModelsReader{pool: pool, table: pgx.Identifier{schema, "payment_summary"}.Sanitize()}
}

func (r *ReadModelsReader) Statistics(ctx context.Context, org string) (StatisticsAnswer, error) {
	rows, err := r.pool.Query(ctx, `SELECT status, currency, count, total_amount_minor FROM `+r.table+
		` WHERE organization_id = $1 AND count > 0 ORDER BY status COLLATE "C", currency COLLATE "C"`, org)
	if err != nil {
		return StatisticsAnswer{}, err
	}
	defer rows.Close()
	a := StatisticsAnswer{OrganizationID: org, ByStatus: []StatusTotal{}}
	for rows.Next() {
		var st, cur string
		var n, tot int64
		if err := rows.Scan(&st, &cur, &n, &tot); err != nil {
			return StatisticsAnswer{}, err
		}
		a.ByStatus = append(a.ByStatus, StatusTotal{Status: st, Total: NewTotal(cur, n, tot)})
		a.Count += n
	}
	return a, rows.Err()
}
func (r *ReadModelsReader) Timeline(context.Context, queries.Scope, string) (TimelineAnswer, error) {
	return TimelineAnswer{}, errStub
}
func (r *ReadModelsReader) Applied(context.Context, queries.Token) (int64, error) { return 0, errStub }

type RedisReader struct {
	rdb    redis.UniversalClient
	prefix string
}

func NewRedisReader(rdb redis.UniversalClient, names topology.Names) *RedisReader {
	return &RedisReader{rdb: rdb, prefix: names.RedisPrefix() + "payment:"}
}

func (r *RedisReader) ByID(ctx context.Context, id string) (Payment, error) {
	s, err := r.rdb.Get(ctx, r.prefix+id).Bytes()
	if errors.Is(err, redis.Nil) {
		return Payment{}, queries.ErrNotFound
	}
	if err != nil {
		return Payment{}, err
	}
	var d struct {
		Payment
		CreatedAt time.Time `json:"createdAt"`
		UpdatedAt time.Time `json:"updatedAt"`
	}
	if err := json.Unmarshal(s, &d); err != nil {
		return Payment{}, err
	}
	p := d.Payment
	p.CreatedAt, p.UpdatedAt = FormatTime(d.CreatedAt), FormatTime(d.UpdatedAt)
	return p, nil
}
func (r *RedisReader) Applied(context.Context, queries.Token) (int64, error) { return 0, errStub }

type ElasticsearchReader struct {
	es    *elasticsearch.Client
	alias string
}

func NewElasticsearchReader(es *elasticsearch.Client, admin *kadm.Client, names topology.Names) *ElasticsearchReader {
	return &ElasticsearchReader{es: es, alias: names.ElasticsearchAlias()}
}

func (r *ElasticsearchReader) Search(ctx context.Context, scope queries.Scope, p SearchParams) (SearchAnswer, error) {
	var filter []any
	if p.OrganizationID != "" {
		filter = append(filter, map[string]any{"term": map[string]any{"organization_id": p.OrganizationID}})
	}
	if p.Status != "" {
		filter = append(filter, map[string]any{"term": map[string]any{"status": p.Status}})
	}
	field := map[string]string{SortCreatedAt: "created_at", SortStatus: "status", SortAmount: "amount"}[p.Sort]
	body, _ := json.Marshal(map[string]any{
		"query": map[string]any{"bool": map[string]any{"filter": filter}},
		"sort":  []any{map[string]any{field: p.Order}, map[string]any{"id": "asc"}},
		"from":  (p.Page - 1) * p.Size, "size": p.Size, "track_total_hits": true,
	})
	res, err := r.es.Search(r.es.Search.WithContext(ctx), r.es.Search.WithIndex(r.alias), r.es.Search.WithBody(bytes.NewReader(body)))
	if err != nil {
		return SearchAnswer{}, err
	}
	defer res.Body.Close()
	raw, _ := io.ReadAll(res.Body)
	if res.IsError() {
		return SearchAnswer{}, fmt.Errorf("search: %s", strings.TrimSpace(string(raw)))
	}
	var out struct {
		Hits struct {
			Total struct{ Value int64 } `json:"total"`
			Hits  []struct {
				Source struct {
					ID, OrganizationID, UserID, Currency, Description, Status string
					AmountMinor                                               int64
					CreatedAt, UpdatedAt                                      string
					Version                                                   int64
				} `json:"_source"`
			} `json:"hits"`
		} `json:"hits"`
	}
	if err := json.Unmarshal(raw, &out); err != nil {
		return SearchAnswer{}, err
	}
	a := SearchAnswer{Items: []Payment{}, Total: out.Hits.Total.Value, Page: p.Page, Size: p.Size}
	for _, h := range out.Hits.Hits {
		s := h.Source
		a.Items = append(a.Items, Payment{ID: s.ID, OrganizationID: s.OrganizationID, Status: s.Status, Version: s.Version})
	}
	return a, nil
}
func (r *ElasticsearchReader) Analytics(context.Context, AnalyticsParams) (AnalyticsAnswer, error) {
	return AnalyticsAnswer{}, errStub
}
func (r *ElasticsearchReader) Applied(context.Context, queries.Token) (int64, error) {
	return 0, errStub
}
