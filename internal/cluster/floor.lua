-- Raises the hash's field "floor" to a follower's version unless it holds
-- as much already.
--
-- KEYS[1]  the hash: fields "version", "snapshot" and "floor"
-- ARGV[1]  the version: decimal digits, no leading zero
-- ARGV[2]  the channel: a raised floor is published on it, so that the
--          followers look at Redis at once
--
-- Reply: the floor afterwards. Versions are compared as digit strings,
-- as in publish.lua.
local cur = redis.call('HGET', KEYS[1], 'floor')
local v = ARGV[1]
if cur and (#cur > #v or (#cur == #v and cur >= v)) then
	return cur
end
redis.call('HSET', KEYS[1], 'floor', v)
redis.call('PUBLISH', ARGV[2], v)
return v
