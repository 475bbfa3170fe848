-- Pipelined HTTP/1.1 load for wrk: every write carries `depth` GET requests back to back.
--
--   wrk -t1 -c64 -d5s -s bench/wrk/pipeline.lua http://127.0.0.1:8080 -- [depth] [path]
--
-- depth: first script argument, else the PIPELINE environment variable, else 16.
-- path:  second script argument, else the PIPELINE_PATH environment variable, else the path of
--        the URL given to wrk when it is not "/", else /plaintext.
--
-- wrk parses the string returned by request() to learn how many requests it holds, waits for
-- that many responses before writing again and counts every response on its own, so the
-- "requests" and "Requests/sec" that wrk reports are responses, not writes.

local batch

local function fail(message)
    io.stderr:write("pipeline.lua: ", message, "\n")
    os.exit(2)
end

function init(args)
    local depth_text = args[1] or os.getenv("PIPELINE") or "16"
    local depth = tonumber(depth_text)
    if depth == nil or depth < 1 or depth ~= math.floor(depth) then
        fail("depth must be a positive integer, got '" .. depth_text .. "'")
    end

    local path = args[2] or os.getenv("PIPELINE_PATH")
    if path == nil or path == "" then
        if wrk.path ~= nil and wrk.path ~= "" and wrk.path ~= "/" then
            path = wrk.path
        else
            path = "/plaintext"
        end
    end
    if path:sub(1, 1) ~= "/" then
        fail("path must start with '/', got '" .. path .. "'")
    end

    batch = string.rep(wrk.format("GET", path), depth)
end

function request()
    return batch
end
