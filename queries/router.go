package queries

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// SourceConfig declares one read source of the router.
type SourceConfig struct {
	// Name names the source in answers, headers and metrics: "redis",
	// "postgres", "readmodels", "elasticsearch".
	Name string
	// Probe is the active health probe (a ping); nil: passive error
	// counting only.
	Probe func(ctx context.Context) error
	// Timeout bounds each read on this source; 0: RouterConfig.Timeout.
	Timeout time.Duration
}

// RouterConfig configures a Router. Zero values take the defaults.
type RouterConfig struct {
	Sources          []SourceConfig
	Timeout          time.Duration // per read (2 s)
	ProbeInterval    time.Duration // 2 s
	FailureThreshold uint32        // consecutive failures that open a source's breaker (5)
	OpenTimeout      time.Duration // an open breaker lets one read through after it (5 s)
	ConsistencyWait  time.Duration // default bound of token and minVersion waits (5 s)
	PollInterval     time.Duration // progress polling while waiting (20 ms)
	Registerer       prometheus.Registerer
	Logger           *slog.Logger
}

// SourceHealth is one source's state as the router sees it.
type SourceHealth struct {
	Name      string    `json:"name"`
	Healthy   bool      `json:"healthy"`
	Breaker   string    `json:"breaker"` // closed, open, half-open
	LastError string    `json:"lastError,omitempty"`
	Since     time.Time `json:"since"`
}

// Step is one source a query can be read from, in a route.
type Step struct {
	Source string
	Read   func(ctx context.Context) (Answer, error)
	// Applied reports the source's progress on the token's partition: the
	// next offset it will read. nil: the source cannot prove freshness and
	// is skipped for queries with a token.
	Applied func(ctx context.Context, t Token) (next int64, err error)
	// FallThroughOnNotFound makes ErrNotFound from this step ask the next
	// step (a cache that may have expired the key) instead of answering.
	FallThroughOnNotFound bool
}

// Router chooses, per query, the first healthy source of its route.
// PLACEHOLDER: health, breakers and metrics come with the router work.
type Router struct {
	cfg RouterConfig
}

// NewRouter builds a router over cfg.Sources.
func NewRouter(cfg RouterConfig) (*Router, error) {
	if cfg.Timeout == 0 {
		cfg.Timeout = 2 * time.Second
	}
	if cfg.ConsistencyWait == 0 {
		cfg.ConsistencyWait = 5 * time.Second
	}
	if cfg.PollInterval == 0 {
		cfg.PollInterval = 20 * time.Millisecond
	}
	return &Router{cfg: cfg}, nil
}

// Run probes every source until ctx ends.
func (r *Router) Run(ctx context.Context) { <-ctx.Done() }

// Health returns every source's state.
func (r *Router) Health() []SourceHealth { return nil }

// ConsistencyWait is the default bound of consistency waits.
func (r *Router) ConsistencyWait() time.Duration { return r.cfg.ConsistencyWait }

// PollInterval is how often a wait polls its source.
func (r *Router) PollInterval() time.Duration { return r.cfg.PollInterval }

// Route asks the steps in order and returns the first answer, its Source
// set to the step's.
func (r *Router) Route(ctx context.Context, q Query, steps ...Step) (Answer, error) {
	var errs []error
	for i, s := range steps {
		rctx, cancel := context.WithTimeout(ctx, r.cfg.Timeout)
		a, err := s.Read(rctx)
		cancel()
		switch {
		case err == nil:
			a.Source = s.Source
			return a, nil
		case errors.Is(err, ErrNotFound) && s.FallThroughOnNotFound && i < len(steps)-1:
			continue
		case errors.Is(err, ErrNotFound):
			return Answer{}, err
		}
		var pe *ParamError
		if errors.As(err, &pe) {
			return Answer{}, err
		}
		errs = append(errs, fmt.Errorf("%s: %w", s.Source, err))
	}
	return Answer{}, fmt.Errorf("query %s: every source failed: %w", q.Type, errors.Join(errs...))
}
