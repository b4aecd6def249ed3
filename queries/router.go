package queries

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
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
	// Timeout bounds each read (and probe) on this source; 0:
	// RouterConfig.Timeout.
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

// Defaults of RouterConfig.
const (
	DefaultSourceTimeout    = 2 * time.Second
	DefaultProbeInterval    = 2 * time.Second
	DefaultFailureThreshold = 5
	DefaultOpenTimeout      = 5 * time.Second
	DefaultConsistencyWait  = 5 * time.Second
	DefaultPollInterval     = 20 * time.Millisecond
)

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

// Router chooses, per query, the first usable source of its route (see
// Route); it keeps per source an active probe (Run), a circuit breaker
// fed by the reads' outcomes and a timeout per read. Safe for concurrent
// use.
type Router struct {
	cfg     RouterConfig
	log     *slog.Logger
	metrics *routerMetrics

	mu      sync.RWMutex
	sources map[string]*source
	order   []*source // cfg.Sources' order, then sources first seen in a route
}

// Validate reports every problem of cfg at once.
func (cfg RouterConfig) Validate() error {
	var errs []error
	seen := map[string]bool{}
	for i, s := range cfg.Sources {
		switch {
		case s.Name == "":
			errs = append(errs, fmt.Errorf("source %d: empty name", i))
		case seen[s.Name]:
			errs = append(errs, fmt.Errorf("source %s: declared twice", s.Name))
		}
		seen[s.Name] = true
		if s.Timeout < 0 {
			errs = append(errs, fmt.Errorf("source %s: negative timeout", s.Name))
		}
	}
	for _, d := range []struct {
		name string
		v    time.Duration
	}{
		{"timeout", cfg.Timeout}, {"probe interval", cfg.ProbeInterval}, {"open timeout", cfg.OpenTimeout},
		{"consistency wait", cfg.ConsistencyWait}, {"poll interval", cfg.PollInterval},
	} {
		if d.v < 0 {
			errs = append(errs, fmt.Errorf("negative %s", d.name))
		}
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("queries: router config: %w", err)
	}
	return nil
}

// NewRouter builds a router over cfg.Sources and registers its metrics on
// cfg.Registerer (none when nil). Every source starts healthy with a
// closed breaker; Run starts the probes.
func NewRouter(cfg RouterConfig) (*Router, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	setDefault(&cfg.Timeout, DefaultSourceTimeout)
	setDefault(&cfg.ProbeInterval, DefaultProbeInterval)
	setDefault(&cfg.OpenTimeout, DefaultOpenTimeout)
	setDefault(&cfg.ConsistencyWait, DefaultConsistencyWait)
	setDefault(&cfg.PollInterval, DefaultPollInterval)
	if cfg.FailureThreshold == 0 {
		cfg.FailureThreshold = DefaultFailureThreshold
	}
	r := &Router{cfg: cfg, log: cfg.Logger, sources: map[string]*source{}}
	if r.log == nil {
		r.log = slog.Default()
	}
	m, err := newRouterMetrics(cfg.Registerer)
	if err != nil {
		return nil, err
	}
	r.metrics = m
	for _, sc := range cfg.Sources {
		r.addSource(sc)
	}
	return r, nil
}

func setDefault(d *time.Duration, v time.Duration) {
	if *d == 0 {
		*d = v
	}
}

// addSource registers a source; the caller holds r.mu or is NewRouter.
func (r *Router) addSource(sc SourceConfig) *source {
	if sc.Timeout == 0 {
		sc.Timeout = r.cfg.Timeout
	}
	s := newSource(sc, r.cfg, r.metrics, r.log)
	r.sources[sc.Name] = s
	r.order = append(r.order, s)
	return s
}

// source returns the state of a named source. A route naming a source
// the configuration does not declare gets one on first use: without
// probe, with the default timeout and its own breaker.
func (r *Router) source(name string) *source {
	r.mu.RLock()
	s, ok := r.sources[name]
	r.mu.RUnlock()
	if ok {
		return s
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if s, ok := r.sources[name]; ok {
		return s
	}
	return r.addSource(SourceConfig{Name: name})
}

func (r *Router) all() []*source {
	r.mu.RLock()
	defer r.mu.RUnlock()
	return append([]*source(nil), r.order...)
}

// Health returns every source's state, in configuration order.
func (r *Router) Health() []SourceHealth {
	var hs []SourceHealth
	for _, s := range r.all() {
		hs = append(hs, s.health())
	}
	return hs
}

// ConsistencyWait is the default bound of consistency waits.
func (r *Router) ConsistencyWait() time.Duration { return r.cfg.ConsistencyWait }

// PollInterval is how often a wait polls its source.
func (r *Router) PollInterval() time.Duration { return r.cfg.PollInterval }

// Route asks the steps in order and returns the first answer, its Source
// set to the step's:
//
//   - A step whose source is unhealthy (its probe fails) or whose breaker
//     is open (or half-open with its trial read in flight) is skipped,
//     unless no later step is usable: then it is still tried (bypassing
//     its breaker) rather than failing with nothing.
//   - ErrNotFound is an answer: returned, and a success for the breaker;
//     on a FallThroughOnNotFound step (a cache whose keys expire) it asks
//     the next step instead (the last step's ErrNotFound is returned).
//   - A *ParamError is returned at once and is no failure of the source;
//     neither is the caller's cancellation or deadline, returned at once.
//   - Any other error, and a read longer than the source's timeout, is a
//     failure counted by the source's breaker, and the next step is asked.
//     When every step failed the error joins each step's error (naming
//     hosts perhaps: callers show a generic message and log this one).
//
// With a consistency token (q.Consistency.Token), only steps with Applied
// are read, once they applied the token (see routeFresh), and an error
// wrapping ErrNotApplied says none did within the wait.
//
// An answer from a step other than the first counts in
// prism_query_fallbacks_total{type,source}; a Redis key that expired and
// fell through to Postgres counts there too.
func (r *Router) Route(ctx context.Context, q Query, steps ...Step) (Answer, error) {
	if q.Consistency.Token != nil {
		return r.routeFresh(ctx, q, steps)
	}
	var errs []error
	for i, st := range steps {
		src := r.source(st.Source)
		force := !r.anyUsable(steps[i+1:])
		if !force && !src.isHealthy() {
			errs = append(errs, fmt.Errorf("%s: skipped: unhealthy", st.Source))
			continue
		}
		a, err := r.read(ctx, src, st, force)
		switch {
		case err == nil:
			return r.answered(q, steps, i, a), nil
		case errors.Is(err, ErrNotFound) && st.FallThroughOnNotFound && i < len(steps)-1:
			continue
		case errors.Is(err, ErrNotFound):
			r.answered(q, steps, i, Answer{})
			return Answer{}, err
		case isParamError(err):
			return Answer{}, err
		case ctx.Err() != nil:
			return Answer{}, fmt.Errorf("query %s: %w", q.Type, ctx.Err())
		}
		errs = append(errs, fmt.Errorf("%s: %w", st.Source, err))
	}
	if len(steps) == 0 {
		return Answer{}, fmt.Errorf("query %s: no source configured", q.Type)
	}
	return Answer{}, fmt.Errorf("query %s: every source failed: %w", q.Type, errors.Join(errs...))
}

// answered sets the answer's source and counts a fallback when the
// answering step is not the route's first.
func (r *Router) answered(q Query, steps []Step, i int, a Answer) Answer {
	a.Source = steps[i].Source
	if i > 0 {
		r.metrics.fallback(q.Type, a.Source)
		r.log.Debug("query answered by a fallback source", "type", q.Type, "source", a.Source, "first", steps[0].Source)
	}
	return a
}

// anyUsable reports whether one of steps' sources is healthy with a
// breaker that is not open.
func (r *Router) anyUsable(steps []Step) bool {
	for _, st := range steps {
		if r.source(st.Source).usable() {
			return true
		}
	}
	return false
}

func isParamError(err error) bool {
	var pe *ParamError
	return errors.As(err, &pe)
}
