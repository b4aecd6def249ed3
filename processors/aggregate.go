// Package processors is the generic command engine: it consumes a commands
// topic, restores aggregate state from the compacted events topic, asks an
// Aggregate to decide, and emits events, results and DLQ records in one
// Kafka transaction with the consumed offsets. It knows nothing about
// payments: an aggregate type plugs in through the Aggregate interface.
package processors

import (
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// State is an aggregate's in-memory state, owned by its Aggregate. The
// engine only stores it per key and hands it back; nil means "no aggregate".
type State any

// Command is a decoded command, owned by its Aggregate.
type Command any

// Output is a record the engine produces. Value nil is a tombstone.
type Output struct {
	Key     []byte
	Value   []byte
	Headers []kgo.RecordHeader
}

// Outcome is what one command leads to. Events go to the events topic in
// order, in the partition of the command's key; Result goes to the results
// topic. NewState replaces the key's state (nil removes it). An outcome with
// no events (a rejection or a duplicate) leaves the state as it was only if
// NewState is the state passed in.
type Outcome struct {
	Events   []Output
	Result   Output
	NewState State
	// Label names the outcome for metrics: "accepted", "duplicate" or a
	// rejection reason such as "NOT_FOUND".
	Label string
}

// Aggregate is one aggregate type as the engine sees it. The engine calls it
// from several goroutines at once (EngineConfig.HandleWorkers), never for
// the same key at the same time: an implementation must be safe for
// concurrent use.
type Aggregate interface {
	// DecodeCommand decodes a record of the commands topic. An error sends
	// the record, untouched, to the commands DLQ; ErrorClass names the class.
	DecodeCommand(rec *kgo.Record) (Command, error)
	// DecodeState returns the state carried by a (non-tombstone) record of
	// the events topic, nil when the record says the aggregate is gone. The
	// engine calls it for every record while restoring a partition.
	DecodeState(value []byte) (State, error)
	// Handle validates cmd against state (nil: none), decides and applies.
	// It never fails: rejections and duplicates are outcomes. now is the
	// processing time to stamp on events.
	Handle(state State, cmd Command, now time.Time) Outcome
	// ErrorClass names the class of a decode error for the DLQ headers
	// (for example "bad-magic", "unknown-fingerprint", "truncated").
	ErrorClass(err error) string
}
