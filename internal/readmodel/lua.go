package readmodel

import "github.com/redis/go-redis/v9"

// The scripts. Every one is given the pointer keys as KEYS (so that a
// cluster client routes it to the slot of the store's hash tag) and the
// key base ("{prefix}") as ARGV[1]; the generation keys it touches are
// built from the base and the generation the script itself reads, which
// is allowed because they share the base's hash tag, hence its slot.
// go-redis's Script runs each with EVALSHA and falls back to EVAL when the
// server does not know it yet.

// applyScript applies one user's parts (an event's, or a snapshot row's)
// to the live generation and, if one is being built, to it too
// (ARGV[2] == ""), or to the building generation only (ARGV[2] == its
// number; an error if it is no longer the one being built).
//
// ARGV: base, target, user id, floor (every version <= floor is applied,
// 0 for an event), then per part: version, at (ms, "0" = none), leaderboard
// member ("" = none), its zset score, n, then n field/value pairs.
// It returns the number of generations whose visible state changed.
var applyScript = redis.NewScript(`
local base, target, uid, floor = ARGV[1], ARGV[2], ARGV[3], tonumber(ARGV[4])
local gens = {}
if target == '' then
  gens[1] = redis.call('GET', KEYS[1]) or '0'
  local b = redis.call('GET', KEYS[2])
  if b then gens[2] = b end
else
  if redis.call('GET', KEYS[2]) ~= target then
    return redis.error_reply('NOTBUILDING generation ' .. target .. ' is not being built')
  end
  gens[1] = target
end
local changed = 0
for _, g in ipairs(gens) do
  local gk = base .. g .. ':'
  local u = gk .. 'u:' .. uid
  local cur = tonumber(redis.call('HGET', u, '_floor') or '0')
  local applied, asof, asofs = false, 0, '0'
  local i = 5
  while i <= #ARGV do
    local vs, ats, member, zscore, nf = ARGV[i], ARGV[i+1], ARGV[i+2], ARGV[i+3], tonumber(ARGV[i+4])
    local v, at, first = tonumber(vs), tonumber(ats), i + 5
    i = first + 2 * nf
    if v > cur and redis.call('HEXISTS', u, '_v' .. vs) == 0 then
      applied = true
      if nf > 0 then redis.call('HSET', u, unpack(ARGV, first, i - 1)) end
      if member ~= '' then redis.call('ZADD', gk .. 'lb', zscore, member) end
      if v > floor then redis.call('HSET', u, '_v' .. vs, '1') end
      if at > asof then asof, asofs = at, ats end
    end
  end
  if floor > cur then
    redis.call('HSET', u, '_floor', ARGV[4])
    for _, f in ipairs(redis.call('HKEYS', u)) do
      if string.sub(f, 1, 2) == '_v' and tonumber(string.sub(f, 3)) <= floor then
        redis.call('HDEL', u, f)
      end
    end
  end
  if applied then
    changed = changed + 1
    if asof > tonumber(redis.call('GET', gk .. 'asof') or '0') then
      redis.call('SET', gk .. 'asof', asofs)
    end
  end
end
return changed
`)

// profileScript reads the live generation's number, as_of and the user's
// hash. ARGV: base, user id.
var profileScript = redis.NewScript(`
local g = redis.call('GET', KEYS[1]) or '0'
local gk = ARGV[1] .. g .. ':'
local out = {g, redis.call('GET', gk .. 'asof') or '0'}
local h = redis.call('HGETALL', gk .. 'u:' .. ARGV[2])
for i = 1, #h do out[#out + 1] = h[i] end
return out
`)

// leaderboardScript reads the live generation's number, as_of, the
// leaderboard's size and one page of it with each entry's username and
// score. ARGV: base, offset, limit, width of the member's time prefix.
var leaderboardScript = redis.NewScript(`
local g = redis.call('GET', KEYS[1]) or '0'
local gk = ARGV[1] .. g .. ':'
local off, lim, skip = tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4]) + 2
local out = {g, redis.call('GET', gk .. 'asof') or '0', redis.call('ZCARD', gk .. 'lb')}
for _, m in ipairs(redis.call('ZRANGE', gk .. 'lb', off, off + lim - 1)) do
  local id = string.sub(m, skip)
  local h = redis.call('HMGET', gk .. 'u:' .. id, 'username', 'score')
  out[#out + 1] = id
  out[#out + 1] = h[1] or ''
  out[#out + 1] = h[2] or '0'
end
return out
`)

// beginScript allocates a generation above every one allocated and above
// the live one (after a FLUSHALL the counter restarts), and names it the
// one being built. It returns the new generation and the one it replaced
// as being built ("" if none). KEYS: live, building, seq.
var beginScript = redis.NewScript(`
local live = tonumber(redis.call('GET', KEYS[1]) or '0')
local n = redis.call('INCR', KEYS[3])
if n <= live then
  n = live + 1
  redis.call('SET', KEYS[3], n)
end
local prev = redis.call('GET', KEYS[2]) or ''
redis.call('SET', KEYS[2], n)
return {n, prev}
`)

// commitScript makes the building generation ARGV[1] the live one and
// returns the generation it replaced. KEYS: live, building.
var commitScript = redis.NewScript(`
if redis.call('GET', KEYS[2]) ~= ARGV[1] then
  return redis.error_reply('NOTBUILDING generation ' .. ARGV[1] .. ' is not being built')
end
local old = redis.call('GET', KEYS[1]) or '0'
redis.call('SET', KEYS[1], ARGV[1])
redis.call('DEL', KEYS[2])
return old
`)

// abortScript stops building generation ARGV[1]. KEYS: live, building.
var abortScript = redis.NewScript(`
if redis.call('GET', KEYS[2]) ~= ARGV[1] then
  return redis.error_reply('NOTBUILDING generation ' .. ARGV[1] .. ' is not being built')
end
redis.call('DEL', KEYS[2])
return 1
`)
