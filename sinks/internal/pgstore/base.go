package pgstore

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/prism-cqrs/prism/records"
	"github.com/prism-cqrs/prism/sinks"
)

// Config is how a Postgres sink reaches its database.
type Config struct {
	URL      string // postgres://user:pass@host:port/db
	Schema   string // topology Names.PostgresSchema()
	MaxConns int32  // pool size; default 4
	// Namespace owns Schema: recorded at Setup, and Setup refuses a schema
	// recorded for another namespace (sinks.ErrStoreOwned). "" skips both.
	Namespace string
}

// Validate reports every problem at once, naming the sink.
func (c Config) Validate(sink string) error {
	var errs []error
	if c.URL == "" {
		errs = append(errs, fmt.Errorf("%s sink: URL is empty", sink))
	}
	if c.Schema == "" {
		errs = append(errs, fmt.Errorf("%s sink: Schema is empty", sink))
	}
	if c.MaxConns < 0 {
		errs = append(errs, fmt.Errorf("%s sink: MaxConns %d < 0", sink, c.MaxConns))
	}
	return errors.Join(errs...)
}

// Base is what every Postgres sink shares: the pool, the migrations run by
// Setup, the offsets stored in the sink's own rows, health and the
// up-front check of events. A sink embeds it and adds Write.
type Base struct {
	Sink      string
	Schema    string
	Namespace string
	Pool      *pgxpool.Pool
	// CheckState is the aggregate's own part of Check (see CheckEvent);
	// nil checks the envelope only.
	CheckState func(*records.Event) string

	series []Series
}

// NewBase builds the pool; it connects lazily, so NewBase succeeds while
// Postgres is down (Setup then fails and the runtime retries it).
// migrations are the sink's own series, recorded under component.
func NewBase(sink string, cfg Config, component string, migrations []Migration) (*Base, error) {
	if err := cfg.Validate(sink); err != nil {
		return nil, err
	}
	if cfg.MaxConns == 0 {
		cfg.MaxConns = 4
	}
	pc, err := pgxpool.ParseConfig(cfg.URL)
	if err != nil {
		return nil, fmt.Errorf("%s sink: parse URL: %w", sink, err)
	}
	pc.MaxConns = cfg.MaxConns
	pool, err := pgxpool.NewWithConfig(context.Background(), pc)
	if err != nil {
		return nil, fmt.Errorf("%s sink: pool: %w", sink, err)
	}
	return &Base{Sink: sink, Schema: cfg.Schema, Namespace: cfg.Namespace, Pool: pool,
		series: []Series{{Component: component, Migrations: migrations}}}, nil
}

// AddSeries adds a migration series Setup applies after the sink's own
// (a projection's tables). Call it before Setup.
func (b *Base) AddSeries(s Series) { b.series = append(b.series, s) }

// Name implements sinks.Target.
func (b *Base) Name() string { return b.Sink }

// Setup runs the sink's migrations (see Migrate: safe with several
// instances starting at once).
func (b *Base) Setup(ctx context.Context) error {
	return Classify(Migrate(ctx, b.Pool, b.Schema, b.Namespace, b.series...))
}

// CommittedOffsets returns the next offsets stored with the sink's rows.
func (b *Base) CommittedOffsets(ctx context.Context, topic string, partitions []int32) (map[int32]int64, error) {
	offs, err := ReadOffsets(ctx, b.Pool, b.Schema, b.Sink, topic, partitions)
	return offs, Classify(err)
}

// Close closes the pool.
func (b *Base) Close() error {
	b.Pool.Close()
	return nil
}

// Ping checks that Postgres answers (the runtime's idle health probe).
func (b *Base) Ping(ctx context.Context) error { return Classify(b.Pool.Ping(ctx)) }

// Check implements sinks.Checker: the events Write would reject, known
// before writing.
func (b *Base) Check(ev sinks.Event) string { return CheckEvent(ev, b.CheckState) }
