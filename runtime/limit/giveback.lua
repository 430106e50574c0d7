-- giveback

-- Gives back to KEYS[1] the units of a lease its node forgot before they
-- were used: ARGV[1] units, of a lease made on the rate window starting at
-- ARGV[2] (of length ARGV[3]) and the quota window starting at ARGV[4]
-- (microseconds, 0 where it had none); ARGV[5] is now (microseconds, ""
-- for the server's TIME). A key whose windows have moved on is left as
-- it is. Returns 1 when units were given back, else 0.
local s = load(KEYS[1])
if not giveback(s, tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4])) then
  return 0
end
store(KEYS[1], s, tonumber(ARGV[5]) or servertime())
return 1
