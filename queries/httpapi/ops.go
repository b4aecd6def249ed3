package httpapi

import (
	_ "embed"
	"encoding/json"
	"log/slog"
	"net/http"

	"github.com/prism-cqrs/prism/queries"
)

//go:embed openapi.json
var openAPI []byte

// OpenAPI returns the OpenAPI 3 document served at /openapi.json (a copy).
func OpenAPI() []byte { return append([]byte(nil), openAPI...) }

func serveOpenAPI(w http.ResponseWriter, _ *http.Request) { writeJSON(w, http.StatusOK, openAPI) }

// healthBody is /healthz's and /readyz's JSON.
type healthBody struct {
	Status  string                 `json:"status"`
	Sources []queries.SourceHealth `json:"sources"`
}

// sources lists the sources' states without their last errors: these
// endpoints are not authenticated and errors may name hosts.
func (s *Server) sources() []queries.SourceHealth {
	out := []queries.SourceHealth{}
	if s.cfg.Health == nil {
		return out
	}
	for _, h := range s.cfg.Health() {
		h.LastError = ""
		out = append(out, h)
	}
	return out
}

// serveHealthz answers 200 while the process runs.
func (s *Server) serveHealthz(w http.ResponseWriter, _ *http.Request) {
	s.writeHealth(w, http.StatusOK, healthBody{Status: "ok", Sources: s.sources()})
}

// serveReadyz answers 200 when at least one read source is healthy (or no
// source is known) and Ready succeeds, else 503.
func (s *Server) serveReadyz(w http.ResponseWriter, _ *http.Request) {
	src := s.sources()
	healthy := len(src) == 0
	for _, h := range src {
		healthy = healthy || h.Healthy
	}
	if !healthy {
		s.writeHealth(w, http.StatusServiceUnavailable, healthBody{Status: "unavailable", Sources: src})
		return
	}
	if s.cfg.Ready != nil {
		if err := s.cfg.Ready(); err != nil {
			s.log.Debug("not ready", slog.Any("error", err))
			s.writeHealth(w, http.StatusServiceUnavailable, healthBody{Status: "unavailable", Sources: src})
			return
		}
	}
	s.writeHealth(w, http.StatusOK, healthBody{Status: "ok", Sources: src})
}

func (s *Server) writeHealth(w http.ResponseWriter, status int, b healthBody) {
	body, err := json.Marshal(b)
	if err != nil {
		s.log.Error("encode health", slog.Any("error", err))
		writeError(w, http.StatusInternalServerError, errorBody{Error: "internal error"})
		return
	}
	writeJSON(w, status, append(body, '\n'))
}
