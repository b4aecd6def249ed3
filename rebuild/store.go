package rebuild

import (
	"context"
	"errors"

	"github.com/prism-cqrs/prism/sinks"
)

// Store is one sink's read source for one aggregate, as a rebuild sees it.
// Each sink package implements it next to its Target (sinks/postgres,
// sinks/readmodels, sinks/redis, sinks/elasticsearch: rebuild.go); the
// engine (Executor) knows nothing else of the sink.
//
// Versions: the store serving reads is version Current (1 for a store never
// rebuilt side by side). A side-by-side rebuild writes version Current+1
// next to it (Elasticsearch index <alias>-v<N>, Postgres tables in a schema
// of their own, Redis keys under a versioned prefix) and Switch makes it
// current for readers and running sinks at once.
type Store interface {
	// Sink is the sink's name (postgres, readmodels, redis, elasticsearch).
	Sink() string
	// Current returns the version serving reads now.
	Current(ctx context.Context) (int, error)
	// Versions returns every version present in the store, Current
	// included, ascending (left-overs of an interrupted or --keep-old
	// rebuild among them).
	Versions(ctx context.Context) ([]int, error)
	// Target returns a sinks.Target writing into version v with offsets
	// stored for v alone (v == Current: the live store, in place). The
	// caller runs Setup (which creates version v when missing) and Close.
	Target(v int) (sinks.Target, error)
	// Clear empties version v for a rebuild from the log start: every
	// document/row/key of the aggregate and v's stored offsets of topic.
	// projections narrows a readmodels store to those projections' tables
	// (nil: all); other sinks refuse a non-nil list.
	Clear(ctx context.Context, v int, topic string, projections []string) error
	// Forget prepares version v for a rebuild from a later start: it
	// removes the aggregates ids (the keys the range holds) and sets v's
	// stored offsets of topic to next, so that the replay of the range
	// rewrites each of them from its events in the range. A store whose
	// content cannot be rebuilt from part of the history returns an error
	// wrapping ErrNeedsLogStart saying why. Called with nil ids and nil
	// next it changes nothing and only answers that question (the engine
	// asks before it reads the range).
	Forget(ctx context.Context, v int, topic string, ids []string, next map[int32]int64) error
	// LiveOffsets returns the next offsets of topic that version v stores
	// with its data (absent partition: nothing written yet), or nil, nil
	// when the store keeps none (Elasticsearch: the sink group's committed
	// offsets are the truth).
	LiveOffsets(ctx context.Context, v int, topic string) (map[int32]int64, error)
	// Switch makes sw.To current, atomically for every reader and every
	// running sink, and keeps or drops sw.From (see Switch).
	Switch(ctx context.Context, sw Switch) error
	// Drop removes version v (never the current one: an error).
	Drop(ctx context.Context, v int) error
	// Projections lists the projections the store can rebuild alone
	// (readmodels: the read models' names; nil for the others).
	Projections() []string
	// Close releases connections.
	Close() error
}

// Switch is one switch of a Store from version From to version To.
type Switch struct {
	Topic    string
	From, To int
	// Projections narrows a readmodels switch to these projections'
	// tables (nil: every table of the sink); the others stay where they
	// are, untouched.
	Projections []string
	// KeepOld keeps version From after the switch (--keep-old); false
	// drops it in the same step when the store can (Postgres: the same
	// transaction), right after otherwise.
	KeepOld bool
	// CatchUp brings version To up to the live store before it becomes
	// current. A store keeping offsets with its data (LiveOffsets != nil)
	// calls it while it holds the lock that running sinks take for each
	// batch, with the live version's offsets, frozen by that lock: CatchUp
	// returns once version To holds exactly the events below them (never
	// more), and only then are the tables moved. A store without offsets
	// (Elasticsearch) switches first and calls it with nil after: CatchUp
	// then reads to the current end and waits for the live sink group to
	// pass that end (or to have no members), so that nothing the running
	// sinks wrote into From just before the switch is missing from To
	// (external versions make the overlap harmless).
	CatchUp func(ctx context.Context, until map[int32]int64) error
}

// ErrNeedsLogStart is wrapped by Forget when the store's content folds
// every event from the first (the readmodels sink's daily sums and
// timeline): a rebuild from a later start cannot end exactly right, so it
// is refused before anything is touched.
var ErrNeedsLogStart = errors.New("this store can only be rebuilt from the log start")

// ErrNoSuchProjection is wrapped when --projection names a projection the
// store does not have (or a store that has none).
var ErrNoSuchProjection = errors.New("no such projection")
