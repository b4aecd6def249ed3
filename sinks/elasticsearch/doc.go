// Package elasticsearch is the Elasticsearch sink target. It writes every
// live aggregate of one type as one document of a versioned index
// (topology.Names.ElasticsearchIndex, `<ns>-<plural>-v<N>`) behind an alias
// (topology.Names.ElasticsearchAlias, `<ns>-<plural>`) that the query side
// reads and the sink writes through, so that both follow a rebuild's switch
// (Store, rebuild.go). The aggregate's projections.Document gives the mapping
// and renders the documents; this package knows no aggregate and keeps the
// exactly-once mechanics to itself.
//
// A batch is one _mget of the live documents it touches and one _bulk
// request. The document id is the aggregate id and the external version
// (version_type=external) of every index and delete action is the event's
// Kafka offset + 1: all events of an aggregate are in one partition, so
// the offset order is their true order, even across a delete and a
// re-creation of the same id (whose new life restarts at aggregate version
// 1, kept in the document's version field). Elasticsearch itself refuses a
// repeated or older write (409, counted as success): a replayed batch or a
// zombie writer is a no-op and the effect is exactly once although
// delivery is at least once. An older version of a live aggregate re-sent
// at a new offset is dropped before the bulk by comparing with the live
// document (same life, version not above: projections.LiveFields).
// Elasticsearch keeps no Kafka offsets: the runtime commits the group's
// offsets after a batch is written.
//
// The target is a sinks.Checker: an event the projection's Check refuses
// (Invoice: a type it does not know, an event without an invoice state) goes
// to the events DLQ before the batch is written, never to the index; an
// accepted event without a state deletes the document, as a tombstone does.
package elasticsearch
