"""The Redis store's server-side scripts (Lua, run by EVALSHA): each one is a single
atomic step on the server, so a check and the write it guards happen in one round trip
with no other client's command in between (CONC-1).

A session is a hash with the fields ``d`` (data, compact JSON), ``v`` (version),
``c`` / ``u`` (created / updated, epoch ms), ``e`` (expiry in epoch ms, ``''`` =
never), ``o`` (owner, ``''`` = unowned) and ``g`` (generation: a namespace counter
value drawn when the record was written by ``create`` or an import, so that a
compare-and-set can tell a session from a later one with the same id and version).

Conventions:

* Numbers cross the boundary as decimal strings. Lua numbers are doubles and turn
  into strings with ``%.14g``, which would write 2**53 - 1 or a year-9999 timestamp
  in exponent form; every number a script writes goes through ``int()`` below.
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
local function num(text)
  local n = tonumber(text)
  if n == nil then error({err = 'CORRUPT stored metadata is not a number'}) end
  return n
end
local function live(e, now) return e == '' or num(e) > now end
local function visible(stored, owner) return owner == '' or stored == '' or stored == owner end
local function set_expiry(key, index, id, e, pxat)
  if e == '' then redis.call('ZREM', index, id) else redis.call('ZADD', index, e, id) end
  if pxat == '' then redis.call('PERSIST', key) else redis.call('PEXPIREAT', key, pxat) end
end
"""

#: KEYS record, ids, expiry, generation; ARGV id, data, now, expires, owner, pxat.
#: Returns 1, or 0 when a live session has the id (CREATE-3).
CREATE = """
local now = num(ARGV[3])
local r = redis.call('HMGET', KEYS[1], 'v', 'e')
if r[1] and live(r[2], now) then return 0 end
local gen = redis.call('INCR', KEYS[4])
redis.call('HSET', KEYS[1], 'd', ARGV[2], 'v', '1', 'c', ARGV[3], 'u', ARGV[3],
           'e', ARGV[4], 'o', ARGV[5], 'g', int(gen))
redis.call('ZADD', KEYS[2], 0, ARGV[1])
if r[1] or ARGV[4] ~= '' then set_expiry(KEYS[1], KEYS[3], ARGV[1], ARGV[4], ARGV[6]) end
return 1
"""

#: KEYS record, expiry; ARGV id, now, expected version, data, expires ('' keeps it),
#: owner, pxat. Returns {0} not found, {-1, version} conflict, or
#: {1, version, created, expires, owner}.
REPLACE = """
local now = num(ARGV[2])
local r = redis.call('HMGET', KEYS[1], 'v', 'c', 'e', 'o')
if not r[1] or not live(r[3], now) or not visible(r[4], ARGV[6]) then return {0} end
local v = num(r[1])
if ARGV[3] ~= '' and num(ARGV[3]) ~= v then return {-1, v} end
local e = r[3]
if ARGV[5] == '' then
  redis.call('HSET', KEYS[1], 'd', ARGV[4], 'v', int(v + 1), 'u', ARGV[2])
else
  e = ARGV[5]
  redis.call('HSET', KEYS[1], 'd', ARGV[4], 'v', int(v + 1), 'u', ARGV[2], 'e', e)
  set_expiry(KEYS[1], KEYS[2], ARGV[1], e, ARGV[7])
end
return {1, v + 1, r[2], e, r[4]}
"""

#: update's conditional write. KEYS record, expiry; ARGV id, now, generation, version
#: (both as read), data, expires ('' keeps it), owner, pxat. Returns {0} not found,
#: {-1} changed since the read (the caller reads again), or as REPLACE.
UPDATE = """
local now = num(ARGV[2])
local r = redis.call('HMGET', KEYS[1], 'v', 'c', 'e', 'o', 'g')
if not r[1] or not live(r[3], now) or not visible(r[4], ARGV[7]) then return {0} end
if r[5] ~= ARGV[3] or r[1] ~= ARGV[4] then return {-1} end
local v = num(r[1])
local e = r[3]
if ARGV[6] == '' then
  redis.call('HSET', KEYS[1], 'd', ARGV[5], 'v', int(v + 1), 'u', ARGV[2])
else
  e = ARGV[6]
  redis.call('HSET', KEYS[1], 'd', ARGV[5], 'v', int(v + 1), 'u', ARGV[2], 'e', e)
  set_expiry(KEYS[1], KEYS[2], ARGV[1], e, ARGV[8])
end
return {1, v + 1, r[2], e, r[4]}
"""

#: KEYS record, expiry; ARGV id, now, expires, owner, pxat. Returns {0} not found,
#: {-2} data not framed as a JSON object (corrupt: nothing changed), or
#: {1, data, version, created, updated, old expires, owner, generation}.
TOUCH = """
local now = num(ARGV[2])
local r = redis.call('HMGET', KEYS[1], 'd', 'v', 'c', 'u', 'e', 'o', 'g')
if not r[2] or not live(r[5], now) or not visible(r[6], ARGV[4]) then return {0} end
local d = r[1]
if not d or string.byte(d, 1) ~= 123 or string.byte(d, -1) ~= 125 then return {-2} end
redis.call('HSET', KEYS[1], 'e', ARGV[3])
set_expiry(KEYS[1], KEYS[2], ARGV[1], ARGV[3], ARGV[5])
return {1, d, r[2], r[3], r[4], r[5], r[6], r[7]}
"""

#: Undo a touch whose data then failed to decode (ERR-2), if nothing wrote meanwhile.
#: KEYS record, expiry; ARGV id, generation, expires set by the touch, old expires, pxat.
UNTOUCH = """
local r = redis.call('HMGET', KEYS[1], 'e', 'g')
if r[2] ~= ARGV[2] or r[1] ~= ARGV[3] then return 0 end
redis.call('HSET', KEYS[1], 'e', ARGV[4])
set_expiry(KEYS[1], KEYS[2], ARGV[1], ARGV[4], ARGV[5])
return 1
"""

#: KEYS record, ids, expiry; ARGV id, now, expected version, owner.
#: Returns {0} none live, {-1, version} conflict, {1} deleted.
DELETE = """
local now = num(ARGV[2])
local r = redis.call('HMGET', KEYS[1], 'v', 'e', 'o')
if not r[1] or not live(r[2], now) or not visible(r[3], ARGV[4]) then return {0} end
if ARGV[3] ~= '' and num(ARGV[3]) ~= num(r[1]) then return {-1, num(r[1])} end
redis.call('DEL', KEYS[1])
redis.call('ZREM', KEYS[2], ARGV[1])
redis.call('ZREM', KEYS[3], ARGV[1])
return {1}
"""

#: KEYS ids; ARGV prefix, cursor ('' = start), limit, now, scan budget.
#: Returns {next cursor or '', then id, d, v, c, u, e, o per live session}: ids after
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
  local r = redis.call('HMGET', ARGV[1] .. 's:' .. id, 'd', 'v', 'c', 'u', 'e', 'o')
  if r[2] and live(r[5], now) then
    out[#out + 1] = id
    for i = 1, 6 do out[#out + 1] = r[i] end
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

#: KEYS ids; ARGV prefix, now. Every live session (id, d, v, c, u, e, o each), in id
#: order: one atomic read, so the export is the store at one instant (EXPORT-1).
EXPORT = """
local now = num(ARGV[2])
local out = {}
for _, id in ipairs(redis.call('ZRANGE', KEYS[1], 0, -1)) do
  local r = redis.call('HMGET', ARGV[1] .. 's:' .. id, 'd', 'v', 'c', 'u', 'e', 'o')
  if r[2] and live(r[5], now) then
    out[#out + 1] = id
    for i = 1, 6 do out[#out + 1] = r[i] end
  end
end
return out
"""

#: KEYS ids, snapshot list; ARGV prefix, now, ms the list may live. Copies every live
#: session (id, d, v, c, u, e, o each, in id order) into the list in one atomic step
#: (EXPORT-1), for the client to read a chunk at a time (EXPORT-2); returns how many.
SNAPSHOT = """
local now = num(ARGV[2])
local n = 0
local rows = {}
local function flush()
  if #rows > 0 then redis.call('RPUSH', KEYS[2], unpack(rows)); rows = {} end
end
for _, id in ipairs(redis.call('ZRANGE', KEYS[1], 0, -1)) do
  local r = redis.call('HMGET', ARGV[1] .. 's:' .. id, 'd', 'v', 'c', 'u', 'e', 'o')
  if r[2] and live(r[5], now) then
    rows[#rows + 1] = id
    for i = 1, 6 do rows[#rows + 1] = r[i] end
    n = n + 1
    if #rows >= 700 then flush() end
  end
end
flush()
if n > 0 then redis.call('PEXPIRE', KEYS[2], ARGV[3]) end
return n
"""

#: Apply a staged import (IMPORT-2..IMPORT-6) in one atomic step. KEYS ids, expiry,
#: generation, staging list (7 entries per record: id, d, v, c, u, e, o); ARGV prefix,
#: now, on_conflict, physical-expiry grace in ms ('' = none). Returns {total, expired,
#: then index, id of each live record whose id is live in the store}; with clashes under
#: "error" nothing is written. The staging list is deleted either way.
IMPORT = """
local now = num(ARGV[2])
local n = redis.call('LLEN', KEYS[4])
local batch = 7 * 1000
local expired = 0
local clashes = {}
local clashing = {}
local function each(fn)
  for first = 0, n - 1, batch do
    local rows = redis.call('LRANGE', KEYS[4], first, first + batch - 1)
    for i = 1, #rows, 7 do fn((first + i - 1) / 7, rows, i) end
  end
end
each(function(index, rows, i)
  if not live(rows[i + 5], now) then expired = expired + 1; return end
  local id = rows[i]
  local r = redis.call('HMGET', ARGV[1] .. 's:' .. id, 'v', 'e')
  if r[1] and live(r[2], now) then
    clashing[id] = true
    clashes[#clashes + 1] = index
    clashes[#clashes + 1] = id
  end
end)
if ARGV[3] ~= 'error' or #clashes == 0 then
  each(function(index, rows, i)
    local id = rows[i]
    local e = rows[i + 5]
    if not live(e, now) or (clashing[id] and ARGV[3] ~= 'replace') then return end
    local key = ARGV[1] .. 's:' .. id
    local gen = redis.call('INCR', KEYS[3])
    redis.call('HSET', key, 'd', rows[i + 1], 'v', rows[i + 2], 'c', rows[i + 3],
               'u', rows[i + 4], 'e', e, 'o', rows[i + 6], 'g', int(gen))
    redis.call('ZADD', KEYS[1], 0, id)
    local pxat = ''
    if e ~= '' and ARGV[4] ~= '' then pxat = int(num(e) + num(ARGV[4])) end
    set_expiry(key, KEYS[2], id, e, pxat)
  end)
end
redis.call('DEL', KEYS[4])
local out = {n / 7, expired}
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
        "export": EXPORT,
        "snapshot": SNAPSHOT,
        "import": IMPORT,
    }.items()
}
