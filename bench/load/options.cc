#include "bench/load/options.h"

#include <netdb.h>

#include <cerrno>
#include <charconv>
#include <cmath>
#include <cstring>
#include <fstream>
#include <iterator>
#include <sstream>

namespace nexure::load {

namespace {

constexpr unsigned kMaxThreads = 1024;
constexpr unsigned kMaxConnections = 1'000'000;
constexpr unsigned kMaxPipeline = 4096;
constexpr double kMaxDurationS = 366.0 * 24 * 3600;
constexpr size_t kMaxWsSize = size_t{16} << 20;
// A fan-out message carries its sequence number and its intended send time (16 hex digits each).
constexpr size_t kMinFanoutSize = 32;

Error usage_error(std::string message) { return Error{EINVAL, std::move(message)}; }

bool is_tchar(char c) noexcept {
    if ((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')) return true;
    return std::strchr("!#$%&'*+-.^_`|~", c) != nullptr && c != '\0';
}

bool is_token(std::string_view s) noexcept {
    if (s.empty()) return false;
    for (char c : s) {
        if (!is_tchar(c)) return false;
    }
    return true;
}

Result<unsigned> parse_count(std::string_view flag, std::string_view text, unsigned max) {
    unsigned v = 0;
    auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
    if (ec != std::errc() || end != text.data() + text.size() || v == 0 || v > max) {
        return usage_error(std::string(flag) + " wants a whole number from 1 to " +
                           std::to_string(max) + ", not '" + std::string(text) + "'");
    }
    return v;
}

// A non-negative decimal number (strtod would also take hex, inf and nan).
bool parse_number(std::string_view text, double* out) noexcept {
    if (text.empty() || text.front() == '-' || text.front() == '+') return false;
    auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), *out,
                                     std::chars_format::fixed);
    return ec == std::errc() && end == text.data() + text.size() && std::isfinite(*out);
}

// Splits http://HOST[:PORT][/PATH] (or ws://...) into the target's fields and resolves HOST.
Result<void> parse_url(std::string_view url, Target* target) {
    size_t scheme = 0;
    for (std::string_view s : {std::string_view("http://"), std::string_view("ws://")}) {
        if (url.substr(0, s.size()) == s) scheme = s.size();
    }
    if (scheme == 0) {
        if (url.find("://") != std::string_view::npos) {
            return usage_error("only http:// and ws:// URLs are supported (no TLS), not '" +
                               std::string(url) + "'");
        }
        return usage_error("the URL must look like http://HOST[:PORT]/PATH, not '" +
                           std::string(url) + "'");
    }
    std::string_view rest = url.substr(scheme);
    const size_t slash = rest.find_first_of("/?");
    std::string_view authority = rest.substr(0, slash);
    std::string path = slash == std::string_view::npos ? "/" : std::string(rest.substr(slash));
    if (path.front() == '?') path.insert(path.begin(), '/');
    if (const size_t hash = path.find('#'); hash != std::string::npos) path.resize(hash);
    for (char c : path) {
        if (static_cast<unsigned char>(c) <= 0x20 || c == 0x7f) {
            return usage_error("the URL's path has a space or control character: '" +
                               std::string(url) + "' (percent-encode it)");
        }
    }
    if (authority.find('@') != std::string_view::npos) {
        return usage_error("user information in the URL is not supported: '" + std::string(url) +
                           "' (send an Authorization header with -H)");
    }

    std::string_view host = authority;
    std::string_view port_text;
    if (!authority.empty() && authority.front() == '[') {
        const size_t close = authority.find(']');
        if (close == std::string_view::npos) {
            return usage_error("the URL's IPv6 address has no closing ']': '" + std::string(url) +
                               "'");
        }
        host = authority.substr(1, close - 1);
        std::string_view after = authority.substr(close + 1);
        if (!after.empty()) {
            if (after.front() != ':') {
                return usage_error("unexpected text after ']' in '" + std::string(url) + "'");
            }
            port_text = after.substr(1);
        }
    } else if (const size_t colon = authority.rfind(':'); colon != std::string_view::npos) {
        host = authority.substr(0, colon);
        port_text = authority.substr(colon + 1);
    }
    if (host.empty()) return usage_error("the URL has no host: '" + std::string(url) + "'");
    uint16_t port = 80;
    if (!port_text.empty() || authority.back() == ':') {
        unsigned p = 0;
        auto [end, ec] = std::from_chars(port_text.data(), port_text.data() + port_text.size(), p);
        if (port_text.empty() || ec != std::errc() ||
            end != port_text.data() + port_text.size() || p == 0 || p > 65535) {
            return usage_error("the URL's port must be a number from 1 to 65535, not '" +
                               std::string(port_text) + "'");
        }
        port = static_cast<uint16_t>(p);
    }

    addrinfo hints{};
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_NUMERICSERV;
    addrinfo* found = nullptr;
    const std::string host_z(host);
    const std::string port_z = std::to_string(port);
    if (const int rc = getaddrinfo(host_z.c_str(), port_z.c_str(), &hints, &found); rc != 0) {
        return Error{EHOSTUNREACH,
                     "cannot resolve '" + host_z + "': " + gai_strerror(rc) +
                         " (use an address such as 127.0.0.1, or a name in /etc/hosts)"};
    }
    std::memcpy(&target->addr, found->ai_addr, found->ai_addrlen);
    target->addr_len = found->ai_addrlen;
    freeaddrinfo(found);
    target->host = host_z;
    target->port = port;
    target->path = std::move(path);
    return {};
}

bool has_header(const std::vector<std::string>& headers, std::string_view name) noexcept {
    for (const std::string& h : headers) {
        const size_t colon = h.find(':');
        if (colon != name.size()) continue;
        bool same = true;
        for (size_t i = 0; i < colon && same; ++i) {
            char a = h[i];
            char b = name[i];
            if (a >= 'A' && a <= 'Z') a = static_cast<char>(a - 'A' + 'a');
            if (b >= 'A' && b <= 'Z') b = static_cast<char>(b - 'A' + 'a');
            same = a == b;
        }
        if (same) return true;
    }
    return false;
}

}  // namespace

Result<double> parse_duration(std::string_view text) {
    std::string_view number = text;
    double scale = 1;
    const auto ends_with = [&](std::string_view suffix) {
        return number.size() > suffix.size() && number.substr(number.size() - suffix.size()) ==
                                                    suffix;
    };
    if (ends_with("ms")) {
        scale = 0.001;
        number.remove_suffix(2);
    } else if (ends_with("s")) {
        number.remove_suffix(1);
    } else if (ends_with("m")) {
        scale = 60;
        number.remove_suffix(1);
    } else if (ends_with("h")) {
        scale = 3600;
        number.remove_suffix(1);
    }
    double v = 0;
    if (!parse_number(number, &v) || v * scale > kMaxDurationS) {
        return usage_error("'" + std::string(text) +
                           "' is not a duration (a number with an optional unit: 500ms, 10s, "
                           "2m, 1h)");
    }
    return v * scale;
}

Result<LoadOptions> parse_load_options(const std::vector<std::string>& args) {
    LoadOptions o;
    bool have_url = false;
    bool ws_flag = false;     // --ws or --ws-fanout given
    std::string ws_only;      // a WebSocket-only flag that was given
    std::string http_only;    // an HTTP-only flag that was given
    for (size_t i = 0; i < args.size(); ++i) {
        std::string flag = args[i];
        std::string value;
        bool has_value = false;
        if (flag.size() > 2 && flag[0] == '-' && flag[1] == '-') {
            if (const size_t eq = flag.find('='); eq != std::string::npos) {
                value = flag.substr(eq + 1);
                flag.resize(eq);
                has_value = true;
            }
        } else if (flag.size() > 2 && flag[0] == '-' && flag[1] != '-') {
            value = flag.substr(2);  // -c64, as getopt allows
            flag.resize(2);
            has_value = true;
        }
        const auto take = [&]() -> Result<std::string> {
            if (has_value) return value;
            if (i + 1 >= args.size()) return usage_error(flag + " needs a value");
            return args[++i];
        };
        const auto no_value = [&]() -> Result<void> {
            if (has_value) return usage_error(flag + " takes no value");
            return {};
        };

        if (flag == "-t" || flag == "--threads") {
            auto v = take();
            if (!v) return v.error();
            auto n = parse_count(flag, v.value(), kMaxThreads);
            if (!n) return n.error();
            o.threads = n.value();
        } else if (flag == "-c" || flag == "--connections") {
            auto v = take();
            if (!v) return v.error();
            auto n = parse_count(flag, v.value(), kMaxConnections);
            if (!n) return n.error();
            o.connections = n.value();
        } else if (flag == "-d" || flag == "--duration") {
            auto v = take();
            if (!v) return v.error();
            auto d = parse_duration(v.value());
            if (!d) return Error{EINVAL, flag + ": " + d.error().message};
            if (d.value() <= 0) return usage_error(flag + " must be more than zero");
            o.duration_s = d.value();
        } else if (flag == "-n" || flag == "--requests") {
            auto v = take();
            if (!v) return v.error();
            const std::string& t = v.value();
            uint64_t n = 0;
            auto [end, ec] = std::from_chars(t.data(), t.data() + t.size(), n);
            if (ec != std::errc() || end != t.data() + t.size() || n == 0) {
                return usage_error(flag + " wants a number of requests above zero, not '" + t +
                                   "'");
            }
            o.max_requests = n;
        } else if (flag == "-R" || flag == "--rate") {
            auto v = take();
            if (!v) return v.error();
            double r = 0;
            if (!parse_number(v.value(), &r) || r <= 0 || r > 1e9) {
                return usage_error(flag + " wants requests per second above zero, not '" +
                                   v.value() + "'");
            }
            o.rate = r;
        } else if (flag == "-H" || flag == "--header") {
            auto v = take();
            if (!v) return v.error();
            const std::string& h = v.value();
            const size_t colon = h.find(':');
            if (colon == std::string::npos || !is_token(std::string_view(h).substr(0, colon))) {
                return usage_error(flag + " wants 'Name: value' with a valid field name, not '" +
                                   h + "'");
            }
            for (char c : h) {
                if (c == '\r' || c == '\n' || c == '\0') {
                    return usage_error(flag + " '" + h.substr(0, colon) +
                                       "': a header value cannot hold CR, LF or NUL");
                }
            }
            o.headers.push_back(h);
        } else if (flag == "-m" || flag == "--method") {
            auto v = take();
            if (!v) return v.error();
            if (!is_token(v.value())) {
                return usage_error(flag + " wants a method name such as GET or POST, not '" +
                                   v.value() + "'");
            }
            o.method = v.value();
            http_only = flag;
        } else if (flag == "--pipeline") {
            auto v = take();
            if (!v) return v.error();
            auto n = parse_count(flag, v.value(), kMaxPipeline);
            if (!n) return n.error();
            o.pipeline = n.value();
            http_only = flag;
        } else if (flag == "--ws") {
            if (auto r = no_value(); !r) return r.error();
            o.ws.mode = WsMode::kEcho;
            ws_flag = true;
        } else if (flag == "--ws-fanout") {
            if (auto r = no_value(); !r) return r.error();
            o.ws.mode = WsMode::kFanout;
            ws_flag = true;
        } else if (flag == "--size") {
            auto v = take();
            if (!v) return v.error();
            const std::string& t = v.value();
            size_t n = 0;
            auto [end, ec] = std::from_chars(t.data(), t.data() + t.size(), n);
            if (ec != std::errc() || end != t.data() + t.size() || n > kMaxWsSize) {
                return usage_error(flag + " wants a message size in bytes from 0 to " +
                                   std::to_string(kMaxWsSize) + ", not '" + t + "'");
            }
            o.ws.size = n;
            ws_only = flag;
        } else if (flag == "--binary") {
            if (auto r = no_value(); !r) return r.error();
            o.ws.binary = true;
            ws_only = flag;
        } else if (flag == "--depth") {
            auto v = take();
            if (!v) return v.error();
            auto n = parse_count(flag, v.value(), kMaxPipeline);
            if (!n) return n.error();
            o.pipeline = n.value();
            ws_only = flag;
        } else if (flag == "--body") {
            auto v = take();
            if (!v) return v.error();
            std::ifstream in(v.value(), std::ios::binary);
            if (!in) {
                return Error{ENOENT, "--body: cannot read '" + v.value() + "': " +
                                         std::strerror(errno)};
            }
            std::ostringstream contents;
            contents << in.rdbuf();
            if (in.bad()) return Error{EIO, "--body: error reading '" + v.value() + "'"};
            o.body = contents.str();
            o.body_path = v.value();
            http_only = flag;
        } else if (flag == "--timeout") {
            auto v = take();
            if (!v) return v.error();
            auto d = parse_duration(v.value());
            if (!d) return Error{EINVAL, flag + ": " + d.error().message};
            if (d.value() <= 0) return usage_error(flag + " must be more than zero");
            o.timeout_s = d.value();
        } else if (flag == "--latency") {
            if (auto r = no_value(); !r) return r.error();
            o.latency = true;
        } else if (flag == "--json") {
            auto v = take();
            if (!v) return v.error();
            if (v.value().empty()) return usage_error("--json needs a file name");
            o.json_path = v.value();
        } else if (flag == "--no-pin") {
            if (auto r = no_value(); !r) return r.error();
            o.pin = false;
        } else if (flag == "--progress") {
            if (auto r = no_value(); !r) return r.error();
            o.progress = 1;
        } else if (flag == "--no-progress") {
            if (auto r = no_value(); !r) return r.error();
            o.progress = 0;
        } else if (!flag.empty() && flag[0] == '-' && flag != "-") {
            return usage_error("unknown flag '" + args[i] + "' (nexload --help lists them)");
        } else {
            if (have_url) {
                return usage_error("more than one URL: '" + o.url + "' and '" + args[i] + "'");
            }
            o.url = args[i];
            have_url = true;
        }
    }
    if (!have_url) return usage_error("no URL given (e.g. nexload -c 64 -d 5s http://127.0.0.1:8080/)");
    if (o.connections < o.threads) {
        return usage_error("-c " + std::to_string(o.connections) + " is fewer connections than -t " +
                           std::to_string(o.threads) + " threads: each thread needs one");
    }
    if (o.url.rfind("ws://", 0) == 0 && !ws_flag) o.ws.mode = WsMode::kEcho;
    if (o.ws.mode == WsMode::kOff && !ws_only.empty()) {
        return usage_error(ws_only + " is for WebSocket runs (--ws, --ws-fanout or a ws:// URL)");
    }
    if (o.ws.mode != WsMode::kOff) {
        if (!http_only.empty()) {
            return usage_error(http_only + " is for HTTP runs, not WebSocket ones" +
                               (http_only == "--pipeline" ? " (use --depth)" : ""));
        }
    }
    if (o.ws.mode == WsMode::kFanout) {
        if (o.rate <= 0) {
            return usage_error("--ws-fanout needs -R: the rate at which the publisher sends");
        }
        if (o.threads != 1) {
            return usage_error("--ws-fanout runs on one thread: give -t 1");
        }
        if (o.max_requests != 0) return usage_error("-n is not supported with --ws-fanout");
        if (o.pipeline != 1) return usage_error("--depth is for --ws echo runs");
        if (o.ws.size < kMinFanoutSize) {
            return usage_error("--ws-fanout messages carry a sequence number and a time stamp: "
                               "--size must be at least " + std::to_string(kMinFanoutSize));
        }
    }
    if (auto r = parse_url(o.url, &o.target); !r) return r.error();
    return o;
}

namespace {

// The Host field (unless -H gives one): the URL's host and port.
void append_host(const LoadOptions& options, std::string& r) {
    if (has_header(options.headers, "host")) return;
    r += "Host: ";
    const bool v6 = options.target.host.find(':') != std::string::npos;
    if (v6) r += '[';
    r += options.target.host;
    if (v6) r += ']';
    if (options.target.port != 80) {
        r += ':';
        r += std::to_string(options.target.port);
    }
    r += "\r\n";
}

}  // namespace

std::string build_ws_handshake(const LoadOptions& options, std::string_view key) {
    std::string r;
    r.reserve(256);
    r += "GET ";
    r += options.target.path;
    r += " HTTP/1.1\r\n";
    append_host(options, r);
    r += "Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: ";
    r += key;
    r += "\r\nSec-WebSocket-Version: 13\r\n";
    for (const std::string& h : options.headers) {
        r += h;
        r += "\r\n";
    }
    r += "\r\n";
    return r;
}

std::string build_request(const LoadOptions& options) {
    std::string r;
    r.reserve(128 + options.body.size());
    r += options.method;
    r += ' ';
    r += options.target.path;
    r += " HTTP/1.1\r\n";
    append_host(options, r);
    for (const std::string& h : options.headers) {
        r += h;
        r += "\r\n";
    }
    if (!options.body.empty() && !has_header(options.headers, "content-length") &&
        !has_header(options.headers, "transfer-encoding")) {
        r += "Content-Length: ";
        r += std::to_string(options.body.size());
        r += "\r\n";
    }
    r += "\r\n";
    r += options.body;
    return r;
}

const char* load_usage() noexcept {
    return R"(Usage: nexload [options] http://HOST[:PORT]/PATH
       nexload --ws [options] ws://HOST[:PORT]/PATH
       nexload --ws-fanout -R N [options] ws://HOST[:PORT]/PATH
       nexload merge [--json OUT] [--latency] REPORT.json...

An io_uring HTTP/1.1 and WebSocket load generator. Every response and frame is parsed and
validated.

Load:
  -t, --threads N       threads, each pinned to a CPU of the affinity mask (default 2)
  -c, --connections N   connections, spread over the threads (default 10)
  -d, --duration T      how long to run: 10, 10s, 500ms, 2m, 1h (default 10s)
  -n, --requests N      stop once N responses arrived (default: no limit)
  -R, --rate N          constant rate of N requests/s over all connections, with latency
                        corrected for coordinated omission (default: closed loop)
      --pipeline N      requests written at once per connection (default 1)
      --timeout T       a response later than this is an error (default 2s)
Requests:
  -m, --method M        request method (default GET)
  -H, --header 'N: v'   add a header (repeatable; a Host header replaces the default)
      --body FILE       send FILE's contents as the body (adds Content-Length)
WebSocket (see bench/load/README.md):
      --ws              echo: each connection sends a message and waits for its echo (closed
                        loop), or -R messages/s over all connections (open loop, latency
                        corrected for coordinated omission); a ws:// URL implies it
      --ws-fanout       pub/sub: -c subscribers and one publisher sending -R messages/s; counts
                        what every subscriber receives and its delivery latency (-t 1)
      --size N          message payload in bytes (default 32)
      --binary          binary messages (default: text)
      --depth K         echo: messages in flight per connection (default 1)
Output:
      --latency         print the latency distribution
      --json FILE       write the report as JSON (see bench/load/README.md)
      --progress        print a progress line every second (default: when stderr is a terminal)
      --no-progress     never print it
      --no-pin          do not pin threads to CPUs
  -h, --help            this text
      --version         print nexload's version

merge combines reports of runs made at the same time (on several machines): counts and
histograms add up, the duration is the longest.

Exit status: 0 when the run completed (errors are counted in the report), 1 when it could not
run, 2 for bad usage.
)";
}

}  // namespace nexure::load
