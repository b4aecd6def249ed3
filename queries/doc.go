// Package queries is the read side's foundation (issue 10): a query bus
// (one handler per query type, a middleware chain around every query), a
// two-level query cache (L1 in process with otter, L2 in Redis) with
// stampede protection and invalidation driven by the Redis sink
// (sinks/redis: the <ns>:invalidate channel and the per-organization
// cachever counters), and Prometheus metrics.
//
// Nothing here knows an aggregate: handlers are registered per query type
// by the aggregate's read code, and answers are opaque JSON bytes. The key
// layout, the invalidation and the staleness bound are in docs/queries.md.
package queries
