// Package redis is the Redis sink target: it keeps, under the namespace's
// key prefix (topology.Names.RedisPrefix),
//
//   - <prefix>payment:<id>            the payment as JSON (Document), with a TTL
//   - <prefix>payment:<id>:v          deletion marker: the version of the
//     delete, kept with its own TTL so an older replayed event cannot
//     resurrect the payment (a live payment's version is the head of its JSON)
//   - <prefix>org:<orgId>:recent      sorted set of payment ids scored by
//     createdAt (Unix ms), trimmed to the newest N
//   - <prefix>org:<orgId>:cachever    a counter bumped (INCR) on every change of
//     one of the organization's payments: a query cache keyed by it is
//     invalidated even when the pub/sub message below is missed
//   - <prefix>invalidate              pub/sub channel; one message per script
//     call, a JSON array of the applied changes:
//     [{"organizationId":..,"paymentId":..,"version":..}, ...]
//   - <prefix>sink:redis:offset:<topic>:<partition>  the next offset to consume
//
// Every batch is applied by one Lua script call per chunk of events
// (EVALSHA; chunks one after the other, the next built while the previous
// runs). The script compares each event's
// offset with the stored next offset of its partition and its version with
// the stored version of its payment, applies what is new and stores the new
// offsets, all in one atomic step: a replayed or out-of-order event is a
// no-op, so the effect is exactly once even though Kafka delivers at least
// once.
package redis
