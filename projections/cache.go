package projections

import "github.com/prism-cqrs/prism/records"

// Cache is how an aggregate renders into Redis (sinks/redis): one JSON
// document per live aggregate, a per-organization sorted set of its ids
// (the "recent" index) and a per-organization change counter. The sink
// keeps the exactly-once mechanics (offsets, the version guard, deletes,
// invalidation messages, TTLs) to itself; the aggregate only names its
// keys and fields (CacheLayout) and renders each event (CacheDoc).
type Cache interface {
	// Check returns why the sink can never store ev ("" when it can), known
	// from the event alone: an unknown type, a missing state on an event
	// that does not remove the aggregate, the state of another aggregate.
	// The sink sends a refused event to the events DLQ before its batch is
	// written (sinks.Checker), with the reason. ev is never a tombstone.
	// CacheDoc may still refuse what Check accepts. Check is called for
	// every event and must not allocate on the valid path.
	Check(ev *records.Event) string
	// CacheLayout names the aggregate's keys and JSON fields. The sink
	// reads it once, when the target is built.
	CacheLayout() CacheLayout
	// CacheDoc renders one event (never a tombstone: the sink handles
	// those from what is stored). An error means the event cannot be
	// represented (no state, a state a reader could not use); the sink
	// rejects the event to the events DLQ with the error as the reason.
	// Implementations are safe for concurrent use.
	CacheDoc(ev *records.Event) (CacheDoc, error)
}

// CacheLayout names an aggregate's Redis keys and the JSON fields the sink
// reads or writes, under the namespace's key prefix <ns>: (topology.Names
// RedisPrefix). Names are [A-Za-z0-9_] words joined by ':' (Key and fields: one
// word); sinks/redis.NewTarget refuses anything else.
//
// The keys are
//
//	<ns>:<Key>:<id>                    the aggregate's document (CacheDoc.JSON)
//	<ns>:org:<org>:<Recent>            sorted set of ids by CacheDoc.Score
//	<ns>:org:<org>:<CacheVersion>      counter bumped on every change
//
// (a side-by-side rebuild builds version N >= 2 of the first two under
// <ns>:v<N>:, see sinks/redis/rebuild.go) and each applied change is one
// object of the invalidation message on
// <ns>:invalidate (shared by every aggregate of the namespace):
//
//	{"<OrganizationField>":<org>,"<IDField>":<id>,"version":<version>}
//
// Payment: Key "payment", Recent "recent", CacheVersion "cachever",
// OrganizationField "organizationId", IDField "paymentId". Another
// aggregate needs a Key of its own (its name, "invoice") and per-
// organization names no other aggregate uses: by convention
// "recent:<plural>" and "cachever:<plural>" (<ns>:org:<org>:recent:invoices),
// and an IDField of its own ("invoiceId") so that a subscriber of the
// shared channel can tell the aggregates apart.
type CacheLayout struct {
	// Key is the key part of the documents: <ns>:<Key>:<id>. It must not
	// be "org", "sink" or "invalidate" (the sink's own keys), nor v<N>
	// (the prefix <ns>:v<N>: of a version built by a rebuild).
	Key string
	// Recent names the per-organization sorted set of ids.
	Recent string
	// CacheVersion names the per-organization change counter.
	CacheVersion string
	// OrganizationField is the document's JSON field holding the
	// organization id (a string); the sink reads it back from the stored
	// document when a tombstone deletes it. Also the organization's field
	// in invalidation messages.
	OrganizationField string
	// IDField is the aggregate id's field in invalidation messages.
	IDField string
}

// CacheDoc is one event as the cache stores it.
//
// The document contract: JSON is a JSON object that starts with the
// aggregate version, {"version":<Version>, (the sink's script reads the
// stored version from the head of the document, without decoding it, to
// ignore an older version re-sent at a new offset), and holds the
// organization id as a string in CacheLayout.OrganizationField; anything
// else in it is the aggregate's. The sink rejects an event whose JSON does
// not start that way.
type CacheDoc struct {
	// Delete is set for an event that removes the aggregate (Payment:
	// PaymentDeleted): the sink deletes the document and its id from the
	// recent index unless the stored version is at least Version. JSON and
	// Score are then unused.
	Delete bool
	// ID is the aggregate id (the document key's <id>); the sink rejects
	// an event whose ID is empty or differs from its AggregateID.
	ID string
	// OrganizationID picks the organization's recent index and counter;
	// it must not be empty.
	OrganizationID string
	// Version is the aggregate version after the event.
	Version int64
	// Score orders the id in its organization's recent index (Payment:
	// createdAt in Unix ms); exact integers below 2^53.
	Score float64
	// JSON is the document (see the contract above).
	JSON []byte
}
