package records

// Result is the outcome of one command as its aggregate's results topic
// carries it (keyed by command id), whatever the aggregate. EventVersion is
// the aggregate version after the command's last event when accepted, the
// current version (0 if none) when rejected.
type Result struct {
	CommandID     string
	AggregateID   string
	Accepted      bool
	Reason        string // a reason code when rejected (NOT_FOUND, ...)
	Message       string
	Field         string
	EventVersion  int64
	Duplicate     bool // answered from the dedup memory; nothing emitted
	CorrelationID string
}

// ResultDecoder decodes the value of a results record. Every error wraps
// one of the sentinels of this package. Safe for concurrent use.
type ResultDecoder interface {
	DecodeResult(value []byte) (*Result, error)
}

// Reason codes of a rejected command, the same for every aggregate (their
// one definition).
const (
	ReasonAlreadyExists     = "ALREADY_EXISTS"
	ReasonNotFound          = "NOT_FOUND"
	ReasonVersionConflict   = "VERSION_CONFLICT"
	ReasonForbidden         = "FORBIDDEN"
	ReasonInvalidTransition = "INVALID_TRANSITION"
	ReasonInvalidState      = "INVALID_STATE"
	ReasonInvalidField      = "INVALID_FIELD"
	// ReasonInternal rejects a command whose events could not be encoded: a
	// bug, never a property of the command. The command is answered,
	// nothing is emitted and the partition goes on.
	ReasonInternal = "INTERNAL"
)

// TypeCommandResult is the prism-type header of a result record, whatever
// the aggregate.
const TypeCommandResult = "CommandResult"
