-- KEYS: stream, ids. ARGV: job_id, batch_key, priority.
if redis.call('HEXISTS', KEYS[2], ARGV[1]) == 1 then return 0 end
local id = redis.call('XADD', KEYS[1], '*', 'job_id', ARGV[1], 'batch_key', ARGV[2])
redis.call('HSET', KEYS[2], ARGV[1], ARGV[3] .. '/' .. id)
return 1
