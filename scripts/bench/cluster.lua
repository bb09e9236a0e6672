-- wrk script for scripts/bench/cluster.py: like push.lua (the same body, the same JSON
-- summary), but every request goes to the next of BENCH_GROUPS grouping keys
-- (/metrics/job/bench/shard/<n>), so a consistent-hash router spreads them over its nodes.
--
--   BENCH_BODY=push.txt BENCH_GROUPS=1000 BENCH_WRK_JSON=out.json \
--     wrk -t2 -c16 -d10s -s cluster.lua http://127.0.0.1:PORT

local here = debug.getinfo(1, "S").source:match("^@(.*/)") or "./"
dofile(here .. "push.lua")  -- the body, the headers and done()

local groups = tonumber(os.getenv("BENCH_GROUPS") or "1000")
local prepared = {}
local next_index = 0

-- Every request is formatted once per thread here, so request() only hands out a string
-- and wrk's cost per request stays as low as with push.lua.
function init(args)
  for i = 1, groups do
    prepared[i] = wrk.format("POST", "/metrics/job/bench/shard/" .. i)
  end
  next_index = math.random(groups) - 1
end

function request()
  next_index = next_index % groups + 1
  return prepared[next_index]
end
