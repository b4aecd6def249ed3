package redis

import (
	"context"
	"errors"
	"fmt"
	"strconv"

	goredis "github.com/redis/go-redis/v9"
)

// readScript reads keys of the version the pointer names, in one atomic
// step: a read never mixes versions around a switch.
//
// KEYS[1]: the version pointer (Keys.Pointer). ARGV[1]: the namespace
// prefix <ns>:; ARGV[2..]: keys relative to the version's prefix
// (payment:<id>, sink:redis:offset:<topic>:<partition>). It returns the
// version (a decimal string) followed by the value of each key (nil when
// absent). Keys other than KEYS[1] are built in the script, which Redis
// Cluster would refuse (README: Redis Cluster is not supported).
var readScript = goredis.NewScript(`
local v = redis.call('GET', KEYS[1]) or '1'
local p = ARGV[1]
if v ~= '1' then p = p .. 'v' .. v .. ':' end
local out = {v}
if #ARGV > 1 then
  local ks = {}
  for i = 2, #ARGV do ks[#ks + 1] = p .. ARGV[i] end
  local vals = redis.call('MGET', unpack(ks))
  for i = 1, #vals do out[#out + 1] = vals[i] end
end
return out
`)

// getScript is readScript for one key, the hot read path of a document: no
// table built, no MGET.
var getScript = goredis.NewScript(`
local v = redis.call('GET', KEYS[1])
if v and v ~= '1' then return {v, redis.call('GET', ARGV[1] .. 'v' .. v .. ':' .. ARGV[2])} end
return {'1', redis.call('GET', ARGV[1] .. ARGV[2])}
`)

// readCurrent runs readScript for the relative keys rel and returns the
// version and the values (nil for an absent key).
func (k Keys) readCurrent(ctx context.Context, c goredis.Scripter, rel ...string) (int, []any, error) {
	args := make([]any, 0, 1+len(rel))
	args = append(args, k.prefix)
	for _, r := range rel {
		args = append(args, r)
	}
	res, err := readScript.Run(ctx, c, []string{k.Pointer()}, args...).Slice()
	if err != nil {
		return 0, nil, err
	}
	if len(res) != 1+len(rel) {
		return 0, nil, fmt.Errorf("read script answered %d values for %d keys", len(res)-1, len(rel))
	}
	v, err := parseVersion(res[0])
	if err != nil {
		return 0, nil, fmt.Errorf("version pointer %s: %w", k.Pointer(), err)
	}
	return v, res[1:], nil
}

// parseVersion reads a version pointer's value.
func parseVersion(x any) (int, error) {
	s, ok := x.(string)
	if !ok {
		return 0, fmt.Errorf("holds %v (%T), not a version", x, x)
	}
	v, err := strconv.Atoi(s)
	if err != nil || v < 1 {
		return 0, fmt.Errorf("holds %q, not a version (1, 2, ...)", s)
	}
	return v, nil
}

// GetDoc reads the aggregate's document (Doc) in the version the pointer
// names, reading the pointer and the document in one round trip (a Lua
// script). An absent document returns goredis.Nil. version is the version
// read. k must be the keys of NewKeys (any version: only the namespace and
// layout count).
func (k Keys) GetDoc(ctx context.Context, c goredis.Scripter, id string) (doc string, version int, err error) {
	res, err := getScript.Run(ctx, c, []string{k.Pointer()}, k.prefix, k.layout.Key+":"+id).Slice()
	if err != nil {
		return "", 0, err
	}
	v, err := parseVersion(res[0])
	if err != nil {
		return "", 0, fmt.Errorf("version pointer %s: %w", k.Pointer(), err)
	}
	if len(res) < 2 {
		return "", v, goredis.Nil // a Lua table ends at its first nil
	}
	s, ok := res[1].(string)
	if !ok {
		return "", v, goredis.Nil
	}
	return s, v, nil
}

// GetOffsets reads the next offsets of topic's partitions stored in the
// version the pointer names (absent partitions are absent from the map),
// with the pointer, in one round trip.
func (k Keys) GetOffsets(ctx context.Context, c goredis.Scripter, topic string, partitions []int32) (map[int32]int64, int, error) {
	rel := make([]string, len(partitions))
	for i, p := range partitions {
		rel[i] = offsetRel(topic, p)
	}
	v, vals, err := k.readCurrent(ctx, c, rel...)
	if err != nil {
		return nil, 0, err
	}
	out := make(map[int32]int64, len(partitions))
	for i, x := range vals {
		s, ok := x.(string)
		if !ok {
			continue
		}
		off, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			return nil, v, fmt.Errorf("offset key %s holds %q, not an offset", k.At(v).Offset(topic, partitions[i]), s)
		}
		out[partitions[i]] = off
	}
	return out, v, nil
}

// CurrentVersion reads the version pointer (absent: 1).
func (k Keys) CurrentVersion(ctx context.Context, c goredis.Cmdable) (int, error) {
	s, err := c.Get(ctx, k.Pointer()).Result()
	if errors.Is(err, goredis.Nil) {
		return 1, nil
	}
	if err != nil {
		return 0, err
	}
	v, err := parseVersion(s)
	if err != nil {
		return 0, fmt.Errorf("version pointer %s: %w", k.Pointer(), err)
	}
	return v, nil
}
