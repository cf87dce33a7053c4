"""The Redis store's server-side scripts (Lua, run by EVALSHA): each one is a single
atomic step on the server, so a check and the write it guards happen in one round trip
with no other client's command in between (CONC-1).

A session is one string: a header line ``VERSION CREATED UPDATED EXPIRES GENERATION
OWNER_BYTES`` (decimal; times in epoch ms, ``EXPIRES`` empty for never), a newline,
the owner (UTF-8, empty = unowned), then the data (compact JSON). One string, so that
``get`` is one ``GET``. The generation is a namespace counter value drawn when the
session was written by ``create`` or an import, so that a compare-and-set can tell a
session from a later one with the same id and version.

Conventions:

* Numbers cross the boundary as decimal strings, and a header's fields stay strings.
  Lua numbers are doubles and turn into strings with ``%.14g``, which would write
  2**53 - 1 or a year-9999 timestamp in exponent form; a number a script computes
  (a version + 1, a generation) is written through ``int()`` below.
* ``now`` is the store's clock, read by the client (LIVE-4): liveness is LIVE-1 at that
  ``now``, never the server's clock.
* ``pxat`` is the physical expiry to set (``''``: none, the key persists). It is only
  ever later than the session's expiry (see the store's docstring).
* Keys a script reaches by id (list, purge, export, import) are built from the
  namespace prefix passed in ARGV; they share the prefix's hash tag, so they hash to
  the same slot as the KEYS given.
"""

from __future__ import annotations

_PRELUDE = """
local function int(n) return string.format('%d', n) end
local function corrupt(why) error({err = 'CORRUPT ' .. why}) end
local function num(text)
  local n = tonumber(text)
  if n == nil then corrupt('stored metadata is not a number') end
  return n
end
-- A stored session as a table (or nil for none): v, c, u, e, g, o as strings, and
-- the data's offset (the data itself is only cut out where it is needed).
local function parse(s)
  if not s then return nil end
  local nl = string.find(s, '\\n', 1, true)
  if not nl then corrupt('stored session has no header') end
  local v, c, u, e, g, n = string.match(string.sub(s, 1, nl - 1),
    '^(%d+) (%d+) (%d+) (%d*) (%d+) (%d+)$')
  if not v then corrupt('stored session header does not parse') end
  n = tonumber(n)
  return {v = v, c = c, u = u, e = e, g = g, o = string.sub(s, nl + 1, nl + n), at = nl + n + 1}
end
local function pack(r, d)
  return r.v .. ' ' .. r.c .. ' ' .. r.u .. ' ' .. r.e .. ' ' .. r.g .. ' ' ..
    string.len(r.o) .. '\\n' .. r.o .. d
end
local function live(e, now) return e == '' or num(e) > now end
local function visible(stored, owner) return owner == '' or stored == '' or stored == owner end
-- Write a session; keep: leave the key's physical expiry as it is, else set pxat ('' none).
local function put(key, value, keep, pxat)
  if keep then redis.call('SET', key, value, 'KEEPTTL')
  else
    redis.call('SET', key, value)
    if pxat ~= '' then redis.call('PEXPIREAT', key, pxat) end
  end
end
local function index_expiry(index, id, e)
  if e == '' then redis.call('ZREM', index, id) else redis.call('ZADD', index, e, id) end
end
"""

#: KEYS record, ids, expiry, generation; ARGV id, data, now, expires, owner, pxat.
#: Returns 1, or 0 when a live session has the id (CREATE-3).
CREATE = """
local now = num(ARGV[3])
local old = parse(redis.call('GET', KEYS[1]))
if old and live(old.e, now) then return 0 end
local gen = int(redis.call('INCR', KEYS[4]))
local r = {v = '1', c = ARGV[3], u = ARGV[3], e = ARGV[4], g = gen, o = ARGV[5]}
put(KEYS[1], pack(r, ARGV[2]), false, ARGV[6])
redis.call('ZADD', KEYS[2], 0, ARGV[1])
if old or ARGV[4] ~= '' then index_expiry(KEYS[3], ARGV[1], ARGV[4]) end
return 1
"""

#: KEYS record, expiry; ARGV id, now, expected version, data, expires ('' keeps it),
#: owner, pxat. Returns {0} not found, {-1, version} conflict, or
#: {1, version, created, expires, owner}.
REPLACE = """
local now = num(ARGV[2])
local r = parse(redis.call('GET', KEYS[1]))
if not r or not live(r.e, now) or not visible(r.o, ARGV[6]) then return {0} end
local v = num(r.v)
if ARGV[3] ~= '' and num(ARGV[3]) ~= v then return {-1, v} end
r.v = int(v + 1)
r.u = ARGV[2]
local keep = ARGV[5] == ''
if not keep then r.e = ARGV[5] end
put(KEYS[1], pack(r, ARGV[4]), keep, ARGV[7])
if not keep then index_expiry(KEYS[2], ARGV[1], r.e) end
return {1, v + 1, r.c, r.e, r.o}
"""

#: update's conditional write. KEYS record, expiry; ARGV id, now, generation, version
#: (both as read), data, expires ('' keeps it), owner, pxat. Returns {0} not found,
#: {-1} changed since the read (the caller reads again), or as REPLACE.
UPDATE = """
local now = num(ARGV[2])
local r = parse(redis.call('GET', KEYS[1]))
if not r or not live(r.e, now) or not visible(r.o, ARGV[7]) then return {0} end
if r.g ~= ARGV[3] or r.v ~= ARGV[4] then return {-1} end
local v = num(r.v)
r.v = int(v + 1)
r.u = ARGV[2]
local keep = ARGV[6] == ''
if not keep then r.e = ARGV[6] end
put(KEYS[1], pack(r, ARGV[5]), keep, ARGV[8])
if not keep then index_expiry(KEYS[2], ARGV[1], r.e) end
return {1, v + 1, r.c, r.e, r.o}
"""

#: KEYS record, expiry; ARGV id, now, expires, owner, pxat. Returns {0} not found,
#: {-2} data not framed as a JSON object (corrupt: nothing changed), or
#: {1, data, version, created, updated, old expires, owner, generation}. The data is
#: checked only for its braces: decoding 64 KiB of JSON here would cost more than the call.
TOUCH = """
local now = num(ARGV[2])
local s = redis.call('GET', KEYS[1])
local r = parse(s)
if not r or not live(r.e, now) or not visible(r.o, ARGV[4]) then return {0} end
local d = string.sub(s, r.at)
if string.byte(d, 1) ~= 123 or string.byte(d, -1) ~= 125 then return {-2} end
local old = r.e
r.e = ARGV[3]
put(KEYS[1], pack(r, d), false, ARGV[5])
index_expiry(KEYS[2], ARGV[1], r.e)
return {1, d, r.v, r.c, r.u, old, r.o, r.g}
"""

#: Undo a touch whose data then failed to decode (ERR-2), if nothing wrote meanwhile.
#: KEYS record, expiry; ARGV id, generation, expires set by the touch, old expires, pxat.
UNTOUCH = """
local s = redis.call('GET', KEYS[1])
local r = parse(s)
if not r or r.g ~= ARGV[2] or r.e ~= ARGV[3] then return 0 end
r.e = ARGV[4]
put(KEYS[1], pack(r, string.sub(s, r.at)), false, ARGV[5])
index_expiry(KEYS[2], ARGV[1], r.e)
return 1
"""

#: KEYS record, ids, expiry; ARGV id, now, expected version, owner.
#: Returns {0} none live, {-1, version} conflict, {1} deleted.
DELETE = """
local now = num(ARGV[2])
local r = parse(redis.call('GET', KEYS[1]))
if not r or not live(r.e, now) or not visible(r.o, ARGV[4]) then return {0} end
if ARGV[3] ~= '' and num(ARGV[3]) ~= num(r.v) then return {-1, num(r.v)} end
redis.call('DEL', KEYS[1])
redis.call('ZREM', KEYS[2], ARGV[1])
redis.call('ZREM', KEYS[3], ARGV[1])
return {1}
"""

#: KEYS ids; ARGV prefix, cursor ('' = start), limit, now, scan budget.
#: Returns {next cursor or '', then id and stored value per live session}: ids after
#: the cursor in byte order, at most ``limit`` live ones among at most ``budget``
#: scanned, so a run of expired, unpurged ids costs one page, not one long script.
LIST = """
local now = num(ARGV[4])
local limit = num(ARGV[3])
local start = '-'
if ARGV[2] ~= '' then start = '(' .. ARGV[2] end
local ids = redis.call('ZRANGEBYLEX', KEYS[1], start, '+', 'LIMIT', 0, ARGV[5])
local out = {''}
local found = 0
local last = nil
for _, id in ipairs(ids) do
  last = id
  local s = redis.call('GET', ARGV[1] .. 's:' .. id)
  local r = parse(s)
  if r and live(r.e, now) then
    out[#out + 1] = id
    out[#out + 1] = s
    found = found + 1
    if found == limit then break end
  end
end
if last and #redis.call('ZRANGEBYLEX', KEYS[1], '(' .. last, '+', 'LIMIT', 0, 1) > 0 then
  out[1] = last
end
return out
"""

#: KEYS ids, expiry; ARGV now. Live sessions: ids held minus those expired at now (LIVE-1).
COUNT = """
return redis.call('ZCARD', KEYS[1]) - redis.call('ZCOUNT', KEYS[2], '-inf', ARGV[1])
"""

#: KEYS ids, expiry; ARGV prefix, now, batch. Removes up to ``batch`` sessions expired at
#: now, found through the expiry index (PURGE-2); returns how many.
PURGE = """
local ids = redis.call('ZRANGEBYSCORE', KEYS[2], '-inf', ARGV[2], 'LIMIT', 0, ARGV[3])
if #ids == 0 then return 0 end
local keys = {}
for i, id in ipairs(ids) do keys[i] = ARGV[1] .. 's:' .. id end
redis.call('DEL', unpack(keys))
redis.call('ZREM', KEYS[1], unpack(ids))
redis.call('ZREM', KEYS[2], unpack(ids))
return #ids
"""

#: KEYS ids, snapshot list; ARGV prefix, now, ms the list may live. Copies every live
#: session (id and stored value each, in id order) into the list in one atomic step
#: (EXPORT-1), for the client to read a chunk at a time (EXPORT-2); returns how many.
SNAPSHOT = """
local now = num(ARGV[2])
local n = 0
local rows = {}
local function flush()
  if #rows > 0 then redis.call('RPUSH', KEYS[2], unpack(rows)); rows = {} end
end
for _, id in ipairs(redis.call('ZRANGE', KEYS[1], 0, -1)) do
  local s = redis.call('GET', ARGV[1] .. 's:' .. id)
  local r = parse(s)
  if r and live(r.e, now) then
    rows[#rows + 1] = id
    rows[#rows + 1] = s
    n = n + 1
    if #rows >= 200 then flush() end
  end
end
flush()
if n > 0 then redis.call('PEXPIRE', KEYS[2], ARGV[3]) end
return n
"""

#: Apply a staged import (IMPORT-2..IMPORT-6) in one atomic step. KEYS ids, expiry,
#: generation, staging list (2 entries per record: id, value as stored, generation 0);
#: ARGV prefix,
#: now, on_conflict, physical-expiry grace in ms ('' = none). Returns {total, expired,
#: then index, id of each live record whose id is live in the store}; with clashes under
#: "error" nothing is written. The staging list is deleted either way.
IMPORT = """
local now = num(ARGV[2])
local n = redis.call('LLEN', KEYS[4])
local batch = 2 * 1000
local expired = 0
local clashes = {}
local clashing = {}
local function each(fn)
  for first = 0, n - 1, batch do
    local rows = redis.call('LRANGE', KEYS[4], first, first + batch - 1)
    for i = 1, #rows, 2 do fn((first + i - 1) / 2, rows[i], rows[i + 1]) end
  end
end
each(function(index, id, s)
  local r = parse(s)
  if not live(r.e, now) then expired = expired + 1; return end
  local stored = parse(redis.call('GET', ARGV[1] .. 's:' .. id))
  if stored and live(stored.e, now) then
    clashing[id] = true
    clashes[#clashes + 1] = index
    clashes[#clashes + 1] = id
  end
end)
if ARGV[3] ~= 'error' or #clashes == 0 then
  each(function(index, id, s)
    local r = parse(s)
    if not live(r.e, now) or (clashing[id] and ARGV[3] ~= 'replace') then return end
    r.g = int(redis.call('INCR', KEYS[3]))
    local pxat = ''
    if r.e ~= '' and ARGV[4] ~= '' then pxat = int(num(r.e) + num(ARGV[4])) end
    put(ARGV[1] .. 's:' .. id, pack(r, string.sub(s, r.at)), false, pxat)
    redis.call('ZADD', KEYS[1], 0, id)
    index_expiry(KEYS[2], id, r.e)
  end)
end
redis.call('DEL', KEYS[4])
local out = {n / 2, expired}
for _, x in ipairs(clashes) do out[#out + 1] = x end
return out
"""

SCRIPTS = {
    name: _PRELUDE + body
    for name, body in {
        "create": CREATE,
        "replace": REPLACE,
        "update": UPDATE,
        "touch": TOUCH,
        "untouch": UNTOUCH,
        "delete": DELETE,
        "list": LIST,
        "count": COUNT,
        "purge": PURGE,
        "snapshot": SNAPSHOT,
        "import": IMPORT,
    }.items()
}
