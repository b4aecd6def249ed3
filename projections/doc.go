// Package projections is the vocabulary between an aggregate and the store
// sinks: how an aggregate's events and state render into each read source
// (a Postgres table, an Elasticsearch document and mapping, a Redis
// document, read-model tables). An aggregate package implements these
// interfaces; the store sinks (sinks/postgres, sinks/elasticsearch,
// sinks/redis, sinks/readmodels) call them and keep the exactly-once
// mechanics to themselves, so neither side knows the other's details.
package projections
