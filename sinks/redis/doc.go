// Package redis is the Redis sink target: it keeps, under the namespace's
// key prefix (topology.Names.RedisPrefix),
//
//   - <prefix>payment:<id>            the payment as JSON (Document), with a TTL
//   - <prefix>payment:<id>:v          the last applied aggregate version; after a
//     delete it stays as a deletion marker so an older replayed event cannot
//     resurrect the payment
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
// Every batch is applied by one Lua script per chunk of events (EVALSHA,
// chunks pipelined in one round trip). The script compares each event's
// offset with the stored next offset of its partition and its version with
// the stored version of its payment, applies what is new and stores the new
// offsets, all in one atomic step: a replayed or out-of-order event is a
// no-op, so the effect is exactly once even though Kafka delivers at least
// once.
package redis
