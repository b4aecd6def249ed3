// Package sinks is the shared runtime of Prism's sinks: one consumer group
// per sink on the events topic, read_committed, cooperative rebalancing,
// batching bounded by count, bytes and time, retries with backoff, the
// events DLQ, health and metrics. Each read source lives in its own
// sub-package (sinks/postgres, sinks/readmodels, sinks/redis,
// sinks/elasticsearch) and plugs in through the Target interface; a sink
// never imports another sink.
package sinks

import (
	"context"
	"errors"

	"github.com/prism-cqrs/prism/records"
)

// Event is one record of the events topic as a target sees it.
type Event struct {
	Partition int32
	Offset    int64
	Key       string
	// Envelope is nil for a tombstone (the record that follows an event
	// removing the aggregate).
	Envelope *records.Event
	// Raw is the original record, for the DLQ.
	Raw RawRecord
}

// RawRecord keeps the bytes of a record exactly as consumed.
type RawRecord struct {
	Topic   string
	Key     []byte
	Value   []byte
	Headers map[string][]byte
}

// Rejected is an event the target refuses for good (mapping error, bad
// data). The runtime sends it to the events DLQ and goes on.
type Rejected struct {
	Event  Event
	Reason string
}

// Checker is optionally implemented by a Target that can tell, from the
// event alone, that it will refuse it for good. The runtime sends such
// events to the DLQ before the Write and leaves them out of it, which makes
// their DLQ delivery at least once even across a crash (Write may still
// return Rejected for what only the target can find out).
type Checker interface {
	Check(ev Event) (reason string)
}

// ErrTransient marks a target error worth retrying (target down, timeout).
// The runtime retries the whole batch with capped exponential backoff and
// stops fetching meanwhile; anything else not wrapped as transient is also
// retried, but logged as an error.
var ErrTransient = errors.New("transient target error")

// ErrStoreOwned marks a store (Postgres schema, Elasticsearch index) that
// records another namespace as its owner: two namespaces must never write
// into one store. Setup returns it wrapped with both names; the runner stops
// instead of retrying.
var ErrStoreOwned = errors.New("store belongs to another namespace")

// ErrPermanent marks a target error that retrying with the same settings
// cannot fix: the target refuses the credentials, the database does not
// exist, a privilege is missing, the URL does not lead to the target's API.
// When Setup returns it, Run gives up at once and returns it (a deployment
// mistake: nothing was consumed yet, and retrying would only hide it). Seen
// later, while running (a password changed under the sink), it is retried
// every BackoffMax with an error log line per attempt and the sink reports
// unhealthy: it may be fixed on the target's side without a restart, and
// the sink then goes on where it stopped (docs/sinks.md).
var ErrPermanent = errors.New("target refuses the configuration")

// Target is one read source.
type Target interface {
	// Name is the sink's name: postgres, readmodels, redis, elasticsearch.
	Name() string
	// Setup prepares the target (migrations, index and alias) and is safe
	// when several instances run it at once.
	Setup(ctx context.Context) error
	// CommittedOffsets returns, for each given partition of topic, the next
	// offset to consume as stored by the target itself (absent: start from
	// the earliest). Targets that store no offsets return nil and the
	// runtime uses the group's committed offsets.
	CommittedOffsets(ctx context.Context, topic string, partitions []int32) (map[int32]int64, error)
	// Write applies a batch (events of any partitions, in offset order per
	// partition) with an exactly-once effect: a replayed event is a no-op.
	// It returns the events it rejects for good; an error means nothing of
	// the batch can be assumed written and the batch will be retried.
	Write(ctx context.Context, topic string, batch []Event) ([]Rejected, error)
	// Close releases the target's connections.
	Close() error
}
