// Package redis is the Redis sink target: it keeps, under the namespace's
// key prefix (topology.Names.RedisPrefix),
//
//   - <prefix>payment:<id>            the payment as JSON (Document), with a TTL
//   - <prefix>org:<orgId>:recent      sorted set of payment ids scored by
//     createdAt (Unix ms), trimmed to the newest N (and its TTL refreshed)
//     once per batch, in the batch's last script call
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
// offset with the stored next offset of its partition (offsets are
// authoritative: every event of a payment is in one partition, so offset
// order is the payment's order) and its version with the version of the
// payment's live document (the head of its JSON), applies what is new and
// stores the new offsets, all in one atomic step: a replayed event, or an
// older version of a live payment re-sent at a new offset, is a no-op, so
// the effect is exactly once even though Kafka delivers at least once. A
// deleted payment leaves no version behind, so a payment id deleted and
// created again (the processor numbers the new life from version 1) is
// stored from its new PaymentCreated on.
package redis
