package redis

import (
	"strconv"

	"github.com/prism-cqrs/prism/topology"
)

// Keys builds every Redis key and channel name of one namespace. The query
// service uses the same type, so readers and the sink never disagree.
type Keys struct{ prefix string }

// NewKeys returns the keys under names.RedisPrefix().
func NewKeys(names topology.Names) Keys { return Keys{prefix: names.RedisPrefix()} }

// Payment is the key of the payment's JSON document.
func (k Keys) Payment(id string) string { return k.prefix + "payment:" + id }

// Version is the key of the deletion marker that earlier versions of the
// sink kept for a deleted payment. The target no longer writes or reads it
// (markers left behind expire by their TTL); kept for compatibility.
func (k Keys) Version(id string) string { return k.prefix + "payment:" + id + ":v" }

// Recent is the sorted set of an organization's payment ids by createdAt.
func (k Keys) Recent(org string) string { return k.prefix + "org:" + org + ":recent" }

// CacheVersion is the organization's query-cache version counter.
func (k Keys) CacheVersion(org string) string { return k.prefix + "org:" + org + ":cachever" }

// InvalidateChannel is the pub/sub channel of invalidation messages.
func (k Keys) InvalidateChannel() string { return k.prefix + "invalidate" }

// Offset is the key holding the next offset to consume of topic/partition.
func (k Keys) Offset(topic string, partition int32) string {
	return k.prefix + "sink:redis:offset:" + topic + ":" + strconv.FormatInt(int64(partition), 10)
}
