package httpapi

import (
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/prism-cqrs/prism/queries"
)

// queryHandler serves one query endpoint: authenticate, check the
// organization path value against the scope (404 before asking), read the
// generic parameters (minVersion, consistencyToken, wait), build the
// query's parameters with e.Params, ask the bus and write the answer.
func (s *Server) queryHandler(e queries.Endpoint) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		scope, ok := s.authenticate(w, r)
		if !ok {
			return
		}
		if v := e.OrganizationPathValue; v != "" && !inScope(scope, r.PathValue(v)) {
			writeError(w, http.StatusNotFound, errorBody{Error: "not found"})
			return
		}
		values, err := url.ParseQuery(r.URL.RawQuery)
		if err != nil {
			writeError(w, http.StatusBadRequest, errorBody{Error: "malformed query string"})
			return
		}
		cons, pe := s.consistency(e, values)
		if pe != nil {
			badParam(w, pe.Param, pe.Message)
			return
		}
		params, err := e.Params(r.PathValue, values)
		if err != nil {
			s.writeQueryError(w, r, e.QueryType, err)
			return
		}
		q, err := queries.NewQuery(e.QueryType, params, scope)
		if err != nil {
			s.writeQueryError(w, r, e.QueryType, err)
			return
		}
		q.Consistency = cons
		a, err := s.cfg.Bus.Ask(r.Context(), q)
		if err != nil {
			s.writeQueryError(w, r, e.QueryType, err)
			return
		}
		cache := a.Cache
		if cache == "" {
			cache = queries.Miss
		}
		w.Header().Set("X-Prism-Source", a.Source)
		w.Header().Set("X-Prism-Cache", string(cache))
		writeJSON(w, http.StatusOK, a.JSON)
	})
}

// consistency reads and removes the generic parameters from values:
// minVersion (an integer ≥ 1, only where the endpoint takes it; elsewhere
// it stays and Params reports it unknown), consistencyToken and wait.
func (s *Server) consistency(e queries.Endpoint, values url.Values) (queries.Consistency, *queries.ParamError) {
	c := queries.Consistency{Wait: s.cfg.DefaultWait}
	if e.MinVersion {
		if v, ok, pe := take(values, "minVersion"); pe != nil {
			return c, pe
		} else if ok {
			n, err := strconv.ParseInt(v, 10, 64)
			if err != nil || n < 1 {
				return c, &queries.ParamError{Param: "minVersion", Message: "not an integer ≥ 1"}
			}
			c.MinVersion = n
		}
	} else if _, ok := values["minVersion"]; ok {
		return c, &queries.ParamError{Param: "minVersion", Message: "unknown parameter (only GET /v1/payments/{id} takes it)"}
	}
	if v, ok, pe := take(values, "consistencyToken"); pe != nil {
		return c, pe
	} else if ok {
		t, err := queries.ParseToken(v)
		if err != nil {
			return c, &queries.ParamError{Param: "consistencyToken", Message: "not a consistency token"}
		}
		if !s.eventsTopic(t.Topic) {
			return c, &queries.ParamError{Param: "consistencyToken", Message: "does not name an events topic"}
		}
		c.Token = &t
	}
	w, pe := s.wait(values)
	if pe != nil {
		return c, pe
	}
	c.Wait = w
	return c, nil
}

// wait reads and removes wait: a Go duration, 0 < wait ≤ MaxWait; absent:
// DefaultWait.
func (s *Server) wait(values url.Values) (time.Duration, *queries.ParamError) {
	v, ok, pe := take(values, "wait")
	if pe != nil || !ok {
		return s.cfg.DefaultWait, pe
	}
	d, err := time.ParseDuration(v)
	if err != nil || d <= 0 || d > s.cfg.MaxWait {
		return 0, &queries.ParamError{Param: "wait", Message: "not a duration above 0 and at most " + s.cfg.MaxWait.String() + " (like 2s or 500ms)"}
	}
	return d, nil
}

func (s *Server) eventsTopic(topic string) bool {
	if s.cfg.EventsTopics == nil {
		return strings.HasSuffix(topic, ".events")
	}
	return slices.Contains(s.cfg.EventsTopics, topic)
}

// take removes name from values and returns its single non-empty value.
func take(values url.Values, name string) (string, bool, *queries.ParamError) {
	vs, ok := values[name]
	if !ok {
		return "", false, nil
	}
	delete(values, name)
	switch {
	case len(vs) > 1:
		return "", false, &queries.ParamError{Param: name, Message: "given " + strconv.Itoa(len(vs)) + " times"}
	case vs[0] == "":
		return "", false, &queries.ParamError{Param: name, Message: "empty"}
	}
	return vs[0], true, nil
}

func inScope(scope queries.Scope, org string) bool {
	return scope.All() || slices.Contains(scope.Orgs(), org)
}
