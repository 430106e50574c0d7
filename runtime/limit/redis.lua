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
-- per (per 0: no rate), quota max and period (period 0: no quota).
-- Returns rate allowed, quota allowed (1 or 0), now, rs, rp, rc, qs, qc
-- after the request.
local now = tonumber(ARGV[1]) or servertime()
local n, per = tonumber(ARGV[2]), tonumber(ARGV[3])
local qmax, period = tonumber(ARGV[4]), tonumber(ARGV[5])

local r = load(KEYS[1])
local q = r
if KEYS[2] ~= KEYS[1] then q = load(KEYS[2]) end

local rateOK = true
if per > 0 then
  local rs, rp, rc = r[1], r[2], r[3]
  local d = now - rs
  if d >= per then
    rs, rp, rc = rs + per, rc, 0
    if d - per >= per then rp = 0 end
  end
  if rp == 0 and rc == 0 then rs = now end
  local elapsed = math.max(now - rs, 0)
  rateOK = muldivceil(rp, per - elapsed, per) + rc + 1 <= n
  r[1], r[2], r[3], r[4] = rs, rp, rc, per
end

local quotaOK = true
if period > 0 then
  if q[5] == 0 or now >= q[5] + period then q[5], q[6] = now, 0 end
  quotaOK = q[6] < qmax
  q[7] = period
end

if rateOK and quotaOK then
  if per > 0 then r[3] = r[3] + 1 end
  if period > 0 then q[6] = q[6] + 1 end
end

store(KEYS[1], r, now)
if KEYS[2] ~= KEYS[1] then store(KEYS[2], q, now) end

local function flag(ok) if ok then return 1 end return 0 end
return {flag(rateOK), flag(quotaOK), now, r[1], r[2], r[3], q[5], q[6]}
