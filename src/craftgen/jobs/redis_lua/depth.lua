-- KEYS: one stream per priority. Returns now, then (visible, in flight, oldest visible id) each.
local out = {now_ms()}
for s = 1, #KEYS do
  local stream = KEYS[s]
  local summary = redis.call('XPENDING', stream, G)
  local pending, last_pending = summary[1], summary[3]
  local visible_pending, oldest, cursor = 0, '', '-'
  repeat
    local page = redis.call('XPENDING', stream, G, 'IDLE', int(H), cursor, '+', 1000)
    if #page > 0 then
      if oldest == '' then oldest = page[1][1] end
      cursor = '(' .. page[#page][1]
    end
    visible_pending = visible_pending + #page
  until #page < 1000
  -- Acked entries are deleted, so whatever the stream holds beyond the PEL is undelivered.
  local undelivered = math.max(0, redis.call('XLEN', stream) - pending)
  if oldest == '' and undelivered > 0 then
    local first = redis.call('XRANGE', stream, last_pending and ('(' .. last_pending) or '-', '+', 'COUNT', 1)
    if #first > 0 then oldest = first[1][1] end
  end
  out[#out + 1] = visible_pending + undelivered
  out[#out + 1] = pending - visible_pending
  out[#out + 1] = oldest
end
return out
