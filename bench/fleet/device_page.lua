-- wrk script: a 50-device page at a random position in a 100,000-device deployment, paced so
-- that each connection waits `pace_ms` between requests (60 connections x 55 ms + latency ~ 1,000 req/s).
local deployment = os.getenv("FLEET_DEPLOYMENT") or "1"
local devices = tonumber(os.getenv("FLEET_DEVICES") or "100000")
local pace_ms = tonumber(os.getenv("FLEET_PACE_MS") or "55")
local token = os.getenv("FLEET_TOKEN") or ""
local headers = {}
if token ~= "" then headers["Authorization"] = "Bearer " .. token end
math.randomseed(os.time())
request = function()
  local cursor = math.random(0, devices - 50)
  return wrk.format("GET", "/api/v1/devices?deployment_id=" .. deployment .. "&limit=50&cursor=" .. cursor, headers)
end
delay = function() return pace_ms end
done = function(summary, latency, requests)
  io.write(string.format("FLEETBENCH p99_ms %.3f\n", latency:percentile(99) / 1000))
  io.write(string.format("FLEETBENCH p50_ms %.3f\n", latency:percentile(50) / 1000))
  io.write(string.format("FLEETBENCH rate %.1f\n", summary.requests / (summary.duration / 1e6)))
  io.write(string.format("FLEETBENCH errors %d\n", summary.errors.status + summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout))
end
