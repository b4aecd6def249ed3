package projections

import (
	"encoding/json"

	"github.com/prism-cqrs/prism/records"
)

// Document is how an aggregate renders into its Elasticsearch index
// (sinks/elasticsearch): the index mapping and one document per live
// aggregate, whose _id is records.Event.AggregateID. The sink owns the rest:
// external versions, deletes (an event Check accepts whose State is nil,
// and tombstones), the stale check, the index, alias and namespace record.
// Implementations are safe for concurrent use.
type Document interface {
	// Check returns why the sink can never index ev ("" when it can), known
	// from the event alone: an unknown type, a missing state on an event
	// that does not remove the aggregate, the state of another aggregate.
	// The sink sends a refused event to the events DLQ with the reason; an
	// accepted event without a state deletes the document. ev is never a
	// tombstone (those always delete) and has an aggregate id. Check is
	// called for every event and must not allocate on the valid path.
	Check(ev *records.Event) string
	// Mapping returns the "properties" object of the index mapping (JSON).
	// The sink adds "dynamic": "strict" (a field Render writes that the
	// mapping lacks rejects the event) and "_meta" (the owning namespace).
	// caps says what the cluster offers, for optional field types.
	Mapping(caps IndexCapabilities) (json.RawMessage, error)
	// Render returns the document source of state (records.Event.State,
	// never nil): one JSON object, on one line (json.Marshal output is).
	// An error rejects the event to the events DLQ, the error being the
	// reason.
	Render(state any) ([]byte, error)
	// Live names the document fields the sink reads back from the live
	// document of an id for its stale check.
	Live() LiveFields
	// Life returns the value Render writes in the Live().Life field for
	// state (not called when that field is "").
	Life(state any) string
}

// LiveFields are the top-level fields of a rendered document that tell the
// sink which state a live document holds.
type LiveFields struct {
	// Version holds the aggregate version (records.Event.Version) as a JSON
	// integer. Required.
	Version string
	// Life holds a JSON string that is the same for every state of one life
	// of an aggregate id and differs between two lives (such as its creation
	// time): an older version re-sent at a new offset is dropped only when
	// the live document has the same life. "" when the aggregate has no such
	// field: versions alone decide, so a re-created id whose delete the sink
	// never saw stays hidden until its version passes the old life's.
	Life string
}

// IndexCapabilities is what the Elasticsearch cluster offers the mapping of
// a new index.
type IndexCapabilities struct {
	// Modules holds the modules and plugins installed on every node
	// ("mapper-extras" brings scaled_float, for example).
	Modules map[string]bool
}

// Has reports whether every node has the module or plugin name.
func (c IndexCapabilities) Has(name string) bool { return c.Modules[name] }
