-- wrk script: POST /orders for one hot menu with a bearer token (set by bench/run.py).
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer " .. os.getenv("BENCH_TOKEN")
wrk.body = '{"items":[{"menu_id":' .. os.getenv("BENCH_MENU") .. ',"quantity":1}],"address":"Seoul Gangnam-gu 123-45","phone":"010-1234-5678"}'

local statuses = {}
response = function(status, headers, body)
  statuses[status] = (statuses[status] or 0) + 1
end

done = function(summary, latency, requests)
  local parts = {}
  for status, count in pairs(statuses) do
    table.insert(parts, string.format('"%d": %d', status, count))
  end
  io.stderr:write("STATUSES {" .. table.concat(parts, ", ") .. "}\n")
end
