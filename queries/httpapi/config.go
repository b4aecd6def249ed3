package httpapi

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/prism-cqrs/prism/queries"
)

// CommandGateway runs POST /v1/commands (package gateway): body is the
// request's body (at most 1 MiB), scope the caller's organizations, wait
// how long to await the command's result. It returns the HTTP status and
// JSON body to answer; err is an infrastructure failure (Kafka down),
// answered 503 without its details.
type CommandGateway interface {
	Submit(ctx context.Context, scope queries.Scope, body []byte, wait time.Duration) (status int, answer []byte, err error)
}

// Config configures a Server. Zero durations and a nil Logger take the
// defaults.
type Config struct {
	Bus       *queries.Bus
	Endpoints []queries.Endpoint
	// Tokens authenticates callers; nil is --auth none: every caller sees
	// every organization (demo only; New logs a WARN).
	Tokens *Tokens
	// Gateway serves POST /v1/commands; nil: that route answers 404.
	Gateway CommandGateway
	// Status answers GET /v1/status, the status page's JSON (package
	// status); StatusPage is the page served at GET /status and its assets
	// at GET /status/{asset}. Both nil: no status page; one without the
	// other is a config error.
	Status     func(ctx context.Context) (any, error)
	StatusPage fs.FS
	// Health lists the read sources' states (/healthz, /readyz); nil: none.
	Health func() []queries.SourceHealth
	// Ready reports whether the rest of the process (the gateway) can
	// serve; nil: always. /readyz answers 503 when it fails.
	Ready func() error
	// EventsTopics are the topics a consistency token may name (the
	// aggregates' events topics, topology.Names.EventsTopic); nil: any
	// topic whose name ends in ".events".
	EventsTopics []string
	// Gatherer is served at /metrics; the HTTP metrics are registered on
	// Registerer (usually one registry, both).
	Gatherer   prometheus.Gatherer
	Registerer prometheus.Registerer
	// DefaultWait is the wait of consistency tokens, minVersion and
	// commands when the request gives none (5 s); MaxWait the largest a
	// request may ask (30 s, --wait-max).
	DefaultWait, MaxWait time.Duration
	Logger               *slog.Logger
}

// Defaults of Config.
const (
	DefaultWait = 5 * time.Second
	MaxWait     = 30 * time.Second
)

func (c *Config) setDefaults() {
	if c.DefaultWait == 0 {
		c.DefaultWait = DefaultWait
	}
	if c.MaxWait == 0 {
		c.MaxWait = MaxWait
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
}

// reservedPaths are served by the Server itself.
var reservedPaths = []string{"/v1/commands", "/openapi.json", "/metrics", "/healthz", "/readyz", "/v1/status", "/status"}

// Validate reports every problem of c at once.
func (c Config) Validate() error {
	var errs []error
	if c.Bus == nil {
		errs = append(errs, errors.New("no query bus"))
	}
	if len(c.Endpoints) == 0 {
		errs = append(errs, errors.New("no endpoint"))
	}
	if c.Gatherer == nil {
		errs = append(errs, errors.New("no metrics gatherer"))
	}
	if c.Registerer == nil {
		errs = append(errs, errors.New("no metrics registerer"))
	}
	if c.DefaultWait < 0 || c.MaxWait < 0 {
		errs = append(errs, errors.New("negative wait"))
	} else if c.DefaultWait > c.MaxWait && c.MaxWait != 0 {
		errs = append(errs, fmt.Errorf("default wait %s above the maximum %s", c.DefaultWait, c.MaxWait))
	}
	if (c.Status == nil) != (c.StatusPage == nil) {
		errs = append(errs, errors.New("the status page needs both Status and StatusPage"))
	}
	seen := map[string]bool{}
	for i, e := range c.Endpoints {
		name := fmt.Sprintf("endpoint %d (%s %s)", i, e.Method, e.Path)
		switch {
		case e.Method != "GET":
			errs = append(errs, fmt.Errorf("%s: method must be GET (queries only read)", name))
		case !strings.HasPrefix(e.Path, "/") || strings.ContainsAny(e.Path, " \t"):
			errs = append(errs, fmt.Errorf("%s: path must start with / and hold no space", name))
		}
		for _, p := range reservedPaths {
			if e.Path == p {
				errs = append(errs, fmt.Errorf("%s: path reserved for the server", name))
			}
		}
		if e.QueryType == "" {
			errs = append(errs, fmt.Errorf("%s: no query type", name))
		}
		if e.Params == nil {
			errs = append(errs, fmt.Errorf("%s: no Params function", name))
		}
		if v := e.OrganizationPathValue; v != "" && !strings.Contains(e.Path, "{"+v+"}") {
			errs = append(errs, fmt.Errorf("%s: organization path value %q is not in the path", name, v))
		}
		key := e.Method + " " + e.Path
		if seen[key] {
			errs = append(errs, fmt.Errorf("%s: route given twice", name))
		}
		seen[key] = true
	}
	if len(errs) > 0 {
		return fmt.Errorf("httpapi config: %w", errors.Join(errs...))
	}
	return nil
}
