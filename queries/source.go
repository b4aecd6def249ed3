package queries

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"regexp"
	"sync"
	"time"

	"github.com/sony/gobreaker/v2"
)

// errExcluded marks a read outcome the breaker neither counts as a
// success nor as a failure (a parameter error, the caller's cancellation).
var errExcluded = errors.New("not a source outcome")

// source is the router's state of one read source: its breaker, fed by
// the reads' outcomes, and its probe's verdict. The source is healthy
// while its probe (if any) passes and its breaker is closed.
type source struct {
	name    string
	timeout time.Duration
	probe   func(ctx context.Context) error
	cb      *gobreaker.TwoStepCircuitBreaker[struct{}]
	metrics *routerMetrics
	log     *slog.Logger

	mu      sync.Mutex
	probeOK bool
	state   gobreaker.State
	healthy bool
	lastErr string
	since   time.Time
}

func newSource(sc SourceConfig, cfg RouterConfig, m *routerMetrics, log *slog.Logger) *source {
	s := &source{
		name: sc.Name, timeout: sc.Timeout, probe: sc.Probe, metrics: m, log: log,
		probeOK: true, healthy: true, since: time.Now(),
	}
	threshold := cfg.FailureThreshold
	s.cb = gobreaker.NewTwoStepCircuitBreaker[struct{}](gobreaker.Settings{
		Name:        sc.Name,
		MaxRequests: 1, // half-open: one trial read; its success closes the breaker
		Timeout:     cfg.OpenTimeout,
		ReadyToTrip: func(c gobreaker.Counts) bool { return c.ConsecutiveFailures >= threshold },
		IsExcluded:  func(err error) bool { return errors.Is(err, errExcluded) },
		// Called with the breaker's lock held: touches only s.mu.
		OnStateChange: func(_ string, from, to gobreaker.State) { s.breakerChanged(from, to, threshold) },
	})
	m.sourceState(s.name, true, gobreaker.StateClosed)
	return s
}

// isHealthy reports the probe's verdict (true for a source without probe).
func (s *source) isHealthy() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.probeOK
}

// usable reports whether a read would be tried: probe passing and breaker
// not open (half-open lets its trial read through).
func (s *source) usable() bool {
	st := s.cb.State() // first: may move open → half-open (OnStateChange)
	return s.isHealthy() && st != gobreaker.StateOpen
}

// health returns the source's state; reading the breaker's state also
// moves an open breaker whose OpenTimeout passed to half-open.
func (s *source) health() SourceHealth {
	st := s.cb.State()
	s.mu.Lock()
	defer s.mu.Unlock()
	return SourceHealth{Name: s.name, Healthy: s.healthy, Breaker: st.String(), LastError: s.lastErr, Since: s.since}
}

// probed records a probe's outcome. The error kept (and logged) is the
// probe's message with any URL password or password=... value masked.
func (s *source) probed(err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.probeOK = err == nil
	if err != nil {
		s.lastErr = redactSecrets(err.Error())
	}
	s.settle()
}

func (s *source) breakerChanged(from, to gobreaker.State, threshold uint32) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.state = to
	if to == gobreaker.StateOpen && from == gobreaker.StateClosed {
		s.lastErr = fmt.Sprintf("circuit breaker open after %d consecutive failed reads", threshold)
	}
	s.log.Debug("read source breaker", "source", s.name, "from", from.String(), "to", to.String())
	s.settle()
}

// settle recomputes healthy from the probe and the breaker, logging and
// publishing transitions only. The caller holds s.mu.
func (s *source) settle() {
	healthy := s.probeOK && s.state == gobreaker.StateClosed
	s.metrics.sourceState(s.name, healthy, s.state)
	if healthy == s.healthy {
		return
	}
	s.healthy, s.since = healthy, time.Now()
	if healthy {
		s.lastErr = ""
		s.log.Info("read source recovered", "source", s.name)
		return
	}
	s.log.Warn("read source unhealthy", "source", s.name, "reason", s.lastErr)
}

// read runs one step's read on its source: through the breaker (skipped
// with an error when the breaker rejects it, unless force: then the read
// runs outside the breaker), bounded by the source's timeout. Reads must
// honour their context for the timeout to hold.
func (r *Router) read(ctx context.Context, s *source, st Step, force bool) (a Answer, err error) {
	done, berr := s.cb.Allow()
	if berr != nil {
		if !force {
			r.metrics.request(s.name, "rejected_open")
			return Answer{}, fmt.Errorf("skipped: %w", berr)
		}
		done = func(error) {}
	}
	rctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	start := time.Now()
	defer func() {
		if p := recover(); p != nil {
			done(fmt.Errorf("panic: %v", p))
			panic(p)
		}
	}()
	a, err = st.Read(rctx)
	r.metrics.duration(s.name, time.Since(start))
	switch {
	case err == nil:
		done(nil)
		r.metrics.request(s.name, "ok")
	case errors.Is(err, ErrNotFound):
		done(nil)
		r.metrics.request(s.name, "not_found")
	case isParamError(err), ctx.Err() != nil:
		done(errExcluded)
	case rctx.Err() != nil:
		done(err)
		r.metrics.request(s.name, "timeout")
		err = fmt.Errorf("no answer within %s: %w", s.timeout, err)
	default:
		done(err)
		r.metrics.request(s.name, "error")
	}
	return a, err
}

var (
	urlPassword = regexp.MustCompile(`(://[^:/@\s]*:)[^@\s]*@`)
	kvPassword  = regexp.MustCompile(`(?i)\b(password|passwd|pwd)=\S+`)
)

// redactSecrets masks URL passwords (scheme://user:secret@host) and
// password=... values in a message. pgx, go-redis and net/http errors
// hold none (pgx names user and database, net/http strips the password
// from URLs); this is the belt to those braces.
func redactSecrets(s string) string {
	s = urlPassword.ReplaceAllString(s, "${1}xxxxx@")
	return kvPassword.ReplaceAllString(s, "${1}=xxxxx")
}
