// Package redis is the Redis sink target: it keeps one aggregate's
// documents in Redis, as its projections.Cache renders them, under the
// namespace's key prefix (topology.Names.RedisPrefix) and the names of the
// aggregate's projections.CacheLayout (Payment's in brackets):
//
//   - <prefix><key>:<id>                (payment:<id>) the aggregate's JSON
//     document (projections.CacheDoc), with a TTL
//   - <prefix>org:<orgId>:<recent>      (org:<orgId>:recent) sorted set of
//     ids scored by CacheDoc.Score (Payment: createdAt, Unix ms), trimmed to
//     the highest N (and its TTL refreshed) once per batch, in the batch's
//     last script call
//   - <prefix>org:<orgId>:<cachever>    (org:<orgId>:cachever) a counter
//     bumped (INCR) on every change of one of the organization's documents:
//     a query cache keyed by it is invalidated even when the pub/sub
//     message below is missed
//   - <prefix>invalidate                pub/sub channel of the namespace;
//     one message per script call, a JSON array of the applied changes:
//     [{"organizationId":..,"paymentId":..,"version":..}, ...] (field names
//     from the layout)
//   - <prefix>sink:redis:offset:<topic>:<partition>  the next offset to
//     consume of the aggregate's events topic
//
// Every batch is applied by one Lua script call per chunk of events
// (EVALSHA; chunks one after the other, the next built while the previous
// runs). The script compares each event's offset with the stored next
// offset of its partition (offsets are authoritative: every event of an
// aggregate is in one partition, so offset order is the aggregate's order)
// and its version with the version of the live document (the head of its
// JSON), applies what is new and stores the new offsets, all in one atomic
// step: a replayed event, or an older version of a live aggregate re-sent
// at a new offset, is a no-op, so the effect is exactly once even though
// Kafka delivers at least once. A deleted aggregate leaves no version
// behind, so an id deleted and created again (the processor numbers the new
// life from version 1) is stored from its new first event on.
package redis
