package gateway

import (
	"cmp"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"

	"github.com/prism-cqrs/prism/producers"
	"github.com/prism-cqrs/prism/topology"
)

// Config configures a Gateway. The aggregates (plural name, events topic
// and decoder, command types) are the producer's (producers.Aggregate).
type Config struct {
	// Producer sends the commands and watches their results and events;
	// every aggregate of it needs Plural, EventsTopic and Events for the
	// consistency tokens. The gateway does not close it.
	Producer *producers.CommandProducer
	// Commands parses the bodies (the command types of the producer's
	// aggregates).
	Commands *producers.CommandSet
	// Redis holds the idempotency store; nil means no store (a retried
	// POST is produced again and the processor answers it as a duplicate).
	Redis redis.UniversalClient
	// Namespace prefixes the store's keys: <ns>:gateway:command:<commandId>.
	Namespace string
	// StoreTTL is how long an answer is kept (default 24h).
	StoreTTL time.Duration
	// BackgroundWait is how long, from the POST, the gateway keeps
	// waiting for a result after answering 202, to store it (default 60s).
	BackgroundWait time.Duration
	// TokenWait bounds the wait for an accepted command's events, once its
	// result came, for its consistency token (default 5s; past it the
	// answer has no token).
	TokenWait time.Duration
	// Registerer receives the metrics (nil: not registered).
	Registerer prometheus.Registerer
	Logger     *slog.Logger
}

// Defaults of Config and of Submit's wait.
const (
	DefaultStoreTTL       = 24 * time.Hour
	DefaultBackgroundWait = 60 * time.Second
	DefaultTokenWait      = 5 * time.Second
	DefaultWait           = 5 * time.Second
	MaxWait               = 30 * time.Second
)

func (c Config) withDefaults() Config {
	c.StoreTTL = cmp.Or(c.StoreTTL, DefaultStoreTTL)
	c.BackgroundWait = cmp.Or(c.BackgroundWait, DefaultBackgroundWait)
	c.TokenWait = cmp.Or(c.TokenWait, DefaultTokenWait)
	c.Logger = cmp.Or(c.Logger, slog.Default())
	return c
}

// Validate reports every problem at once.
func (c Config) Validate() error {
	var errs []error
	if c.Producer == nil {
		errs = append(errs, errors.New("gateway: no producer"))
	} else if !c.Producer.HasEvents() {
		errs = append(errs, errors.New("gateway: an aggregate of the producer has no events topic (consistency tokens need it)"))
	}
	if c.Commands == nil {
		errs = append(errs, errors.New("gateway: no command set"))
	}
	if c.Redis != nil {
		if err := topology.ValidateNamespace(c.Namespace); err != nil {
			errs = append(errs, fmt.Errorf("gateway: %w", err))
		}
	}
	for _, d := range []struct {
		name string
		v    time.Duration
	}{{"store TTL", c.StoreTTL}, {"background wait", c.BackgroundWait}, {"token wait", c.TokenWait}} {
		if d.v < 0 {
			errs = append(errs, fmt.Errorf("gateway: %s %s is negative", d.name, d.v))
		}
	}
	return errors.Join(errs...)
}
