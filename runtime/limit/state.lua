-- The state of one counter key, shared by the scripts: its value is seven
-- doubles (struct format F): rs, rp, rc, per (the rate's window start,
-- previous and current counts, window length) and qs, qc, period (the
-- quota's window start, count, window length). Times and lengths are in
-- microseconds; a part never counted under the key is zeros. Doubles hold
-- every count and time below 2^53 exactly.
local F = '<ddddddd'

-- load returns key's state, zeros for a key that does not exist.
local function load(key)
  local v = redis.call('GET', key)
  if not v then return {0, 0, 0, 0, 0, 0, 0} end
  return {struct.unpack(F, v)}
end

-- store writes s to key, to expire a second after the later of its parts'
-- last windows with a count ends (as of now), after which a request finds
-- the state a new key has.
local function store(key, s, now)
  local zero = 0
  if s[3] > 0 then zero = s[1] + 2 * s[4] elseif s[2] > 0 then zero = s[1] + s[4] end
  if s[5] > 0 then zero = math.max(zero, s[5] + s[7]) end
  local ms = math.max(math.ceil((zero - now) / 1000), 0) + 1000
  redis.call('SET', key, struct.pack(F, unpack(s, 1, 7)), 'PX', ms)
end

-- servertime returns the server's clock in microseconds.
local function servertime()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000000 + tonumber(t[2])
end

-- giveback takes out of s the g units of a lease made on the windows
-- starting at lrs (of length lper) and lqs (0 where the lease had no such
-- limit), wherever they are still counted: never used, they are as if
-- never counted. It reports whether it took any.
local function giveback(s, g, lrs, lper, lqs)
  if g <= 0 then return false end
  local took = false
  if lper > 0 then
    if s[1] == lrs and s[3] > 0 then
      s[3], took = math.max(s[3] - g, 0), true
    elseif s[1] == lrs + lper and s[2] > 0 then
      s[2], took = math.max(s[2] - g, 0), true
    end
  end
  if lqs > 0 and s[5] == lqs and s[6] > 0 then s[6], took = math.max(s[6] - g, 0), true end
  return took
end
