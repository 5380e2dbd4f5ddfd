-- wrk script: replays pre-signed requests from the file named by env BENCH_REQUESTS.
-- Each line: path \t header-name:value|header-name:value \t body. Threads interleave.
local requests = {}
local counter = 0
local step = 1

local function split(text, sep)
  local out = {}
  for piece in string.gmatch(text, "([^" .. sep .. "]*)") do table.insert(out, piece) end
  return out
end

function setup(thread)
  thread:set("thread_index", counter)
  counter = counter + 1
end

function init(args)
  for line in io.lines(os.getenv("BENCH_REQUESTS")) do
    local tab1 = string.find(line, "\t", 1, true)
    local tab2 = string.find(line, "\t", tab1 + 1, true)
    local path = string.sub(line, 1, tab1 - 1)
    local headers = {}
    for _, pair in ipairs(split(string.sub(line, tab1 + 1, tab2 - 1), "|")) do
      local colon = string.find(pair, ":", 1, true)
      if colon then headers[string.sub(pair, 1, colon - 1)] = string.sub(pair, colon + 1) end
    end
    table.insert(requests, wrk.format("POST", path, headers, string.sub(line, tab2 + 1)))
  end
  step = tonumber(os.getenv("BENCH_THREADS") or "1")
  index = (thread_index or 0) + 1
end

function request()
  local r = requests[index]
  index = index + step
  if index > #requests then index = ((index - 1) % step) + 1 end
  return r
end
