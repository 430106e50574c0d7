-- Stores a snapshot of the bindings unless Redis holds the same or a newer
-- version, or a follower raised the floor above it, and then publishes
-- its version.
--
-- KEYS[1]  the hash: fields "version", "snapshot" and "floor"
-- ARGV[1]  the version: decimal digits, no leading zero
-- ARGV[2]  the snapshot
-- ARGV[3]  the channel
--
-- Reply: the version the hash holds afterwards (ARGV[1] when stored), or
-- the floor when that is above ARGV[1]: either way, what the publisher
-- must publish above. Versions are compared as digit strings, longer
-- being greater, so no precision is lost to Lua's doubles.
local v = ARGV[1]
local cur = redis.call('HGET', KEYS[1], 'version')
if cur and (#cur > #v or (#cur == #v and cur >= v)) then
	return cur
end
local floor = redis.call('HGET', KEYS[1], 'floor')
if floor and (#floor > #v or (#floor == #v and floor > v)) then
	return floor
end
redis.call('HSET', KEYS[1], 'version', v, 'snapshot', ARGV[2])
redis.call('PUBLISH', ARGV[3], v)
return v
