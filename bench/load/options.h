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

// Where requests go: http://HOST[:PORT][/PATH[?QUERY]] (IPv4 and IPv6 literals, or a name
// resolved once before the run).
struct Target {
    std::string host;  // as written in the URL, without brackets
    uint16_t port = 80;
    std::string path = "/";  // path and query, as sent in the request line
    sockaddr_storage addr{};
    socklen_t addr_len = 0;
};

struct LoadOptions {
    Target target;
    std::string url;
    unsigned threads = 2;       // -t: load threads, each with its own ring, pinned to a CPU
    unsigned connections = 10;  // -c: spread over the threads (at least one each)
    double duration_s = 10;     // -d: 10, 10s, 500ms, 2m, 1h
    uint64_t max_requests = 0;  // -n: stop once this many responses arrived (0: no limit)
    unsigned pipeline = 1;      // --pipeline: requests written at once on a connection
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
};

// Parses `args` (without the program name). Reads the --body file and resolves the host.
Result<LoadOptions> parse_load_options(const std::vector<std::string>& args);

// Parses a duration: a number with an optional unit (ms, s, m, h; seconds when none).
Result<double> parse_duration(std::string_view text);

// The request as written on the wire: request line, Host (unless -H gives one), the -H headers in
// order, Content-Length when there is a body (unless -H gives one), then the body.
std::string build_request(const LoadOptions& options);

// The --help text.
const char* load_usage() noexcept;

}  // namespace nexure::load
