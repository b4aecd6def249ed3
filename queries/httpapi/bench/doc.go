// Package bench holds the read side's load benchmarks (issue 10,
// "Performance"; figures in docs/queries.md "Performance"). It has no
// code of its own: the benchmarks (bench_*_test.go) serve Payment's query
// set through queries/httpapi over real Postgres, Redis and Elasticsearch,
// filled directly with the sinks' own tables, keys and index, and load it
// with vegeta on loopback, each beside a bare ceiling measured in the same
// run. `make bench` runs them; they need the services (`make services-up`).
package bench
