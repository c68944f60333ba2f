-- KEYS: stream, counts. ARGV: id, job_id, count, worker, delay_ms.
if not held(KEYS[1], KEYS[2], ARGV[1], ARGV[2], ARGV[3], ARGV[4]) then return 0 end
redis.call('XCLAIM', KEYS[1], G, READY, 0, ARGV[1], 'TIME', int(now_ms() + tonumber(ARGV[5]) - H), 'JUSTID')
forget(KEYS[1], ARGV[4])
return 1
