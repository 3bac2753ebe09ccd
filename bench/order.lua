-- wrk script: POST /orders for one hot menu with a bearer token (set by bench/run.py).
--
-- Counting: wrk runs response() in each thread's own Lua state and done() in the main one,
-- so a global table filled in response() is empty in done(). Each thread counts in its own
-- state; setup() keeps the thread objects and done() reads every thread's table back with
-- thread:get() (wrk copies tables between states), so the STATUSES line is the real count.
--
-- BENCH_LIMIT (optional): stop after that many responses in all (split across the threads),
-- for runs over a fixed number of orders instead of a fixed time (bench/run.py interrupts
-- wrk once every thread has stopped; BENCH_THREADS must be wrk's -t).
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer " .. os.getenv("BENCH_TOKEN")
wrk.body = '{"items":[{"menu_id":' .. os.getenv("BENCH_MENU") .. ',"quantity":1}],"address":"Seoul Gangnam-gu 123-45","phone":"010-1234-5678"}'

local threads = {}
local limit_total = tonumber(os.getenv("BENCH_LIMIT") or "")
local thread_count = tonumber(os.getenv("BENCH_THREADS") or "1")

-- Main state: one call per thread before the run; hands each thread its share of the limit.
setup = function(thread)
  table.insert(threads, thread)
  if limit_total then
    local share = math.floor(limit_total / thread_count)
    if #threads == 1 then
      share = share + limit_total % thread_count
    end
    thread:set("limit", share)
  end
end

-- Thread state from here on.
statuses = {}
answered = 0
limit = nil

response = function(status, headers, body)
  statuses[status] = (statuses[status] or 0) + 1
  answered = answered + 1
  if limit and answered >= limit then
    wrk.thread:stop()
  end
end

-- Main state again: gather every thread's counts.
done = function(summary, latency, requests)
  local total = {}
  for _, thread in ipairs(threads) do
    local counted = thread:get("statuses") or {}
    for status, count in pairs(counted) do
      total[status] = (total[status] or 0) + count
    end
  end
  local parts = {}
  for status, count in pairs(total) do
    table.insert(parts, string.format('"%d": %d', status, count))
  end
  io.stderr:write("STATUSES {" .. table.concat(parts, ", ") .. "}\n")
end
