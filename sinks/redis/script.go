package redis

import goredis "github.com/redis/go-redis/v9"

// Event kinds of the apply script.
const (
	kindUpsert    = "u" // an event with the payment's state after it
	kindDelete    = "d" // PaymentDeleted
	kindTombstone = "t" // the nil record after PaymentDeleted: version unknown
	kindSkip      = "s" // rejected by the target: only advances the offset
)

// Argument layout of applyScript.
const (
	argHeader      = 6 // ttl, markerTTL, recentSize, channel, prefix, partitions
	argStride      = 8 // kind, partition index, next offset, version, id, org, score, document
	keyStride      = 4 // payment, version, recent, cachever
	scriptApplied  = 0
	scriptSkipped  = 1
	scriptReplayed = 2
)

// applyScript applies a chunk of events atomically.
//
// KEYS[1..P]: the offset key of each partition present in the chunk; then
// per event: payment key, version key, recent key, cachever key (the last
// two are "" for tombstones, whose organization is read from the stored
// document).
// ARGV: ttl seconds (0 = none), marker ttl seconds, recent size, invalidate
// channel, key prefix, P; then per event: kind, partition index (1-based),
// next offset (offset+1), version, payment id, organization id, score
// (createdAt Unix ms), document JSON.
//
// An event whose next offset is not above the partition's stored next
// offset was applied before (replay) and is skipped; so is an event whose
// version is not above the stored version (out of order, or older than a
// delete). Numbers that are stored (offsets, versions) are copied from the
// arguments as strings, never formatted by Lua, so no precision is lost.
// It returns {applied, skipped as older, skipped as already consumed}.
var applyScript = goredis.NewScript(`
local ttl = tonumber(ARGV[1])
local markerTTL = tonumber(ARGV[2])
local recentSize = tonumber(ARGV[3])
local channel = ARGV[4]
local prefix = ARGV[5]
local np = tonumber(ARGV[6])

local nextOff, nextStr = {}, {}
for i = 1, np do
  local v = redis.call('GET', KEYS[i])
  nextOff[i] = v and tonumber(v) or -1
end

local touched, order = {}, {}
local function touch(rkey, ckey)
  if not touched[rkey] then
    touched[rkey] = ckey
    order[#order + 1] = rkey
  end
end
local function message(org, id, version)
  return '{"organizationId":' .. cjson.encode(org) .. ',"paymentId":' .. cjson.encode(id) .. ',"version":' .. version .. '}'
end

local applied, older, replayed = 0, 0, 0
local n = (#ARGV - 6) / 8
for e = 0, n - 1 do
  local a = 6 + e * 8
  local kind, p, nxt = ARGV[a + 1], tonumber(ARGV[a + 2]), ARGV[a + 3]
  local version, id, org, score, doc = ARGV[a + 4], ARGV[a + 5], ARGV[a + 6], ARGV[a + 7], ARGV[a + 8]
  local k = np + e * 4
  local pkey, vkey, rkey, ckey = KEYS[k + 1], KEYS[k + 2], KEYS[k + 3], KEYS[k + 4]
  local nxtNum = tonumber(nxt)
  if nxtNum <= nextOff[p] then
    replayed = replayed + 1
  else
    nextOff[p] = nxtNum
    nextStr[p] = nxt
    local storedStr = redis.call('GET', vkey)
    local stored = storedStr and tonumber(storedStr) or 0
    if kind == 'u' then
      if tonumber(version) <= stored then
        older = older + 1
      else
        if ttl > 0 then
          redis.call('SET', pkey, doc, 'EX', ttl)
          redis.call('SET', vkey, version, 'EX', ttl)
        else
          redis.call('SET', pkey, doc)
          redis.call('SET', vkey, version)
        end
        redis.call('ZADD', rkey, score, id)
        redis.call('PUBLISH', channel, message(org, id, version))
        touch(rkey, ckey)
        applied = applied + 1
      end
    elseif kind == 'd' then
      if tonumber(version) <= stored then
        older = older + 1
      else
        redis.call('DEL', pkey)
        redis.call('ZREM', rkey, id)
        redis.call('SET', vkey, version, 'EX', markerTTL)
        redis.call('PUBLISH', channel, message(org, id, version))
        touch(rkey, ckey)
        applied = applied + 1
      end
    elseif kind == 't' then
      local cur = redis.call('GET', pkey)
      if cur then
        local ok, d = pcall(cjson.decode, cur)
        redis.call('DEL', pkey)
        local last = storedStr
        if not last and ok and type(d.version) == 'number' then
          last = string.format('%d', d.version)
        end
        if last then
          redis.call('SET', vkey, last, 'EX', markerTTL)
        end
        if ok and type(d.organizationId) == 'string' then
          local o = d.organizationId
          local r = prefix .. 'org:' .. o .. ':recent'
          redis.call('ZREM', r, id)
          redis.call('PUBLISH', channel, message(o, id, last or '0'))
          touch(r, prefix .. 'org:' .. o .. ':cachever')
        end
        applied = applied + 1
      else
        older = older + 1
      end
    end
  end
end

for _, rkey in ipairs(order) do
  redis.call('ZREMRANGEBYRANK', rkey, 0, -(recentSize + 1))
  if ttl > 0 then
    redis.call('EXPIRE', rkey, ttl)
  end
  redis.call('INCR', touched[rkey])
end

for i = 1, np do
  if nextStr[i] then
    redis.call('SET', KEYS[i], nextStr[i])
  end
end
return {applied, older, replayed}
`)
