package readmodels

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/prism-cqrs/prism/sinks"
	"github.com/prism-cqrs/prism/sinks/internal/pgstore"
)

// Name is the sink's name (consumer group suffix, offsets rows, DLQ header).
const Name = "readmodels"

// Config configures the target.
type Config struct {
	URL      string // postgres://user:pass@host:port/db
	Schema   string // topology Names.PostgresSchema()
	MaxConns int32  // pool size; default 4
}

// Validate reports every problem at once.
func (c Config) Validate() error {
	var errs []error
	if c.URL == "" {
		errs = append(errs, errors.New("readmodels sink: URL is empty"))
	}
	if c.Schema == "" {
		errs = append(errs, errors.New("readmodels sink: Schema is empty"))
	}
	if c.MaxConns < 0 {
		errs = append(errs, fmt.Errorf("readmodels sink: MaxConns %d < 0", c.MaxConns))
	}
	return errors.Join(errs...)
}

// Target maintains the read models.
type Target struct {
	cfg  Config
	pool *pgxpool.Pool
}

var _ sinks.Target = (*Target)(nil)

// New builds the target; the pool connects lazily, so New succeeds while
// Postgres is down (Setup then fails and the runtime retries it).
func New(cfg Config) (*Target, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if cfg.MaxConns == 0 {
		cfg.MaxConns = 4
	}
	pc, err := pgxpool.ParseConfig(cfg.URL)
	if err != nil {
		return nil, fmt.Errorf("readmodels sink: parse URL: %w", err)
	}
	pc.MaxConns = cfg.MaxConns
	pool, err := pgxpool.NewWithConfig(context.Background(), pc)
	if err != nil {
		return nil, fmt.Errorf("readmodels sink: pool: %w", err)
	}
	return &Target{cfg: cfg, pool: pool}, nil
}

// Name implements sinks.Target.
func (t *Target) Name() string { return Name }

// Setup runs the migrations (safe with several instances starting at once).
func (t *Target) Setup(ctx context.Context) error {
	return pgstore.Classify(pgstore.Migrate(ctx, t.pool, t.cfg.Schema, component, migrations))
}

// CommittedOffsets returns the next offsets stored with the read models.
func (t *Target) CommittedOffsets(ctx context.Context, topic string, partitions []int32) (map[int32]int64, error) {
	offs, err := pgstore.ReadOffsets(ctx, t.pool, t.cfg.Schema, Name, topic, partitions)
	return offs, pgstore.Classify(err)
}

// Close closes the pool.
func (t *Target) Close() error {
	t.pool.Close()
	return nil
}

// Ping checks that Postgres answers (the runtime's idle health probe).
func (t *Target) Ping(ctx context.Context) error { return pgstore.Classify(t.pool.Ping(ctx)) }

// Check implements sinks.Checker: the events Write would reject, known
// before writing.
func (t *Target) Check(ev sinks.Event) string { return pgstore.CheckEvent(ev) }
