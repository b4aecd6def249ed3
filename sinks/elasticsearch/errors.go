package elasticsearch

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/prism-cqrs/prism/sinks"
)

// transportError classifies an error where no response came back: the
// node is down, unreachable or timed out, all worth retrying. A
// cancellation by the caller (the runtime stopping) is not transient; a
// server that answers but is not Elasticsearch (the client's product
// check) is permanent.
func transportError(ctx context.Context, err error) error {
	if errors.Is(err, context.Canceled) && ctx.Err() != context.DeadlineExceeded {
		return err
	}
	if strings.Contains(err.Error(), "server is not Elasticsearch") {
		return fmt.Errorf("%w: %w", sinks.ErrPermanent, err)
	}
	return fmt.Errorf("%w: %w", sinks.ErrTransient, err)
}

// transientStatus reports whether a request answered with status may
// succeed later: too many requests, and the server-side failures.
func transientStatus(status int) bool {
	return status == http.StatusTooManyRequests || status >= 500
}

// permanentStatus reports whether an answer says the sink's settings are
// wrong, which no retry fixes: credentials refused (401), a user without
// the privilege (403), or a URL whose path is not Elasticsearch's API
// ("no handler found for uri").
func permanentStatus(status int, reason string) bool {
	return status == http.StatusUnauthorized || status == http.StatusForbidden ||
		strings.Contains(reason, "no handler found for uri")
}

// errorBody is the error part of an Elasticsearch error response.
type errorBody struct {
	Error *itemError `json:"error"`
}

// statusError describes a whole-request failure with the error type and
// reason Elasticsearch gave, wrapped in sinks.ErrTransient when the status
// is transient and in sinks.ErrPermanent when it says the settings are
// wrong.
func statusError(what string, status int, body []byte) error {
	reason := string(body)
	var eb errorBody
	if json.Unmarshal(body, &eb) == nil && eb.Error != nil {
		reason = eb.Error.String()
	}
	if len(reason) > 512 {
		reason = reason[:512] + "..."
	}
	switch {
	case transientStatus(status):
		return fmt.Errorf("elasticsearch: %s: %w: status %d: %s", what, sinks.ErrTransient, status, reason)
	case permanentStatus(status, reason):
		return fmt.Errorf("elasticsearch: %s: %w: status %d: %s", what, sinks.ErrPermanent, status, reason)
	}
	return fmt.Errorf("elasticsearch: %s: status %d: %s", what, status, reason)
}

// itemError is the error of a whole request or of one bulk item.
type itemError struct {
	Type     string     `json:"type"`
	Reason   string     `json:"reason"`
	CausedBy *itemError `json:"caused_by"`
}

// String is "type: reason (caused by type: reason)".
func (e *itemError) String() string {
	if e == nil {
		return ""
	}
	s := e.Type + ": " + e.Reason
	if e.CausedBy != nil {
		s += " (caused by " + e.CausedBy.String() + ")"
	}
	return s
}
