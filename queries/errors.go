package queries

import (
	"errors"
	"fmt"
)

// ErrNotFound is a query's answer when what it asks for does not exist for
// the caller: an unknown id, a deleted one, or one of an organization
// outside the caller's scope (the same error, so existence does not leak).
// HTTP answers 404. The router returns it as is: it is an answer, not a
// failure of the source.
var ErrNotFound = errors.New("not found")

// ErrNotApplied is returned (wrapped) when a query carries a consistency
// token and no source it can be routed to applied the token's write within
// the wait. HTTP answers 409.
var ErrNotApplied = errors.New("write not yet applied by the read source")

// ParamError names a bad query parameter. HTTP answers 400 with the
// parameter's name; it is never a source failure.
type ParamError struct {
	Param   string // the parameter's name, e.g. "size"
	Message string // what is wrong, e.g. "at most 100"
}

func (e *ParamError) Error() string { return e.Param + ": " + e.Message }

// BadParam returns a *ParamError for param; format and args say what is
// wrong.
func BadParam(param, format string, args ...any) error {
	return &ParamError{Param: param, Message: fmt.Sprintf(format, args...)}
}

// VersionError is a by-id query with a minimum version that the source did
// not reach within the wait. HTTP answers 409 with Current.
type VersionError struct {
	Want, Current int64 // Current is 0 when the aggregate does not exist
}

func (e *VersionError) Error() string {
	return fmt.Sprintf("version %d not reached within the wait (current %d)", e.Want, e.Current)
}
