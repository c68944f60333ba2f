-- KEYS: stream, counts, ids. ARGV: job_id, the ids entry ("priority/entry id") read before.
if redis.call('HGET', KEYS[3], ARGV[1]) ~= ARGV[2] then return 0 end
local id = string.match(ARGV[2], '/(.*)$')
local p = redis.call('XPENDING', KEYS[1], G, id, id, 1)
redis.call('XACK', KEYS[1], G, id)
redis.call('XDEL', KEYS[1], id)
redis.call('HDEL', KEYS[2], ARGV[1])
redis.call('HDEL', KEYS[3], ARGV[1])
if #p > 0 then forget(KEYS[1], p[1][2]) end
return 1
