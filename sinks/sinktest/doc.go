// Package sinktest is the conformance suite every Prism sink runs against
// its REAL target, the way watermill runs one suite against every pub/sub:
// the same scenario, the same checks.
//
// A sink's test gives Run a Factory; each call returns a fresh, empty Store
// (its own namespace: schema, index, key prefix). A Store opens Target
// instances on that store (each NewTarget is "a new process": the suite
// closes the old one and opens another to simulate a restart) and reads the
// live payments back:
//
//	func TestConformance(t *testing.T) {
//		sinktest.Run(t, func(t *testing.T) sinktest.Store {
//			ns := testkit.Namespace(t)
//			return &myStore{url: testkit.PostgresURL(t), ns: ns}
//		})
//	}
//
//	type myStore struct{ ... }
//	func (s *myStore) NewTarget(ctx context.Context) (sinks.Target, error) { ... }
//	func (s *myStore) Payments(ctx context.Context) (map[string]schemas.Payment, error) { ... }
//
// The scenario (one Store, steps in order, each checked against a reference
// model computed by the suite from the events it sent, never by the target):
//
//  1. Setup twice (idempotent), CommittedOffsets on an empty store.
//  2. A first batch holding events of several partitions (creates,
//     updates, status changes, deletes followed by tombstones).
//  3. The same batch again (a replay): no change.
//  4. A batch overlapping the previous one (its tail again plus new events).
//  5. A restart: Close, NewTarget, Setup; CommittedOffsets must be nil (the
//     runtime then uses group offsets, simulated by the suite) or exactly
//     the next offsets written so far; the rest of the stream is written
//     from there in small batches mixing partitions.
//  6. Stale events: older versions of live payments re-sent at new offsets
//     (same event ids): no change; a tombstone for a key never seen: no change.
//  7. Another restart, and a replay of everything from offset 0 on a new
//     target instance: no change.
//
// Payments are compared field by field (times at millisecond precision, in
// UTC; RecentCommands ignored). A target that does not store some fields
// names them with IgnoreFields. A sink with more to check (read-model
// totals, timelines) passes WithCheck: its function is called after every
// step with the expected Want.
//
// Events carry no Raw bytes (Raw.Value is nil): targets get decoded
// envelopes only, as from the runtime.
package sinktest
