package httpapi

import (
	"encoding/json"
	"io/fs"
	"log/slog"
	"mime"
	"net/http"
	"path"
)

// statusCSP is the page's Content-Security-Policy: its own script and
// style only (no inline code), requests to this origin only.
const statusCSP = "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self' data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"

// msgStatusUnavailable answers a status that could not be read; the cause
// (it may name hosts) is logged.
const msgStatusUnavailable = "the pipeline's state could not be read from Kafka; try again later"

// serveStatusPage answers GET /status with the page and GET
// /status/{asset} with its script and style. The page holds no data, so
// it needs no token; its data comes from /v1/status.
func (s *Server) serveStatusPage(w http.ResponseWriter, r *http.Request) {
	name := "index.html"
	if a := r.PathValue("asset"); a != "" {
		name = a
	}
	if name != path.Base(name) || name == "." {
		writeError(w, http.StatusNotFound, errorBody{Error: "not found"})
		return
	}
	b, err := fs.ReadFile(s.cfg.StatusPage, name)
	if err != nil {
		writeError(w, http.StatusNotFound, errorBody{Error: "not found"})
		return
	}
	ct := mime.TypeByExtension(path.Ext(name))
	if ct == "" {
		ct = "application/octet-stream"
	}
	h := w.Header()
	h.Set("Content-Type", ct)
	h.Set("Content-Security-Policy", statusCSP)
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("Cache-Control", "no-cache")
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(b)
}

// serveStatus answers GET /v1/status: the pipeline's state as JSON, for
// operators only (a token whose scope is every organization, "*"; any
// caller under --auth none).
func (s *Server) serveStatus(w http.ResponseWriter, r *http.Request) {
	scope, ok := s.authenticate(w, r)
	if !ok {
		return
	}
	if !scope.All() {
		writeError(w, http.StatusForbidden, errorBody{Error: "the status needs an operator token (scope * in the tokens file)"})
		return
	}
	snap, err := s.cfg.Status(r.Context())
	if err != nil {
		if r.Context().Err() != nil { // the caller went away
			s.log.Debug("status: reading abandoned by its caller", slog.Any("error", err))
			writeError(w, http.StatusServiceUnavailable, errorBody{Error: "request cancelled"})
			return
		}
		s.log.Warn("status: read the pipeline", slog.Any("error", err))
		writeError(w, http.StatusServiceUnavailable, errorBody{Error: msgStatusUnavailable})
		return
	}
	b, err := json.Marshal(snap)
	if err != nil {
		s.log.Error("status: encode", slog.Any("error", err))
		writeError(w, http.StatusInternalServerError, errorBody{Error: "internal error"})
		return
	}
	w.Header().Set("Cache-Control", "no-store")
	writeJSON(w, http.StatusOK, append(b, '\n'))
}
