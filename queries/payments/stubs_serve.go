package payments

// STUB: replaced at merge. Temporary reader constructors with the
// signatures of CONTRACT.md so cmd/prism compiles on branch serve; the
// lead deletes this file when pgread's and esread's readers land.

import (
	"context"
	"errors"

	"github.com/elastic/go-elasticsearch/v8"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/redis/go-redis/v9"
	"github.com/twmb/franz-go/pkg/kadm"

	"github.com/prism-cqrs/prism/queries"
	"github.com/prism-cqrs/prism/topology"
)

var errStub = errors.New("STUB reader")

type stubReader struct{}

func (stubReader) ByID(context.Context, string) (Payment, error) { return Payment{}, errStub }
func (stubReader) Search(context.Context, queries.Scope, SearchParams) (SearchAnswer, error) {
	return SearchAnswer{}, errStub
}
func (stubReader) Statistics(context.Context, string) (StatisticsAnswer, error) {
	return StatisticsAnswer{}, errStub
}
func (stubReader) Analytics(context.Context, AnalyticsParams) (AnalyticsAnswer, error) {
	return AnalyticsAnswer{}, errStub
}
func (stubReader) Timeline(context.Context, queries.Scope, string) (TimelineAnswer, error) {
	return TimelineAnswer{}, errStub
}
func (stubReader) Applied(context.Context, queries.Token) (int64, error) { return 0, errStub }

// PostgresReader STUB.
type PostgresReader struct{ stubReader }

// NewPostgresReader STUB.
func NewPostgresReader(*pgxpool.Pool, string, topology.Names) *PostgresReader {
	return &PostgresReader{}
}

// ReadModelsReader STUB.
type ReadModelsReader struct{ stubReader }

// NewReadModelsReader STUB.
func NewReadModelsReader(*pgxpool.Pool, string, topology.Names) *ReadModelsReader {
	return &ReadModelsReader{}
}

// RedisReader STUB.
type RedisReader struct{ stubReader }

// NewRedisReader STUB.
func NewRedisReader(redis.UniversalClient, topology.Names) *RedisReader { return &RedisReader{} }

// ElasticsearchReader STUB.
type ElasticsearchReader struct{ stubReader }

// NewElasticsearchReader STUB.
func NewElasticsearchReader(*elasticsearch.Client, *kadm.Client, topology.Names) *ElasticsearchReader {
	return &ElasticsearchReader{}
}
