// LoadOptions: what one nexload run does, and the command line that sets it (flags familiar to
// wrk and wrk2 users). Parsing never exits or prints: errors name the flag and what is wrong.
#pragma once

#include <sys/socket.h>

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "alloc/result.h"

namespace nexure::load {

// Where requests go: http://HOST[:PORT][/PATH[?QUERY]] or ws://... (IPv4 and IPv6 literals, or a
// name resolved once before the run).
struct Target {
    std::string host;  // as written in the URL, without brackets
    uint16_t port = 80;
    std::string path = "/";  // path and query, as sent in the request line
    sockaddr_storage addr{};
    socklen_t addr_len = 0;
};

// WebSocket runs (--ws, --ws-fanout, or a ws:// URL): see bench/load/README.md.
enum class WsMode : uint8_t {
    kOff,     // HTTP
    kEcho,    // each connection sends messages and waits for their echoes
    kFanout,  // one publisher at -R messages/s, -c subscribers count what the server fans out
};

struct WsOptions {
    WsMode mode = WsMode::kOff;
    size_t size = 32;     // --size: payload bytes of each message
    bool binary = false;  // --binary: binary messages (default: text)
};

struct LoadOptions {
    Target target;
    std::string url;
    unsigned threads = 2;       // -t: load threads, each with its own ring, pinned to a CPU
    unsigned connections = 10;  // -c: spread over the threads (at least one each)
    double duration_s = 10;     // -d: 10, 10s, 500ms, 2m, 1h
    uint64_t max_requests = 0;  // -n: stop once this many responses arrived (0: no limit)
    unsigned pipeline = 1;      // --pipeline: requests written at once on a connection;
                                // --depth (WebSocket echo): messages in flight per connection
    double rate = 0;            // -R: constant request rate over all connections (0: closed loop)
    std::string method = "GET";               // -m
    std::vector<std::string> headers;         // -H "Name: value", in order
    std::string body;                         // --body FILE: its contents
    std::string body_path;                    //   and where they came from
    double timeout_s = 2;                     // --timeout: a response later than this is an error
    bool latency = false;                     // --latency: print the percentile distribution
    std::string json_path;                    // --json FILE: the report as JSON
    bool pin = true;                          // --no-pin: leave threads to the scheduler
    int progress = -1;                        // --progress / --no-progress; -1: when stderr is a tty
    WsOptions ws;
};

// Parses `args` (without the program name). Reads the --body file and resolves the host.
Result<LoadOptions> parse_load_options(const std::vector<std::string>& args);

// Parses a duration: a number with an optional unit (ms, s, m, h; seconds when none).
Result<double> parse_duration(std::string_view text);

// The request as written on the wire: request line, Host (unless -H gives one), the -H headers in
// order, Content-Length when there is a body (unless -H gives one), then the body.
std::string build_request(const LoadOptions& options);

// The WebSocket opening handshake (RFC 6455 §4.1) with `key` as Sec-WebSocket-Key: GET of the
// URL's path, Host (unless -H gives one), Upgrade, Connection, the key, version 13, then the -H
// headers in order (an Origin or Sec-WebSocket-Protocol, say).
std::string build_ws_handshake(const LoadOptions& options, std::string_view key);

// The --help text.
const char* load_usage() noexcept;

}  // namespace nexure::load
