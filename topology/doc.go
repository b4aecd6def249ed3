// Package topology is what exists in Kafka for one Prism namespace,
// declared once for every aggregate the namespace serves: each aggregate's
// five topics (name, key, value, partitions, replication factor, configs)
// and each stage that reads or writes them (the producer, the processor
// group, the sink groups). It knows aggregates by their plural names only.
// Spec is the declaration, Names are the names, Admin compares a Spec with
// a cluster (Plan) and makes the cluster match it (Apply), and
// Describe/Mermaid draw it.
//
// The one rule Apply never bends: the commands and events topics of an
// aggregate are co-partitioned (same partition count, same default
// partitioner), because the processor that owns commands partition p
// restores the state of its aggregates from events partition p.
package topology
