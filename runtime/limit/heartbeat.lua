-- Announces node ARGV[1] as live for ARGV[2] milliseconds in the sorted
-- set KEYS[1] (member: node, score: when its announcement ends, on the
-- server's clock), forgets the nodes whose announcement has ended, and
-- returns the number of live nodes.
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local ttl = tonumber(ARGV[2])
redis.call('ZADD', KEYS[1], now + ttl, ARGV[1])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
if redis.call('PTTL', KEYS[1]) < ttl then redis.call('PEXPIRE', KEYS[1], ttl) end
return redis.call('ZCARD', KEYS[1])
