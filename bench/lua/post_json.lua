-- wrk script: POST one JSON body on every request and check every answer.
--
-- Environment (read by each of wrk's Lua states):
--   BENCH_BODY_FILE      the request body, sent as application/json
--   BENCH_EXPECTED_FILE  the expected response body; whitespace is ignored in the comparison
--
-- done() prints one line `BENCH_RESULT {json}` with wrk's counters, the latency distribution
-- (microseconds) and this script's own counts: responses seen, non-200 answers, wrong bodies,
-- and the first few offending answers.

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

local body_file = assert(os.getenv("BENCH_BODY_FILE"), "BENCH_BODY_FILE is not set")
local expected_file = assert(os.getenv("BENCH_EXPECTED_FILE"), "BENCH_EXPECTED_FILE is not set")

wrk.method = "POST"
wrk.body = read_file(body_file)
wrk.headers["Content-Type"] = "application/json"

local expected = squeeze(read_file(expected_file))
local max_samples = 3
local threads = {}

function setup(thread)
  table.insert(threads, thread)
end

function init(args)
  responses = 0
  bad_status = 0
  mismatches = 0
  samples = ""
  sample_count = 0
end

local function keep_sample(status, body)
  if sample_count < max_samples then
    sample_count = sample_count + 1
    samples = samples .. "\n" .. status .. " " .. string.sub(body or "", 1, 300)
  end
end

function response(status, headers, body)
  responses = responses + 1
  if status ~= 200 then
    bad_status = bad_status + 1
    keep_sample(status, body)
  elseif body ~= expected and squeeze(body) ~= expected then
    mismatches = mismatches + 1
    keep_sample(status, body)
  end
end

function done(summary, latency, requests)
  local seen, non_200, wrong = 0, 0, 0
  local samples_json = {}
  for _, thread in ipairs(threads) do
    seen = seen + thread:get("responses")
    non_200 = non_200 + thread:get("bad_status")
    wrong = wrong + thread:get("mismatches")
    for line in string.gmatch(thread:get("samples"), "[^\n]+") do
      table.insert(samples_json, json_string(line))
    end
  end

  local percentiles = {}
  for _, p in ipairs({ 50, 75, 90, 99, 99.9 }) do
    table.insert(percentiles, string.format('"p%s": %.0f', tostring(p), latency:percentile(p)))
  end

  local errors = summary.errors
  io.write(string.format(
    '\nBENCH_RESULT {"duration_us": %.0f, "requests": %.0f, "bytes": %.0f, '
      .. '"errors": {"connect": %d, "read": %d, "write": %d, "status": %d, "timeout": %d}, '
      .. '"latency_us": {"min": %.0f, "max": %.0f, "mean": %.1f, "stdev": %.1f, %s}, '
      .. '"responses": %d, "non_200": %d, "mismatches": %d, "samples": [%s]}\n',
    summary.duration, summary.requests, summary.bytes,
    errors.connect, errors.read, errors.write, errors.status, errors.timeout,
    latency.min, latency.max, latency.mean, latency.stdev, table.concat(percentiles, ", "),
    seen, non_200, wrong, table.concat(samples_json, ", ")
  ))
end
