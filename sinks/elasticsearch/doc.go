// Package elasticsearch is the Elasticsearch sink target. It writes every
// payment as one document (Document) of a versioned index
// (topology.Names.ElasticsearchIndex) that the query side reads through an
// alias (topology.Names.ElasticsearchAlias).
//
// A batch is one _bulk request. The document id is the payment id and the
// document version is the aggregate version with version_type=external, so
// Elasticsearch itself refuses an older or repeated write (409, counted as
// success): a replayed or out-of-order batch is a no-op and the effect is
// exactly once although delivery is at least once. PaymentDeleted deletes
// with its version; the tombstone that follows deletes without a version
// (404 = already gone). Elasticsearch keeps no Kafka offsets: the runtime
// commits the group's offsets after a batch is written.
package elasticsearch
