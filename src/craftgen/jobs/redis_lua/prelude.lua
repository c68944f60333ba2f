-- Helpers every script starts with; times are Redis server time, in ms.
-- G (the consumer group), READY (the consumer holding entries no worker holds) and H (the
-- horizon, ms) are defined by a line queue_redis.py puts before this file.
local function now_ms()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end
local function int(n) return string.format('%d', n) end
-- A consumer that holds nothing is deleted, so dead workers' names do not pile up in the group.
local function forget(stream, consumer)
  if consumer ~= READY and #redis.call('XPENDING', stream, G, '-', '+', 1, consumer) == 0 then
    redis.call('XGROUP', 'DELCONSUMER', stream, G, consumer)
  end
end
-- Only the current holder (same worker, same handout) may renew, ack or release.
local function held(stream, counts, id, job_id, count, worker)
  local p = redis.call('XPENDING', stream, G, id, id, 1)
  if #p == 0 or p[1][2] ~= worker then return false end
  return redis.call('HGET', counts, job_id) == count
end
