-- wrk script: POSTs one push body on every request, and writes a JSON summary.
--
--   BENCH_BODY=push.txt BENCH_WRK_JSON=out.json wrk -t2 -c16 -d10s -s push.lua http://127.0.0.1:PORT/metrics/job/bench
--
-- The request is set once at load time (no request() hook), so wrk sends a pre-built
-- request and its own cost per request stays small.

local body_file = assert(os.getenv("BENCH_BODY"), "set BENCH_BODY to the body file")
local f = assert(io.open(body_file, "rb"))
wrk.method = "POST"
wrk.body = f:read("*a")
f:close()
wrk.headers["Content-Type"] = "text/plain; version=0.0.4; charset=utf-8"

-- No response() hook: defining one makes wrk hand every response to Lua, which costs
-- client CPU on a 2-core machine. Non-2xx/3xx answers are counted in errors.status.

function done(summary, latency, requests)
  local out_file = os.getenv("BENCH_WRK_JSON")
  local e = summary.errors
  local json = string.format(
    '{"requests": %d, "duration_us": %d, "bytes": %d, ' ..
    '"errors": {"connect": %d, "read": %d, "write": %d, "status": %d, "timeout": %d}, ' ..
    '"latency_us": {"mean": %.1f, "stdev": %.1f, "min": %d, "max": %d, "p50": %d, "p90": %d, "p99": %d, "p999": %d}}\n',
    summary.requests, summary.duration, summary.bytes,
    e.connect, e.read, e.write, e.status, e.timeout,
    latency.mean, latency.stdev, latency.min, latency.max,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency:percentile(99.9))
  if out_file then
    local out = assert(io.open(out_file, "w"))
    out:write(json)
    out:close()
  else
    io.write(json)
  end
end
