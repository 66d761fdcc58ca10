-- wrk script for the soak: POST one JSON body, count what was sent and every answer by status.
--
-- Environment (read by each of wrk's Lua states):
--   SOAK_BODY_FILE      the request body, sent as application/json
--   SOAK_EXPECTED_FILE  the expected 200 body; whitespace is ignored in the comparison
--
-- request() runs just before wrk writes a request, so `sent` counts requests written; the
-- requests still in flight when wrk's duration ends are sent but never seen answered here.
-- done() prints one line `SOAK_RESULT {json}`: wrk's counters and latency (microseconds), and
-- this script's sent, answers by status class, distinct statuses, wrong bodies and samples.

local function read_file(path)
  local file = assert(io.open(path, "rb"), "cannot open " .. tostring(path))
  local text = file:read("*a")
  file:close()
  return text
end

local function squeeze(text)
  return (string.gsub(text, "%s+", ""))
end

local function json_string(text)
  local escaped = string.gsub(text, '[%c"\\]', function(c)
    return string.format("\\u%04x", string.byte(c))
  end)
  return '"' .. escaped .. '"'
end

wrk.method = "POST"
wrk.body = read_file(assert(os.getenv("SOAK_BODY_FILE"), "SOAK_BODY_FILE is not set"))
wrk.headers["Content-Type"] = "application/json"

local expected = squeeze(read_file(assert(os.getenv("SOAK_EXPECTED_FILE"), "SOAK_EXPECTED_FILE is not set")))
local max_samples = 3
local threads = {}
local classes = { "s2xx", "s3xx", "s4xx", "s5xx", "sother" }

function setup(thread)
  table.insert(threads, thread)
end

function init(args)
  the_request = wrk.format()
  sent = 0
  answered = 0
  ok = 0
  s2xx, s3xx, s4xx, s5xx, sother = 0, 0, 0, 0, 0
  statuses = ""
  seen_status = {}
  mismatches = 0
  samples = ""
  sample_count = 0
end

function request()
  sent = sent + 1
  return the_request
end

local function keep_sample(status, body)
  if sample_count < max_samples then
    sample_count = sample_count + 1
    samples = samples .. "\n" .. status .. " " .. string.sub(body or "", 1, 300)
  end
end

function response(status, headers, body)
  answered = answered + 1
  if status == 200 then
    if body == expected or squeeze(body) == expected then
      ok = ok + 1
    else
      mismatches = mismatches + 1
      keep_sample(status, body)
    end
    s2xx = s2xx + 1
    return
  end
  if status >= 200 and status < 300 then
    s2xx = s2xx + 1
  elseif status >= 300 and status < 400 then
    s3xx = s3xx + 1
  elseif status >= 400 and status < 500 then
    s4xx = s4xx + 1
  elseif status >= 500 and status < 600 then
    s5xx = s5xx + 1
  else
    sother = sother + 1
  end
  if not seen_status[status] then
    seen_status[status] = true
    statuses = statuses .. " " .. status
  end
  keep_sample(status, body)
end

function done(summary, latency, requests)
  local totals = { sent = 0, answered = 0, ok = 0, mismatches = 0 }
  for _, name in ipairs(classes) do
    totals[name] = 0
  end
  local status_set, status_list, samples_json = {}, {}, {}
  for _, thread in ipairs(threads) do
    for name, _ in pairs(totals) do
      totals[name] = totals[name] + thread:get(name)
    end
    for code in string.gmatch(thread:get("statuses"), "%d+") do
      if not status_set[code] then
        status_set[code] = true
        table.insert(status_list, code)
      end
    end
    for line in string.gmatch(thread:get("samples"), "[^\n]+") do
      table.insert(samples_json, json_string(line))
    end
  end
  local counts = {}
  for name, value in pairs(totals) do
    table.insert(counts, string.format('"%s": %d', name, value))
  end
  local errors = summary.errors
  io.write(string.format(
    '\nSOAK_RESULT {"duration_us": %.0f, "requests": %.0f, '
      .. '"errors": {"connect": %d, "read": %d, "write": %d, "status": %d, "timeout": %d}, '
      .. '"latency_us": {"max": %.0f, "mean": %.1f, "p99": %.0f, "p99.9": %.0f}, '
      .. '%s, "other_statuses": [%s], "samples": [%s]}\n',
    summary.duration, summary.requests,
    errors.connect, errors.read, errors.write, errors.status, errors.timeout,
    latency.max, latency.mean, latency:percentile(99), latency:percentile(99.9),
    table.concat(counts, ", "), table.concat(status_list, ", "), table.concat(samples_json, ", ")
  ))
end
