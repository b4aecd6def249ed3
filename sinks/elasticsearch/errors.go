package elasticsearch

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"

	"github.com/prism-cqrs/prism/sinks"
)

// transportError classifies an error where no response came back: the
// node is down, unreachable or timed out, all worth retrying. Only a
// cancellation by the caller (the runtime stopping) is not transient.
func transportError(ctx context.Context, err error) error {
	if errors.Is(err, context.Canceled) && ctx.Err() != context.DeadlineExceeded {
		return err
	}
	return fmt.Errorf("%w: %w", sinks.ErrTransient, err)
}

// transientStatus reports whether a request answered with status may
// succeed later: too many requests, and the server-side failures.
func transientStatus(status int) bool {
	return status == http.StatusTooManyRequests || status >= 500
}

// errorBody is the error part of an Elasticsearch error response.
type errorBody struct {
	Error *itemError `json:"error"`
}

// statusError describes a whole-request failure with the error type and
// reason Elasticsearch gave, wrapped in sinks.ErrTransient when the status
// is transient.
func statusError(what string, status int, body []byte) error {
	reason := string(body)
	var eb errorBody
	if json.Unmarshal(body, &eb) == nil && eb.Error != nil {
		reason = eb.Error.String()
	}
	if len(reason) > 512 {
		reason = reason[:512] + "..."
	}
	if transientStatus(status) {
		return fmt.Errorf("elasticsearch: %s: %w: status %d: %s", what, sinks.ErrTransient, status, reason)
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
