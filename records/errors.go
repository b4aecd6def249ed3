package records

import "errors"

// Sentinel errors of the decoders. Every decode error wraps exactly one of
// them (test with errors.Is), plus context that says what is wrong: which
// record kind, which fingerprint, which byte count. ErrorClass names them for
// the prism-dlq-error-class header.
var (
	// ErrBadMagic: the value does not start with the single-object marker C3 01.
	ErrBadMagic = errors.New("bad magic: not an Avro single-object encoded value")
	// ErrTruncated: the value ends inside the 10-byte header or inside the body.
	ErrTruncated = errors.New("truncated")
	// ErrUnknownFingerprint: the writer schema's fingerprint is not one this
	// codec ships for the expected record kind.
	ErrUnknownFingerprint = errors.New("unknown schema fingerprint")
	// ErrBadUnion: a union branch index is out of range, no branch or several
	// branches are set on encode, or the type field names another branch.
	ErrBadUnion = errors.New("bad union")
	// ErrMalformed: any other body that is not valid for its writer schema
	// (negative or oversized length, unknown enum symbol, trailing bytes).
	ErrMalformed = errors.New("malformed")
	// ErrKeyMismatch: a command record whose key is not the command's
	// aggregate id. Processing it would put its events in another partition
	// than the aggregate's state, so it goes to the commands DLQ.
	ErrKeyMismatch = errors.New("record key is not the command's aggregate id")
)

// Error classes returned by ErrorClass, as written in the prism-dlq-error-class
// header.
const (
	ClassBadMagic           = "bad-magic"
	ClassTruncated          = "truncated"
	ClassUnknownFingerprint = "unknown-fingerprint"
	ClassBadUnion           = "bad-union"
	ClassMalformed          = "malformed"
	ClassKeyMismatch        = "key-mismatch"
)

// ErrorClass names the sentinel err wraps: "bad-magic", "truncated",
// "unknown-fingerprint", "bad-union", "key-mismatch" or "malformed". An error that wraps none
// of them (or nil) is reported as "malformed" too, so the DLQ header is never
// empty.
func ErrorClass(err error) string {
	switch {
	case errors.Is(err, ErrBadMagic):
		return ClassBadMagic
	case errors.Is(err, ErrTruncated):
		return ClassTruncated
	case errors.Is(err, ErrUnknownFingerprint):
		return ClassUnknownFingerprint
	case errors.Is(err, ErrBadUnion):
		return ClassBadUnion
	case errors.Is(err, ErrKeyMismatch):
		return ClassKeyMismatch
	default:
		return ClassMalformed
	}
}
