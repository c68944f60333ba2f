-- KEYS: stream, counts. ARGV: id, job_id, count, worker, lease_ms.
if not held(KEYS[1], KEYS[2], ARGV[1], ARGV[2], ARGV[3], ARGV[4]) then return 0 end
redis.call('XCLAIM', KEYS[1], G, ARGV[4], 0, ARGV[1], 'TIME', int(now_ms() + tonumber(ARGV[5]) - H), 'JUSTID')
return 1
