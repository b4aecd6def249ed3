package redis

import goredis "github.com/redis/go-redis/v9"

// Event kinds of the apply script.
const (
	kindUpsert    = "u" // an event with the aggregate's document after it
	kindDelete    = "d" // an event removing the aggregate (projections.CacheDoc.Delete)
	kindTombstone = "t" // the nil record after such an event: version unknown
	kindSkip      = "s" // rejected by the target: only advances the offset
)

// Argument layout of applyScript.
const (
	argHeader = 20 // ttl, recentSize, channel, org key prefix, recent suffix, cachever suffix, organization field, message head, message id part; partitions, organizations, expected offsets, final organizations, messages, message ends, metas, partitions' last next offsets; version to check, cachever org key prefix, partitions' required offsets
	argStride = 2  // id, document
	keyStride = 1  // document
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
// chunk's events (in the batch's last chunk, followed by the batch's other
// organizations); then per event: document key; last the version pointer
// and the switching key (Keys.Pointer, Keys.Switching).
// ARGV: ttl seconds (0 = none), recent size, invalidate channel; the
// aggregate's names (projections.CacheLayout), for the keys and message of
// a tombstone, which only the stored document tells the organization of:
// the organization key prefix <ns>:org:, the recent and cachever suffixes
// (:recent, :cachever for Payment), the document's organization field
// (organizationId), the message's head {"<organization field>": and its id
// part ,"<id field>":; then P, O, expected (a string of P '0'/'1': '1' when the partition's
// offset key must exist because this target stored or read it before),
// finals (a string of O '0'/'1': '1' to trim the organization's recent
// index and refresh its TTL, set for every organization of the batch in
// its last chunk), messages (the JSON array of the invalidation messages
// of the chunk's upserts and deletes, in order: published as sent when all
// of them apply and no tombstone does), message ends (comma-separated
// 1-based end of each message in that array, used to cut out the applied
// ones otherwise), metas (per event a packed little-endian record read
// with struct.unpack('<BHddHd'): kind byte, partition index, next offset =
// offset+1, version, organization index (1-based; 0 for tombstones, whose
// organization is read from the stored document), score = createdAt in
// Unix ms; see appendMeta), the highest next offset of each partition in
// the chunk (comma-separated decimals: what the script stores when the
// partition moved); the version the keys are of, as the pointer holds it
// ("" for a target writing one version whatever the pointer says: no
// check), the change counters' organization prefix (<ns>:org:, the same in
// every version), the next offset each partition must have stored already
// (comma-separated decimals, 0 for none: what the batch's earlier chunks
// reach, see below); then per event two arguments: aggregate id, document
// JSON (starting with {"version":N, per projections.CacheDoc). Binary records spare Lua a pattern
// match, six new strings and four tonumber calls per event.
//
// Offsets are authoritative: an event whose next offset is not above the
// partition's stored next offset was applied before (replay) and is
// skipped. Every event of an aggregate is in one partition and the processor
// emits each event once, so the offset order is the true order of an
// aggregate's events. Beyond that, an event whose version is not above the
// version of the LIVE stored document (the head of its JSON) is skipped: an
// older version of a live aggregate re-sent at a new offset changes nothing.
// A deleted (or never stored) aggregate has no version: whatever comes next
// at a new offset is applied, which is how an id deleted and then created
// again starts its new life at version 1.
//
// To keep Redis calls per event near one, the script reads every document
// key of the chunk with one MGET, follows the chunk in order in Lua tables,
// then writes only the final state of each document (one SET or DEL), the
// recent-index changes per organization (one ZADD, one ZREM, one INCR of
// cachever; one trim and one EXPIRE per organization per batch), the
// offsets, and one PUBLISH of the applied changes as a JSON array. Stored
// offsets are copied from the arguments as strings, never formatted by Lua;
// the float64 offsets, versions and scores it compares are exact below 2^53.
//
// An expected offset key that is missing means Redis lost its data (a
// restart without persistence, FLUSHALL, eviction): the script writes
// nothing and fails with "PRISM_OFFSETS_LOST", so the runtime rewinds.
// It returns {applied, skipped as older, skipped as already consumed}.
//
// Write sends a batch's chunks pipelined, without waiting for one reply
// before the next chunk: a chunk whose partition's stored next offset is
// below what the batch's earlier chunks reach (one of them failed) writes
// nothing and fails with "PRISM_CHAIN_BROKEN", so no event is applied
// after an unapplied earlier one of its partition.
//
// A live target (version to check set) writes only while the pointer names
// that version and no switch holds the switching key: otherwise the script
// writes nothing and fails with "PRISM_VERSION_MOVED <version>" (Write
// follows the pointer and retries on the new version's keys, whose offsets
// skip what is there already) or "PRISM_SWITCHING" (Write waits). Checked
// in the same atomic step as the writes, a batch never lands in a version
// that stopped being current. A target writing a version that is not
// current (no check) neither bumps the change counters nor publishes
// invalidations: no reader sees that version before the switch, which
// bumps and publishes for every organization (Store.Switch).
var applyScript = goredis.NewScript(`
local want = ARGV[18]
if want ~= '' then
  local nk = #KEYS
  local cur = redis.call('GET', KEYS[nk - 1]) or '1'
  if cur ~= want then return redis.error_reply('PRISM_VERSION_MOVED ' .. cur) end
  if redis.call('EXISTS', KEYS[nk]) == 1 then return redis.error_reply('PRISM_SWITCHING ' .. KEYS[nk]) end
end
local live = want ~= ''
local cvPrefix = ARGV[19]
local ttls = ARGV[1] -- as sent: no number formatting per SET
local ttl = tonumber(ttls)
local call, sunpack = redis.call, struct.unpack
local recentSize = tonumber(ARGV[2])
local channel = ARGV[3]
local orgPrefix, recentSuffix, cvSuffix = ARGV[4], ARGV[5], ARGV[6]
local orgField, msgHead, msgID = ARGV[7], ARGV[8], ARGV[9]
local np = tonumber(ARGV[10])
local no = tonumber(ARGV[11])
local expected = ARGV[12]
local finals = ARGV[13]
local joined = ARGV[14]

local nextOff, moved, lastStr = {}, {}, {}
for x in string.gmatch(ARGV[17], '%d+') do lastStr[#lastStr + 1] = x end
local metas = ARGV[16]
local pos = 1
local offs = call('MGET', unpack(KEYS, 1, np))
for i = 1, np do
  local v = offs[i]
  if not v and string.sub(expected, i, i) == '1' then
    return redis.error_reply('PRISM_OFFSETS_LOST ' .. KEYS[i] .. ' is gone')
  end
  nextOff[i] = v and tonumber(v) or -1
end
local ri = 0
for x in string.gmatch(ARGV[20], '%d+') do
  ri = ri + 1
  local r = tonumber(x)
  if r > 0 and nextOff[ri] < r then
    return redis.error_reply('PRISM_CHAIN_BROKEN ' .. KEYS[ri] .. ' is below ' .. x)
  end
end

local n = (#ARGV - 20) / 2
local base = np + 2 * no
local stored = {}
if n > 0 then
  stored = redis.call('MGET', unpack(KEYS, base + 1, base + n))
end

-- recent[rkey] = {ckey = cachever key, ops = {score or false, id, ...}
-- in chunk order (false: removed), del = some op removes, fin = trim and
-- refresh the TTL here (organizations not in the chunk's list)}
local recent, rorder = {}, {}
local function touch(rkey, ckey, id, score, fin)
  local r = recent[rkey]
  if not r then
    r = {ckey = ckey, ops = {}, del = false, fin = fin}
    recent[rkey] = r
    rorder[#rorder + 1] = rkey
  end
  local ops = r.ops
  ops[#ops + 1] = score
  ops[#ops + 1] = id
  if not score then r.del = true end
end

local function docVersion(doc)
  if not doc then return 0, nil end
  local v = string.match(doc, '^{"version":(%d+)')
  if v then return tonumber(v), v end
  local ok, d = pcall(cjson.decode, doc)
  if ok and type(d.version) == 'number' then return d.version, string.format('%d', d.version) end
  return 0, nil
end

-- Per document key: the version of its live document as the chunk goes (0
-- when deleted or absent), the document, and the final write to make (the
-- document, or false for a DEL). Keys are written in the order of the
-- chunk's events (KEYS order), each once.
local known, doc, final = {}, {}, {}

-- Invalidation messages. While every upsert and delete so far applied and
-- no tombstone did (clean), the message to publish is ARGV[14] as sent;
-- otherwise msgs lists the applied changes: the ordinal of an upsert or
-- delete (its message is cut from ARGV[14]) or a tombstone's message.
local msgs, clean, ud = {}, true, 0
local function unclean()
  if clean then
    clean = false
    for j = 1, ud - 1 do msgs[j] = j end
  end
end
local applied, older, replayed = 0, 0, 0
for e = 0, n - 1 do
  local a = 20 + e * 2
  local kind, p, nxtNum, vn, oi, score
  kind, p, nxtNum, vn, oi, score, pos = sunpack('<BHddHd', metas, pos)
  local isud = kind == 117 or kind == 100 -- 'u', 'd'
  if isud then ud = ud + 1 end
  if nxtNum <= nextOff[p] then
    if isud then unclean() end
    replayed = replayed + 1
  else
    nextOff[p] = nxtNum
    moved[p] = true
    local pkey = KEYS[base + e + 1]
    local v = known[pkey]
    if v == nil then
      local d = stored[e + 1]
      if d then v = docVersion(d) else v = 0 end
      known[pkey] = v
      doc[pkey] = d
    end
    local id = ARGV[a + 1]
    if isud then
      if vn <= v then
        unclean()
        older = older + 1
      else
        local o = np + 2 * oi
        if not clean then msgs[#msgs + 1] = ud end
        if kind == 117 then
          known[pkey] = vn
          doc[pkey] = ARGV[a + 2]
          final[pkey] = ARGV[a + 2]
          touch(KEYS[o - 1], KEYS[o], id, score, false)
        else
          known[pkey] = 0
          doc[pkey] = false
          final[pkey] = false
          touch(KEYS[o - 1], KEYS[o], id, false, false)
        end
        applied = applied + 1
      end
    elseif kind == 116 then -- 't'
      local d = doc[pkey]
      if d then
        local _, last = docVersion(d)
        known[pkey] = 0
        doc[pkey] = false
        final[pkey] = false
        local ok, dd = pcall(cjson.decode, d)
        if ok and type(dd[orgField]) == 'string' then
          local o = dd[orgField]
          unclean()
          msgs[#msgs + 1] = msgHead .. cjson.encode(o) .. msgID .. cjson.encode(id) .. ',"version":' .. (last or '0') .. '}'
          touch(orgPrefix .. o .. recentSuffix, cvPrefix .. o .. cvSuffix, id, false, true)
        end
        applied = applied + 1
      else
        older = older + 1
      end
    end
  end
end

for e = 1, n do
  local pkey = KEYS[base + e]
  local f = final[pkey]
  if f ~= nil then
    final[pkey] = nil
    if f then
      if ttl > 0 then
        call('SET', pkey, f, 'EX', ttls)
      else
        call('SET', pkey, f)
      end
    else
      redis.call('DEL', pkey)
    end
  end
end

for _, rkey in ipairs(rorder) do
  local r = recent[rkey]
  -- Without removals the ops are the ZADD arguments (a repeated member
  -- takes its last score); otherwise each id's last op decides.
  local add, rem = r.ops, {}
  if r.del then
    local last, order = {}, {}
    for k = 1, #r.ops, 2 do
      local id = r.ops[k + 1]
      if last[id] == nil then order[#order + 1] = id end
      last[id] = r.ops[k]
    end
    add = {}
    for _, id in ipairs(order) do
      if last[id] then
        add[#add + 1] = last[id]
        add[#add + 1] = id
      else
        rem[#rem + 1] = id
      end
    end
  end
  if #add > 0 then redis.call('ZADD', rkey, unpack(add)) end
  if #rem > 0 then redis.call('ZREM', rkey, unpack(rem)) end
  if r.fin then
    redis.call('ZREMRANGEBYRANK', rkey, 0, -(recentSize + 1))
    if ttl > 0 then call('EXPIRE', rkey, ttls) end
  end
  if live then redis.call('INCR', r.ckey) end
end
for i = 1, no do
  if string.byte(finals, i) == 49 then
    local rkey = KEYS[np + 2 * i - 1]
    redis.call('ZREMRANGEBYRANK', rkey, 0, -(recentSize + 1))
    if ttl > 0 then call('EXPIRE', rkey, ttls) end
  end
end

local mset = {}
for i = 1, np do
  if moved[i] then
    mset[#mset + 1] = KEYS[i]
    mset[#mset + 1] = lastStr[i]
  end
end
if #mset > 0 then call('MSET', unpack(mset)) end
if not live then
  -- a version being built: readers see none of it until the switch
elseif clean then
  if ud > 0 then redis.call('PUBLISH', channel, joined) end
elseif #msgs > 0 then
  local ends = {}
  for x in string.gmatch(ARGV[15], '%d+') do ends[#ends + 1] = tonumber(x) end
  for i, m in ipairs(msgs) do
    if type(m) == 'number' then
      msgs[i] = string.sub(joined, m == 1 and 2 or ends[m - 1] + 2, ends[m])
    end
  end
  redis.call('PUBLISH', channel, '[' .. table.concat(msgs, ',') .. ']')
end
return {applied, older, replayed}
`)
