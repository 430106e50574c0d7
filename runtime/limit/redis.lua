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
-- microseconds. KEYS[1] holds the rate's state, KEYS[2] the quota's; they
-- are one key when one policy gives both limits, or only one applies.
-- ARGV: now (microseconds, "" for the server's TIME), rate requests and
-- per (per 0: no rate), quota max and period (period 0: no quota); then
-- the lease: at most how many units to reserve beyond this request (0:
-- none; only asked with one key), the live nodes, and the margin (µs) a
-- lease must outlive; then, for KEYS[1] and KEYS[2] in turn, the unused
-- units of the node's lease on it to give back, with that lease's rate
-- window start and length and quota window start (0 where it had none).
-- Returns rate allowed, quota allowed (1 or 0), now, rs, rp, rc, qs, qc
-- after the request, and the units reserved for the lease (counted in rc
-- and qc).
local now = tonumber(ARGV[1]) or servertime()
local n, per = tonumber(ARGV[2]), tonumber(ARGV[3])
local qmax, period = tonumber(ARGV[4]), tonumber(ARGV[5])
local want, nodes, margin = tonumber(ARGV[6]), tonumber(ARGV[7]), tonumber(ARGV[8])

-- givebackArgs takes out of s the lease given back in ARGV[i..i+3].
local function givebackArgs(s, i)
  giveback(s, tonumber(ARGV[i]), tonumber(ARGV[i + 1]), tonumber(ARGV[i + 2]), tonumber(ARGV[i + 3]))
end

local r = load(KEYS[1])
givebackArgs(r, 9)
local q = r
if KEYS[2] ~= KEYS[1] then
  q = load(KEYS[2])
  givebackArgs(q, 13)
end

local rateOK, weighted = true, 0
if per > 0 then
  local rs, rp, rc = r[1], r[2], r[3]
  local d = now - rs
  if d >= per then
    rs, rp, rc = rs + per, rc, 0
    if d - per >= per then rp = 0 end
  end
  if rp == 0 and rc == 0 then rs = now end
  local elapsed = math.max(now - rs, 0)
  weighted = muldivceil(rp, per - elapsed, per)
  rateOK = weighted + rc + 1 <= n
  r[1], r[2], r[3], r[4] = rs, rp, rc, per
end

local quotaOK = true
if period > 0 then
  if q[5] == 0 or now >= q[5] + period then q[5], q[6] = now, 0 end
  quotaOK = q[6] < qmax
  q[7] = period
end

-- A lease of k units in all, this request's included: k = min(want + 1,
-- floor(room / (2 nodes))), where room is what both limits allow before
-- this request, when the lease outlives the margin before the earlier of
-- the windows' ends.
local extra = 0
if rateOK and quotaOK and want > 0 then
  local room, ends = math.huge, math.huge
  if per > 0 then room, ends = n - weighted - r[3], r[1] + per end
  if period > 0 then room, ends = math.min(room, qmax - q[6]), math.min(ends, q[5] + period) end
  if ends - now > margin then
    extra = math.max(math.min(want, math.floor(room / (2 * nodes)) - 1), 0)
  end
end

if rateOK and quotaOK then
  if per > 0 then r[3] = r[3] + 1 + extra end
  if period > 0 then q[6] = q[6] + 1 + extra end
end

store(KEYS[1], r, now)
if KEYS[2] ~= KEYS[1] then store(KEYS[2], q, now) end

local function flag(ok) if ok then return 1 end return 0 end
return {flag(rateOK), flag(quotaOK), now, r[1], r[2], r[3], q[5], q[6], extra}
