// Package payments is Payment's query set: the five queries of the read
// side (by id, search, statistics, analytics, timeline), their parameters,
// their answers, one reader per read source, and the routes that choose a
// source per query (docs/queries.md). The queries package runs them; this
// package knows Payment's tables, keys and index (README "Read sources").
package payments
