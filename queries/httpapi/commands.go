package httpapi

import (
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
)

// MaxCommandBytes bounds the body of POST /v1/commands (413 above).
const MaxCommandBytes = 1 << 20

// serveCommand is POST /v1/commands?wait=5s: the body goes to the gateway,
// whose status and JSON body are the answer. A gateway failure (err) is
// logged and answered 503 without its details.
func (s *Server) serveCommand(w http.ResponseWriter, r *http.Request) {
	scope, ok := s.authenticate(w, r)
	if !ok {
		return
	}
	values, err := url.ParseQuery(r.URL.RawQuery)
	if err != nil {
		writeError(w, http.StatusBadRequest, errorBody{Error: "malformed query string"})
		return
	}
	wait, pe := s.wait(values)
	if pe != nil {
		badParam(w, pe.Param, pe.Message)
		return
	}
	if len(values) > 0 {
		keys := make([]string, 0, len(values))
		for k := range values {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		badParam(w, keys[0], "unknown parameter")
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, MaxCommandBytes))
	if err != nil {
		var tooLarge *http.MaxBytesError
		if errors.As(err, &tooLarge) {
			writeError(w, http.StatusRequestEntityTooLarge, errorBody{Error: "body larger than 1 MiB", Parameter: "body"})
			return
		}
		writeError(w, http.StatusBadRequest, errorBody{Error: "could not read the body", Parameter: "body"})
		return
	}
	status, answer, err := s.cfg.Gateway.Submit(r.Context(), scope, body, wait)
	if err != nil {
		s.log.Warn("command gateway failed", slog.Any("error", err))
		writeError(w, http.StatusServiceUnavailable, errorBody{Error: "the command gateway is unavailable; try again later"})
		return
	}
	writeJSON(w, status, answer)
}
