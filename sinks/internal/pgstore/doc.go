// Package pgstore holds what the Postgres-backed sinks (postgres,
// readmodels) share: versioned migrations guarded by an advisory lock, the
// per-partition offsets table written in the same transaction as the rows,
// and the classification of Postgres errors into transient or not.
package pgstore
