-- muldivceil returns ceil(a * b / c) exactly for integers 0 <= a < 2^53,
-- 0 <= b <= c < 2^52. Lua numbers are doubles: a product of 2^52 or more
-- may be inexact, so it is then taken bit by bit of a, keeping
-- a * b = q * c + r with 0 <= r < c (every intermediate below 2^53).
local function muldivceil(a, b, c)
  local p = a * b
  if p < 4503599627370496 then
    local q = math.floor(p / c)
    local r = p - q * c
    if r < 0 then
      q, r = q - 1, r + c
    elseif r >= c then
      q, r = q + 1, r - c
    end
    if r > 0 then q = q + 1 end
    return q
  end
  local bq, br = 0, b
  if b >= c then bq, br = 1, b - c end
  local bits, x = {}, a
  while x > 0 do
    local bit = x % 2
    bits[#bits + 1] = bit
    x = (x - bit) / 2
  end
  local q, r = 0, 0
  for i = #bits, 1, -1 do
    q, r = q * 2, r * 2
    if r >= c then q, r = q + 1, r - c end
    if bits[i] == 1 then
      q, r = q + bq, r + br
      if r >= c then q, r = q + 1, r - c end
    end
  end
  if r > 0 then q = q + 1 end
  return q
end
-- take

-- Counts one request: the arithmetic of the in-memory limiter, in whole
-- microseconds. KEYS[1] holds the rate's state (fields rs, rp, rc: window
-- start, previous and current counts), KEYS[2] the quota's (qs, qc: window
-- start and count); they may be one key. ARGV: now (microseconds, "" for
-- the server's TIME), rate requests and per (per 0: no rate), quota max
-- and period (period 0: no quota). Returns rate allowed, quota allowed
-- (1 or 0), now, rs, rp, rc, qs, qc after the request.
local now = tonumber(ARGV[1])
if not now then
  local t = redis.call('TIME')
  now = tonumber(t[1]) * 1000000 + tonumber(t[2])
end
local n, per = tonumber(ARGV[2]), tonumber(ARGV[3])
local qmax, period = tonumber(ARGV[4]), tonumber(ARGV[5])

-- One key holding both limits (a policy's rate and quota) is read,
-- written and kept alive in one call each.
local one = per > 0 and period > 0 and KEYS[1] == KEYS[2]
local both
if one then both = redis.call('HMGET', KEYS[1], 'rs', 'rp', 'rc', 'qs', 'qc') end

local rs, rp, rc, rateOK = 0, 0, 0, true
if per > 0 then
  local v = both or redis.call('HMGET', KEYS[1], 'rs', 'rp', 'rc')
  rs, rp, rc = tonumber(v[1]) or 0, tonumber(v[2]) or 0, tonumber(v[3]) or 0
  local d = now - rs
  if d >= per then
    rs, rp, rc = rs + per, rc, 0
    if d - per >= per then rp = 0 end
  end
  if rp == 0 and rc == 0 then rs = now end
  local elapsed = now - rs
  if elapsed < 0 then elapsed = 0 end
  rateOK = muldivceil(rp, per - elapsed, per) + rc + 1 <= n
end

local qs, qc, quotaOK = 0, 0, true
if period > 0 then
  local qsv, qcv
  if one then qsv, qcv = both[4], both[5] else
    local v = redis.call('HMGET', KEYS[2], 'qs', 'qc')
    qsv, qcv = v[1], v[2]
  end
  qs, qc = tonumber(qsv) or 0, tonumber(qcv) or 0
  if qs == 0 or now >= qs + period then qs, qc = now, 0 end
  quotaOK = qc < qmax
end

if rateOK and quotaOK then
  if per > 0 then rc = rc + 1 end
  if period > 0 then qc = qc + 1 end
end

-- keep extends key's life to at least ms milliseconds from now.
local function keep(key, ms)
  if redis.call('PTTL', key) < ms then redis.call('PEXPIRE', key, ms) end
end
-- A key is kept a second past the end of its last window with a count,
-- after which a request finds the state a new key has.
local rateMs, quotaMs
if per > 0 then
  local zero = rs
  if rc > 0 then zero = rs + 2 * per elseif rp > 0 then zero = rs + per end
  rateMs = math.ceil((zero - now) / 1000) + 1000
end
if period > 0 then quotaMs = math.ceil((qs + period - now) / 1000) + 1000 end
if one then
  -- Both limits' state is all the key holds: its life is the longer one.
  redis.call('HSET', KEYS[1], 'rs', rs, 'rp', rp, 'rc', rc, 'qs', qs, 'qc', qc)
  redis.call('PEXPIRE', KEYS[1], math.max(rateMs, quotaMs))
else
  if per > 0 then
    redis.call('HSET', KEYS[1], 'rs', rs, 'rp', rp, 'rc', rc)
    keep(KEYS[1], rateMs)
  end
  if period > 0 then
    redis.call('HSET', KEYS[2], 'qs', qs, 'qc', qc)
    keep(KEYS[2], quotaMs)
  end
end

local function flag(ok) if ok then return 1 end return 0 end
return {flag(rateOK), flag(quotaOK), now, rs, rp, rc, qs, qc}
