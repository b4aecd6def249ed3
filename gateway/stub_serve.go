// Package gateway STUB: replaced at merge by the gateway helper's package.
// Only the API cmd/prism uses (CONTRACT.md), so branch serve compiles.
package gateway

import (
	"context"
	"errors"
	"log/slog"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"

	"github.com/prism-cqrs/prism/producers"
	"github.com/prism-cqrs/prism/queries"
)

// Config STUB.
type Config struct {
	Producer   *producers.CommandProducer
	Commands   *producers.CommandSet
	Redis      redis.UniversalClient
	Namespace  string
	Registerer prometheus.Registerer
	Logger     *slog.Logger
}

// Gateway STUB.
type Gateway struct{}

// New STUB.
func New(context.Context, Config) (*Gateway, error) { return &Gateway{}, nil }

// Submit STUB.
func (*Gateway) Submit(context.Context, queries.Scope, []byte, time.Duration) (int, []byte, error) {
	return 0, nil, errors.New("STUB gateway")
}

// Close STUB.
func (*Gateway) Close() {}
