package records

// RecentCommand is one entry of an aggregate's dedup memory: a command the
// aggregate accepted, remembered so a retry of the same command id is
// answered with its earlier outcome instead of being applied twice. It
// travels inside the aggregate's state on the compacted events topic, so
// deduplication survives restarts and rebalances. CommandID holds the
// command id's dedup key (records/dedup: "h:" and 16 hex digits), or the raw
// id in states written before keys were hashed. The tags are the Avro and
// JSON field names every aggregate's state schema uses for it.
type RecentCommand struct {
	CommandID string `avro:"commandId" json:"commandId"`
	Version   int64  `avro:"version" json:"version"` // aggregate version of the command's last event
}
