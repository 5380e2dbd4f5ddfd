-- wrk script: replays pre-signed requests from the file named by env BENCH_REQUESTS.
-- Each line: path \t header-name:value|header-name:value \t body. Threads interleave.
-- Counts the answers that say "not saved" (refused: nothing stored) and "Saving…" (stored
-- later, confirmed at response_url) and prints them as "Not saved: N" and "Saving: N".
local requests = {}
local threads = {}
local counter = 0
local step = 1

local function split(text, sep)
  local out = {}
  for piece in string.gmatch(text, "([^" .. sep .. "]*)") do table.insert(out, piece) end
  return out
end

function setup(thread)
  table.insert(threads, thread)
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
  not_saved = 0
  saving = 0
  index = (thread_index or 0) + 1
end

function request()
  local r = requests[index]
  index = index + step
  if index > #requests then index = ((index - 1) % step) + 1 end
  return r
end

function response(status, headers, body)
  if body and string.find(body, "not saved", 1, true) then not_saved = not_saved + 1 end
  if body and string.find(body, "Saving", 1, true) then saving = saving + 1 end
end

function done(summary, latency, requests)
  local refused, later = 0, 0
  for _, thread in ipairs(threads) do
    refused = refused + (thread:get("not_saved") or 0)
    later = later + (thread:get("saving") or 0)
  end
  io.write(string.format("Not saved: %d\nSaving: %d\n", refused, later))
end
