-- Adds ARGV[1] requests, counted on a node while Redis was unreachable, to
-- the quota window of KEYS[1] (fields qs, qc as the take script keeps
-- them) whose period is ARGV[2] microseconds; when there is no current
-- window, one starts now holding them. Returns the window's count.
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local period = tonumber(ARGV[2])
local qs = tonumber(redis.call('HGET', KEYS[1], 'qs'))
local qc
if not qs or now >= qs + period then
  qs, qc = now, tonumber(ARGV[1])
  redis.call('HSET', KEYS[1], 'qs', qs, 'qc', qc)
else
  qc = redis.call('HINCRBY', KEYS[1], 'qc', ARGV[1])
end
local ms = math.ceil((qs + period - now) / 1000) + 1000
if redis.call('PTTL', KEYS[1]) < ms then redis.call('PEXPIRE', KEYS[1], ms) end
return qc
