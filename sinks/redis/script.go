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
	argHeader = 8 // ttl, markerTTL, recentSize, channel, prefix, partitions, organizations, expected offsets
	argStride = 9 // kind, partition index, next offset, version, id, score, document, message, organization index
	keyStride = 2 // payment, deletion marker
)

// Indices of the counters the script returns.
const (
	countApplied  = 0
	countOlder    = 1
	countReplayed = 2
)

// applyScript applies a chunk of events atomically.
//
// KEYS[1..P]: the offset key of each partition present in the chunk; then
// the recent key and cachever key of each of the O organizations of the
// chunk's events; then per event: payment key, deletion-marker key.
// ARGV: ttl seconds (0 = none), marker ttl seconds, recent size, invalidate
// channel, key prefix, P, O, expected (a string of P '0'/'1': '1' when the
// partition's offset key must exist because this target stored or read it
// before); then per event: kind, partition index (1-based), next offset
// (offset+1), version, payment id, score (createdAt Unix ms), document
// JSON (starting with {"version":N,), invalidation message, organization
// index (1-based; 0 for tombstones, whose organization is read from the
// stored document).
//
// The stored version of a payment is the version at the head of its
// document, or the deletion marker's after a delete (the larger if both).
// An event whose next offset is not above the partition's stored next
// offset was applied before (replay) and is skipped; so is an event whose
// version is not above the stored version (out of order, or older than a
// delete).
//
// To keep Redis calls per event near one, the script reads every payment
// and marker key of the chunk with one MGET, follows the chunk in order in
// Lua tables, then writes only the final state of each payment (one SET or
// DEL+marker), the recent-index changes per organization (one ZADD, one
// ZREM, one trim, one EXPIRE, one INCR of cachever), the offsets, and one
// PUBLISH of the applied changes as a JSON array. Offsets and versions are
// copied from the arguments as strings, never formatted by Lua, so no
// precision is lost.
//
// An expected offset key that is missing means Redis lost its data (a
// restart without persistence, FLUSHALL, eviction): the script writes
// nothing and fails with "PRISM_OFFSETS_LOST", so the runtime rewinds.
// It returns {applied, skipped as older, skipped as already consumed}.
var applyScript = goredis.NewScript(`
local ttl = tonumber(ARGV[1])
local markerTTL = tonumber(ARGV[2])
local recentSize = tonumber(ARGV[3])
local channel = ARGV[4]
local prefix = ARGV[5]
local np = tonumber(ARGV[6])
local no = tonumber(ARGV[7])
local expected = ARGV[8]

local nextOff, nextStr = {}, {}
for i = 1, np do
  local v = redis.call('GET', KEYS[i])
  if not v and string.sub(expected, i, i) == '1' then
    return redis.error_reply('PRISM_OFFSETS_LOST ' .. KEYS[i] .. ' is gone')
  end
  nextOff[i] = v and tonumber(v) or -1
end

local n = (#ARGV - 8) / 9
local base = np + 2 * no
local stored = {}
if n > 0 then
  stored = redis.call('MGET', unpack(KEYS, base + 1, base + 2 * n))
end

-- recent[rkey] = {ckey = cachever key, m = {id = score or false}}
local recent, rorder = {}, {}
local function touch(rkey, ckey, id, score)
  local r = recent[rkey]
  if not r then
    r = {ckey = ckey, m = {}}
    recent[rkey] = r
    rorder[#rorder + 1] = rkey
  end
  r.m[id] = score
end

local function docVersion(doc)
  if not doc then return 0, nil end
  local v = string.match(doc, '^{"version":(%d+)')
  if v then return tonumber(v), v end
  local ok, d = pcall(cjson.decode, doc)
  if ok and type(d.version) == 'number' then return d.version, string.format('%d', d.version) end
  return 0, nil
end

-- Per payment key: its current version and document as the chunk goes,
-- and the final write to make.
local known, doc, final, forder = {}, {}, {}, {}
local function setFinal(pkey, f)
  if not final[pkey] then forder[#forder + 1] = pkey end
  final[pkey] = f
end

local msgs = {}
local applied, older, replayed = 0, 0, 0
for e = 0, n - 1 do
  local a = 8 + e * 9
  local p, nxt = tonumber(ARGV[a + 2]), ARGV[a + 3]
  local nxtNum = tonumber(nxt)
  if nxtNum <= nextOff[p] then
    replayed = replayed + 1
  else
    nextOff[p] = nxtNum
    nextStr[p] = nxt
    local kind = ARGV[a + 1]
    local k = base + e * 2
    local pkey, mkey = KEYS[k + 1], KEYS[k + 2]
    local v = known[pkey]
    if v == nil then
      local d, m = stored[2 * e + 1], stored[2 * e + 2]
      v = docVersion(d)
      local mv = m and tonumber(m) or 0
      if mv > v then v = mv end
      known[pkey] = v
      doc[pkey] = d
    end
    local id = ARGV[a + 5]
    if kind == 'u' or kind == 'd' then
      local version = ARGV[a + 4]
      local vn = tonumber(version)
      if vn <= v then
        older = older + 1
      else
        known[pkey] = vn
        local o = np + 2 * tonumber(ARGV[a + 9])
        msgs[#msgs + 1] = ARGV[a + 8]
        if kind == 'u' then
          doc[pkey] = ARGV[a + 7]
          setFinal(pkey, {doc = ARGV[a + 7]})
          touch(KEYS[o - 1], KEYS[o], id, ARGV[a + 6])
        else
          doc[pkey] = false
          setFinal(pkey, {mkey = mkey, version = version})
          touch(KEYS[o - 1], KEYS[o], id, false)
        end
        applied = applied + 1
      end
    elseif kind == 't' then
      local d = doc[pkey]
      if d then
        local _, last = docVersion(d)
        doc[pkey] = false
        setFinal(pkey, {mkey = mkey, version = last})
        local ok, dd = pcall(cjson.decode, d)
        if ok and type(dd.organizationId) == 'string' then
          local o = dd.organizationId
          msgs[#msgs + 1] = '{"organizationId":' .. cjson.encode(o) .. ',"paymentId":' .. cjson.encode(id) .. ',"version":' .. (last or '0') .. '}'
          touch(prefix .. 'org:' .. o .. ':recent', prefix .. 'org:' .. o .. ':cachever', id, false)
        end
        applied = applied + 1
      else
        older = older + 1
      end
    end
  end
end

for _, pkey in ipairs(forder) do
  local f = final[pkey]
  if f.doc then
    if ttl > 0 then
      redis.call('SET', pkey, f.doc, 'EX', ttl)
    else
      redis.call('SET', pkey, f.doc)
    end
  else
    redis.call('DEL', pkey)
    if f.version then
      redis.call('SET', f.mkey, f.version, 'EX', markerTTL)
    end
  end
end

for _, rkey in ipairs(rorder) do
  local r = recent[rkey]
  local add, rem = {}, {}
  for id, score in pairs(r.m) do
    if score then
      add[#add + 1] = score
      add[#add + 1] = id
    else
      rem[#rem + 1] = id
    end
  end
  if #add > 0 then redis.call('ZADD', rkey, unpack(add)) end
  if #rem > 0 then redis.call('ZREM', rkey, unpack(rem)) end
  redis.call('ZREMRANGEBYRANK', rkey, 0, -(recentSize + 1))
  if ttl > 0 then redis.call('EXPIRE', rkey, ttl) end
  redis.call('INCR', r.ckey)
end

for i = 1, np do
  if nextStr[i] then
    redis.call('SET', KEYS[i], nextStr[i])
  end
end
if #msgs > 0 then
  redis.call('PUBLISH', channel, '[' .. table.concat(msgs, ',') .. ']')
end
return {applied, older, replayed}
`)
