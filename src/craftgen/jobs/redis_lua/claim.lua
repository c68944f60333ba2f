-- KEYS: ids, counts, dead, then one stream per priority in claim order.
-- ARGV: worker, max_items, lease_ms, max_deliveries, batch key ('' for any), then the priorities
-- in the same order. SCAN_LIMIT and PULL are defined by a line queue_redis.py puts before this file.
local ids, counts, dead = KEYS[1], KEYS[2], KEYS[3]
local worker, max_items, lease, max_deliveries = ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4])
local now = now_ms()
local batch_key, taken, scanned = nil, {}, 0
if ARGV[5] ~= '' then batch_key = ARGV[5] end
local function field(flat, name)
  for i = 1, #flat, 2 do if flat[i] == name then return flat[i + 1] end end
end
for s = 4, #KEYS do
  local stream, priority = KEYS[s], ARGV[s + 2]
  local cursor, pulled_all = '-', false
  while #taken < max_items and scanned < SCAN_LIMIT do
    local page = redis.call('XPENDING', stream, G, 'IDLE', int(H), cursor, '+', PULL)
    if #page == 0 then
      -- 1. Visible entries in the PEL are older than new ones: only now pull new ones in, as
      --    visible entries held by nobody (a pull is not a delivery).
      if pulled_all then break end
      local read = redis.call('XREADGROUP', 'GROUP', G, READY, 'COUNT', PULL, 'STREAMS', stream, '>')
      if not read then break end
      for _, entry in ipairs(read[1][2]) do
        redis.call('XCLAIM', stream, G, READY, 0, entry[1], 'TIME', 0, 'JUSTID')
      end
      pulled_all = #read[1][2] < PULL
    end
    for _, pending in ipairs(page) do
      local id, owner = pending[1], pending[2]
      cursor = '(' .. id
      scanned = scanned + 1
      local entry = redis.call('XRANGE', stream, id, id)[1]
      if entry == nil then
        redis.call('XACK', stream, G, id)  -- deleted behind our back: nothing to hand out
      else
        local job_id, key = field(entry[2], 'job_id'), field(entry[2], 'batch_key')
        if batch_key == nil or key == batch_key then
          local count = tonumber(redis.call('HGET', counts, job_id) or '0')
          if count >= max_deliveries then
            -- 2. Handed out too often (it keeps killing workers): dead-letter it instead.
            redis.call('XADD', dead, 'MAXLEN', '~', 100000, '*', 'job_id', job_id, 'batch_key', key,
              'priority', priority, 'deliveries', count, 'reason', 'delivered ' .. count .. ' times')
            redis.call('XACK', stream, G, id)
            redis.call('XDEL', stream, id)
            redis.call('HDEL', ids, job_id)
            redis.call('HDEL', counts, job_id)
            forget(stream, owner)
          else
            -- 3. The first visible entry sets the batch key (unless one was asked for); lease it
            --    and its matches.
            batch_key = key
            count = redis.call('HINCRBY', counts, job_id, 1)
            redis.call('XCLAIM', stream, G, worker, 0, id, 'TIME', int(now + lease - H), 'JUSTID')
            if owner ~= worker then forget(stream, owner) end
            taken[#taken + 1] = {job_id, id, count, key, priority}
          end
        end
      end
      if #taken >= max_items or scanned >= SCAN_LIMIT then break end
    end
  end
end
return taken
