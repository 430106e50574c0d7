-- quota_add

-- Adds ARGV[1] requests, counted on a node while Redis was unreachable, to
-- the quota window of KEYS[1] whose period is ARGV[2] microseconds; when
-- there is no current window, one starts now holding them. Returns the
-- window's count.
local now = servertime()
local add, period = tonumber(ARGV[1]), tonumber(ARGV[2])
local s = load(KEYS[1])
if s[5] == 0 or now >= s[5] + period then
  s[5], s[6] = now, add
else
  s[6] = s[6] + add
end
s[7] = period
store(KEYS[1], s, now)
return s[6]
