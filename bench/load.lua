-- The side-by-side's one load client (wrk, run by bench/load.py): the same requests
-- for CodeB, the bare endpoints and the peer. With `-t N -c N` each wrk thread owns
-- one keep-alive connection, so each connection follows its own work:
--
--   wrk ... -s load.lua <url> -- refresh <file> <threads>
--       line i of <file> is connection i's refresh token; every answer's new
--       refresh_token is the next request's (one rotating chain per connection)
--   wrk ... -s load.lua <url> -- code <file> <threads> <redirect_uri>
--       lines "<code> <verifier>"; connection i spends lines i, i+N, i+2N, ... once each
--   wrk ... -s load.lua <url> -- get
--       the URL's GET as it stands (discovery; userinfo with its -H Authorization)
--
-- The client's credentials and Host come as wrk's -H headers. Each thread counts its
-- answers outside 2xx and keeps the first one; `done` prints one line for
-- bench/load.py: "side-by-side: {json}".

local threads = {}

function setup(thread)
  table.insert(threads, thread)
  thread:set("id", #threads)
end

local function urlencode(s)
  return (s:gsub("[^%w%-%._~]", function(c) return string.format("%%%02X", string.byte(c)) end))
end

local function form_post(fields)
  local parts = {}
  for _, pair in ipairs(fields) do
    table.insert(parts, pair[1] .. "=" .. urlencode(pair[2]))
  end
  -- wrk.format takes these headers instead of wrk's -H ones: a fresh table with both
  local headers = { ["Content-Type"] = "application/x-www-form-urlencoded" }
  for name, value in pairs(wrk.headers) do headers[name] = value end
  return wrk.format("POST", nil, headers, table.concat(parts, "&"))
end

function init(args)
  mode = args[1]
  non2xx, exhausted, first_error = 0, 0, nil
  if mode == "refresh" then
    local n = 0
    for line in io.lines(args[2]) do
      n = n + 1
      if n == id then token = line end
    end
    if token == nil then error("no refresh token for connection " .. id) end
  elseif mode == "code" then
    local total, n = tonumber(args[3]), 0
    codes, at = {}, 1
    redirect_uri = args[4]
    for line in io.lines(args[2]) do
      if n % total == id - 1 then table.insert(codes, line) end
      n = n + 1
    end
  end
end

function request()
  if mode == "refresh" then
    return form_post({ { "grant_type", "refresh_token" }, { "refresh_token", token } })
  elseif mode == "code" then
    local line = codes[at]
    if line == nil then
      -- Out of pre-issued codes: never spend one twice. The figure is marked invalid;
      -- the connection stops.
      exhausted = 1
      wrk.thread:stop()
      return wrk.format("GET", "/.well-known/openid-configuration")
    end
    local code, verifier = line:match("^(%S+) (%S+)$")
    return form_post({ { "grant_type", "authorization_code" }, { "code", code },
                       { "code_verifier", verifier }, { "redirect_uri", redirect_uri } })
  end
  return wrk.format()
end

function response(status, headers, body)
  if mode == "code" then at = at + 1 end
  if status < 200 or status > 299 then
    non2xx = non2xx + 1
    if first_error == nil then first_error = status .. " " .. string.sub(body or "", 1, 160) end
    return
  end
  if mode == "refresh" then
    local next_token = body:match('"refresh_token"%s*:%s*"([^"]+)"')
    if next_token then
      token = next_token
    else
      non2xx = non2xx + 1 -- a 2xx without a new refresh token ends the chain: count it as failed
      if first_error == nil then first_error = status .. " without a refresh_token" end
    end
  end
end

local function quoted(s)
  return '"' .. s:gsub('[%c"\\]', function(c) return string.format("\\u%04x", string.byte(c)) end) .. '"'
end

function done(summary, latency, requests)
  local bad, out_of_codes, first = 0, 0, nil
  for _, thread in ipairs(threads) do
    bad = bad + thread:get("non2xx")
    out_of_codes = out_of_codes + thread:get("exhausted")
    first = first or thread:get("first_error")
  end
  local e = summary.errors
  io.write(string.format(
    'side-by-side: {"requests": %d, "duration_us": %d, "non2xx": %d, "socket_errors": %d, ' ..
    '"timeouts": %d, "exhausted": %d, "first_error": %s, "p50_us": %d, "p99_us": %d}\n',
    summary.requests, summary.duration, bad, e.connect + e.read + e.write, e.timeout, out_of_codes,
    first and quoted(first) or "null", latency:percentile(50), latency:percentile(99)))
end
