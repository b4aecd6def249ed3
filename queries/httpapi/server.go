package httpapi

import (
	"bytes"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Server serves the query endpoints, the command gateway and the
// operational endpoints. Build it with New; its Handler is safe for
// concurrent use.
type Server struct {
	cfg      Config
	log      *slog.Logger
	mux      *http.ServeMux
	routes   map[string]bool // registered patterns: the route label of metrics
	requests *prometheus.CounterVec
	duration *prometheus.HistogramVec
}

// routeUnmatched labels requests that matched no route (404, 405).
const routeUnmatched = "unmatched"

// New checks cfg, registers the HTTP metrics on cfg.Registerer and builds
// the routes. It logs a WARN when authentication is off (--auth none) or
// the tokens file is readable by others.
func New(cfg Config) (*Server, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg.setDefaults()
	s := &Server{cfg: cfg, log: cfg.Logger, mux: http.NewServeMux(), routes: map[string]bool{}}
	s.requests = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "prism_http_requests_total",
		Help: "HTTP requests answered, by route (the pattern; unmatched for none) and status code.",
	}, []string{"route", "code"})
	s.duration = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "prism_http_request_duration_seconds",
		Help:    "HTTP request latency in seconds, by route.",
		Buckets: []float64{0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30},
	}, []string{"route"})
	for _, c := range []prometheus.Collector{s.requests, s.duration} {
		if err := cfg.Registerer.Register(c); err != nil {
			return nil, fmt.Errorf("httpapi: register metrics: %w", err)
		}
	}
	if err := s.buildRoutes(); err != nil {
		return nil, err
	}
	switch {
	case cfg.Tokens == nil:
		s.log.Warn("AUTHENTICATION IS OFF (--auth none): every caller sees every organization; for demos only")
	case cfg.Tokens.readableByOthers:
		s.log.Warn("tokens file is readable by other users; restrict it (chmod 600)", slog.String("path", cfg.Tokens.path))
	}
	return s, nil
}

// buildRoutes registers every pattern; ServeMux panics on conflicting
// patterns, reported here as an error.
func (s *Server) buildRoutes() (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("httpapi: routes: %v", p)
		}
	}()
	handle := func(pattern string, h http.Handler) {
		s.mux.Handle(pattern, h)
		s.routes[pattern] = true
	}
	for _, e := range s.cfg.Endpoints {
		handle(e.Method+" "+e.Path, s.queryHandler(e))
	}
	if s.cfg.Gateway != nil {
		handle("POST /v1/commands", http.HandlerFunc(s.serveCommand))
	}
	if s.cfg.Status != nil {
		handle("GET /v1/status", http.HandlerFunc(s.serveStatus))
		handle("GET /status", http.HandlerFunc(s.serveStatusPage))
		handle("GET /status/{asset}", http.HandlerFunc(s.serveStatusPage))
	}
	handle("GET /openapi.json", http.HandlerFunc(serveOpenAPI))
	handle("GET /metrics", promhttp.HandlerFor(s.cfg.Gatherer, promhttp.HandlerOpts{}))
	handle("GET /healthz", http.HandlerFunc(s.serveHealthz))
	handle("GET /readyz", http.HandlerFunc(s.serveReadyz))
	return nil
}

// Handler is the server's HTTP handler: routing, JSON 404 and 405, and
// the HTTP metrics.
func (s *Server) Handler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		sw := &statusWriter{ResponseWriter: w}
		h, pattern := s.mux.Handler(r)
		route := pattern
		if s.routes[pattern] {
			s.mux.ServeHTTP(sw, r) // sets the path values
		} else {
			route = routeUnmatched
			unmatched(h).ServeHTTP(sw, r)
		}
		code := sw.status
		if code == 0 {
			code = http.StatusOK
		}
		s.requests.WithLabelValues(route, strconv.Itoa(code)).Inc()
		s.duration.WithLabelValues(route).Observe(time.Since(start).Seconds())
	})
}

// unmatched runs the mux's own answer for a request no route matched (404,
// 405 with Allow, or a redirect to the cleaned path) and rewrites 404 and
// 405 as JSON errors.
func unmatched(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c := &captureWriter{header: http.Header{}}
		h.ServeHTTP(c, r)
		switch c.status {
		case http.StatusNotFound:
			writeError(w, http.StatusNotFound, errorBody{Error: "not found"})
		case http.StatusMethodNotAllowed:
			w.Header().Set("Allow", c.header.Get("Allow"))
			writeError(w, http.StatusMethodNotAllowed, errorBody{Error: "method not allowed"})
		default:
			for k, v := range c.header {
				w.Header()[k] = v
			}
			w.WriteHeader(c.status)
			_, _ = w.Write(c.body.Bytes())
		}
	})
}

// statusWriter records the status written.
type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

// Unwrap lets http.ResponseController reach the connection.
func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// captureWriter keeps a response in memory.
type captureWriter struct {
	header http.Header
	status int
	body   bytes.Buffer
}

func (c *captureWriter) Header() http.Header { return c.header }
func (c *captureWriter) WriteHeader(code int) {
	if c.status == 0 {
		c.status = code
	}
}
func (c *captureWriter) Write(b []byte) (int, error) {
	if c.status == 0 {
		c.status = http.StatusOK
	}
	return c.body.Write(b)
}
