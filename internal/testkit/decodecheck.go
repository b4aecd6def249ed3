package testkit

import (
	"errors"
	"strings"
	"testing"

	"github.com/prism-cqrs/prism/producers/jsonl"
	"github.com/prism-cqrs/prism/records"
)

// DecodeSentinels are the errors a record decode error wraps exactly one
// of (records.ErrorClass names it in the DLQ).
var DecodeSentinels = []error{records.ErrBadMagic, records.ErrTruncated, records.ErrUnknownFingerprint,
	records.ErrBadUnion, records.ErrMalformed}

// CheckDecodeError fails unless err wraps exactly one of sentinels and
// records.ErrorClass names that one: what every aggregate's fuzz targets
// require of a decode error.
func CheckDecodeError(t *testing.T, what string, err error, sentinels ...error) {
	t.Helper()
	var found []error
	for _, s := range sentinels {
		if errors.Is(err, s) {
			found = append(found, s)
		}
	}
	if len(found) != 1 {
		t.Fatalf("%s: error wraps %d sentinels, want 1: %v", what, len(found), err)
	}
	if want := records.ErrorClass(found[0]); records.ErrorClass(err) != want {
		t.Fatalf("%s: class %s, want %s: %v", what, records.ErrorClass(err), want, err)
	}
}

// CheckLineError fails unless err says what is wrong with a command line:
// a field error naming one of keys (the format's keys) or the key it does
// not know, or the line's encoding or JSON.
func CheckLineError(t *testing.T, line []byte, err error, keys map[string]bool) {
	t.Helper()
	var fe *jsonl.FieldError
	switch {
	case errors.As(err, &fe):
		if fe.Reason == "" || !keys[fe.Field] && !strings.HasPrefix(fe.Reason, "unknown field") {
			t.Fatalf("%q: field error %q names no field of the format", line, err)
		}
	case errors.Is(err, jsonl.ErrInvalidJSON), errors.Is(err, jsonl.ErrInvalidUTF8):
	default:
		t.Fatalf("%q: error says neither the field nor the JSON: %v", line, err)
	}
}
