-- Stores a snapshot of the bindings unless Redis holds the same or a newer
-- version, and then publishes its version.
--
-- KEYS[1]  the hash: fields "version" and "snapshot"
-- ARGV[1]  the version: decimal digits, no leading zero
-- ARGV[2]  the snapshot
-- ARGV[3]  the channel
--
-- Reply: the version the hash holds afterwards (ARGV[1] when stored).
-- Versions are compared as digit strings, longer being greater, so no
-- precision is lost to Lua's doubles.
local cur = redis.call('HGET', KEYS[1], 'version')
local v = ARGV[1]
if cur and (#cur > #v or (#cur == #v and cur >= v)) then
	return cur
end
redis.call('HSET', KEYS[1], 'version', v, 'snapshot', ARGV[2])
redis.call('PUBLISH', ARGV[3], v)
return v
