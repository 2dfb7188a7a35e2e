-- wrk script: each request carries the next of the benchmark's tokens, so
-- requests spread over all users. MODE: get, put, or mix (9 GET : 1 PUT).

local tokens = {}
for line in io.lines(os.getenv("TOKENS")) do
  tokens[#tokens + 1] = line
end
local mode = os.getenv("MODE") or "get"
local counter = 0

request = function()
  counter = counter + 1
  local headers = { ["Authorization"] = "Bearer " .. tokens[(counter % #tokens) + 1] }
  if mode == "put" or (mode == "mix" and counter % 10 == 0) then
    headers["Content-Type"] = "application/json"
    return wrk.format("PUT", "/me/quote", headers, '{"quote": "Benchmark quote ' .. counter .. '"}')
  end
  return wrk.format("GET", "/me/quote", headers)
end

done = function(summary, latency, requests)
  local failed = summary.errors.status + summary.errors.connect + summary.errors.read
    + summary.errors.write + summary.errors.timeout
  io.write(string.format("RESULT %d %d %d %d %d %d\n", summary.requests, summary.duration,
    latency:percentile(50), latency:percentile(99), latency:percentile(99.9), failed))
end
