package httpapi

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"

	"github.com/prism-cqrs/prism/queries"
)

// errorBody is every error's JSON: {"error": ...} plus, for a bad
// parameter, its name and, for a version not reached, the current version.
type errorBody struct {
	Error          string `json:"error"`
	Parameter      string `json:"parameter,omitempty"`
	CurrentVersion *int64 `json:"currentVersion,omitempty"`
}

// writeJSON answers status with body, a JSON document.
func writeJSON(w http.ResponseWriter, status int, body []byte) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(body)
}

func writeError(w http.ResponseWriter, status int, e errorBody) {
	b, err := json.Marshal(e)
	if err != nil { // a struct of strings and an int: cannot fail
		b = []byte(`{"error":"internal error"}`)
	}
	writeJSON(w, status, append(b, '\n'))
}

func badParam(w http.ResponseWriter, param, msg string) {
	writeError(w, http.StatusBadRequest, errorBody{Error: param + ": " + msg, Parameter: param})
}

// Messages of errors whose details stay in the log.
const (
	msgUnavailable = "no read source could answer the query; try again later"
	msgNotApplied  = "the write of the consistency token was not applied by a read source within the wait"
)

// writeQueryError maps a query's error to its HTTP answer (CONTRACT "HTTP"):
// 400 bad parameter, 404 not found, 409 version not reached or write not
// applied, 503 for everything else: a failure of every source, whose
// details (they may name hosts) are logged, never answered.
func (s *Server) writeQueryError(w http.ResponseWriter, r *http.Request, queryType string, err error) {
	var pe *queries.ParamError
	var ve *queries.VersionError
	switch {
	case errors.As(err, &pe):
		badParam(w, pe.Param, pe.Message)
	case errors.As(err, &ve):
		cur := ve.Current
		writeError(w, http.StatusConflict, errorBody{Error: ve.Error(), CurrentVersion: &cur})
	case errors.Is(err, queries.ErrNotApplied):
		writeError(w, http.StatusConflict, errorBody{Error: msgNotApplied})
	case errors.Is(err, queries.ErrNotFound):
		writeError(w, http.StatusNotFound, errorBody{Error: "not found"})
	case r.Context().Err() != nil && errors.Is(err, context.Canceled):
		// The caller went away: nobody reads the answer.
		s.log.Debug("query abandoned by its caller", slog.String("type", queryType))
		writeError(w, http.StatusServiceUnavailable, errorBody{Error: "request cancelled"})
	default:
		s.log.Warn("query failed", slog.String("type", queryType), slog.Any("error", err))
		writeError(w, http.StatusServiceUnavailable, errorBody{Error: msgUnavailable})
	}
}
