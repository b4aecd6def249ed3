package readmodels

import (
	"github.com/prism-cqrs/prism/payment"
	"github.com/prism-cqrs/prism/sinks"
	"github.com/prism-cqrs/prism/sinks/internal/pgstore"
)

// Name is the sink's name (consumer group suffix, offsets rows, DLQ header).
const Name = "readmodels"

// Config configures the target: URL, Schema (topology Names.PostgresSchema())
// and MaxConns (pool size, default 4).
type Config = pgstore.Config

// Target maintains the read models.
type Target struct {
	*pgstore.Base
}

var _ sinks.Target = (*Target)(nil)

// New builds the target; it connects lazily, so New succeeds while Postgres
// is down (Setup then fails and the runtime retries it).
func New(cfg Config) (*Target, error) {
	b, err := pgstore.NewBase(Name, cfg, component, migrations)
	if err != nil {
		return nil, err
	}
	b.CheckState = payment.Table().Check // interim (pgsink): the readmodels projection's own check replaces it
	return &Target{Base: b}, nil
}
