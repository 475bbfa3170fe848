// nexure-server: the example NexureJS server (and the one the benchmarks measure).
//
//   GET /, GET /plaintext   Hello, World!                 text/plain
//   GET /json               {"message":"Hello, World!"}   application/json
//   GET /users/:id          {"id":"<id>"}                 application/json
//   POST /echo              the request body, with the request's Content-Type
//   GET /stream/:bytes      that many bytes of generated data, streamed (never held whole)
//   GET /sse/:count         text/event-stream: `count` events 100 ms apart, then the end
//   GET /delay/:ms          answered after `ms` by a worker timer (deferred)
//   GET /offload/:ms        answered by a thread of a small pool after it sleeps `ms`
//   POST /upload            any body size, streamed and counted: {"bytes":N}
//   GET /co-plaintext       Hello, World! from a coroutine handler that never suspends
//   GET /co-delay/:ms       a coroutine handler: co_await sleep(ms), then answers
//   GET /static/*           with --static DIR: the files of DIR, served by the engine
//                           (net/files/: ETag, 304, Range, precompressed .br/.gz, index.html)
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <thread>

#include "alloc/numa.h"
#include "alloc/send_buffers.h"
#include "examples/cpp/thread_pool.h"
#include "net/files/static_files.h"
#include "net/server.h"

#ifndef NEXURE_MALLOC_NAME
#define NEXURE_MALLOC_NAME "system"
#endif
#ifndef NEXURE_VERSION
#define NEXURE_VERSION "0.0.0"
#endif

namespace {

using nexure::net::Request;
using nexure::net::Response;

void usage(FILE* out) {
    std::fprintf(
        out,
        "usage: nexure-server [options]\n"
        "  --host ADDR            address to listen on (default 127.0.0.1)\n"
        "  --port N               port (default 8080; 0 picks a free one)\n"
        "  --threads N            engine workers (default: one per CPU)\n"
        "  --ring-mode MODE       auto | defer | coop | plain (default auto)\n"
        "  --drain-timeout-ms N   graceful-stop limit for in-flight requests (default 10000)\n"
        "  --idle-timeout-ms N    close connections idle this long (default 60000)\n"
        "  --head-timeout-ms N    deadline for a request head, from its first byte (default "
        "20000)\n"
        "  --body-timeout-ms N    grace period for a request body (default 20000)\n"
        "  --min-body-rate N      bytes per second a body must arrive at after the grace period "
        "(default 500; 0: none)\n"
        "  --send-timeout-ms N    close peers that take none of our output this long (default "
        "60000)\n"
        "  --max-connections N    connections per worker; at the cap accepting pauses (default "
        "%u)\n"
        "  --recv-buffers N       provided receive buffers per worker, a power of two (default: "
        "from the connection budget, %u)\n"
        "  --recv-buffer-size N   bytes per receive buffer (default %u)\n"
        "  --send-buffers N       send slabs per worker (default: from the connection budget, %u)\n"
        "  --send-buffer-size N   bytes per send slab, a multiple of 64 (default %u)\n"
        "  --no-fixed-sends       never register send slabs for fixed-buffer sends\n"
        "  --static DIR           serve the files of DIR at /static/ (GET and HEAD; ETag, 304,\n"
        "                         Range, .br/.gz siblings, index.html; never a listing)\n"
        "  --static-prefix P      mount --static at P instead of /static\n"
        "  --static-max-age N     Cache-Control max-age of static files in seconds (default 0)\n"
        "  --version              print the version and the allocator it was built with\n"
        "  --help                 this text\n",
        nexure::net::ServerConfig{}.max_connections_per_worker,
        nexure::net::ServerConfig{}.recv_buffers(), nexure::net::ServerConfig{}.recv_buffer_size,
        nexure::net::ServerConfig{}.send_buffers(), nexure::net::ServerConfig{}.send_buffer_size);
}

// Appends `s` as the inside of a JSON string.
void append_json_string(std::string& out, std::string_view s) {
    static const char kHex[] = "0123456789abcdef";
    for (unsigned char ch : s) {
        if (ch == '"' || ch == '\\') {
            out += '\\';
            out += static_cast<char>(ch);
        } else if (ch < 0x20) {
            out += "\\u00";
            out += kHex[ch >> 4];
            out += kHex[ch & 15];
        } else {
            out += static_cast<char>(ch);
        }
    }
}

bool parse_uint(const char* text, unsigned long max, unsigned long* out) {
    if (text == nullptr || *text == '\0') return false;
    char* end = nullptr;
    errno = 0;
    const unsigned long v = std::strtoul(text, &end, 10);
    if (errno != 0 || *end != '\0' || v > max || text[0] == '-') return false;
    *out = v;
    return true;
}

// A route parameter as a number up to `max`, or nullopt (the handler then answers 400).
std::optional<unsigned long long> param_number(const Request& req, std::string_view name,
                                               unsigned long long max) {
    const std::string_view text = req.param(name);
    unsigned long long v = 0;
    if (text.empty() || text.size() > 20) return std::nullopt;
    for (char c : text) {
        if (c < '0' || c > '9') return std::nullopt;
        const unsigned long long next = v * 10 + static_cast<unsigned long long>(c - '0');
        if (next / 10 != v) return std::nullopt;  // overflow
        v = next;
    }
    if (v > max) return std::nullopt;
    return v;
}

void bad_number(Response& res, std::string_view name, unsigned long long max) {
    res.status(400).type("text/plain").body(":");
    res.append(name)
        .append(" must be a number from 0 to ")
        .append(std::to_string(max))
        .append("\n");
}

// GET /stream/:bytes: writes 64 KiB pieces of a repeating pattern while the connection has room,
// and resumes from on_writable when it had none: memory stays at the high-water mark, whatever
// the size.
class Generated : public std::enable_shared_from_this<Generated> {
  public:
    Generated(nexure::net::Stream stream, unsigned long long bytes)
        : stream_(std::move(stream)), left_(bytes) {}
    void start() {
        auto self = shared_from_this();
        stream_.on_abort([self] { self->left_ = 0; });  // the client left: stop producing
        pump();
    }

  private:
    static std::string_view pattern() {
        static const std::string piece = [] {
            std::string p(64 * 1024, '\0');
            for (size_t i = 0; i < p.size(); ++i)
                p[i] = "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ+/"[i % 64];
            return p;
        }();
        return piece;
    }
    void pump() {
        while (left_ > 0) {
            const size_t n = static_cast<size_t>(std::min<unsigned long long>(left_, 64 * 1024));
            left_ -= n;
            if (!stream_.write(pattern().substr(0, n))) {
                if (left_ == 0) break;
                auto self = shared_from_this();
                stream_.on_writable([self] { self->pump(); });
                return;
            }
        }
        stream_.end();
    }

    nexure::net::Stream stream_;
    unsigned long long left_;
};

// GET /sse/:count: one event every 100 ms from a worker timer, then the end of the stream.
class Events : public std::enable_shared_from_this<Events> {
  public:
    Events(nexure::net::Stream stream, unsigned long long count)
        : stream_(std::move(stream)), count_(count) {}
    void start() {
        auto self = shared_from_this();
        stream_.on_abort([self] {
            self->count_ = 0;
            nexure::net::Loop::current().cancel(self->timer_);
        });
        stream_.write(": stream of " + std::to_string(count_) + " events\n\n");
        schedule();
    }

  private:
    void schedule() {
        if (sent_ == count_) {
            stream_.end();
            return;
        }
        auto self = shared_from_this();
        timer_ = nexure::net::Loop::current().after(100, [self] { self->tick(); });
    }
    void tick() {
        ++sent_;
        stream_.write("id: " + std::to_string(sent_) + "\ndata: event " + std::to_string(sent_) +
                      " of " + std::to_string(count_) + "\n\n");
        schedule();
    }

    nexure::net::Stream stream_;
    unsigned long long count_;
    unsigned long long sent_ = 0;
    nexure::net::TimerId timer_ = 0;
};

constexpr unsigned long long kMaxStreamBytes = 1ull << 40;  // 1 TiB
constexpr unsigned long long kMaxEvents = 1'000'000;
constexpr unsigned long long kMaxDelayMs = 600'000;  // beyond handler_timeout_ms: 503 anyway

}  // namespace

int main(int argc, char** argv) {
    nexure::net::ServerConfig config;
    std::string static_dir;
    std::string static_prefix = "/static";
    nexure::files::StaticOptions static_options;
    for (int i = 1; i < argc; ++i) {
        const std::string_view arg = argv[i];
        const char* value = i + 1 < argc ? argv[i + 1] : nullptr;
        unsigned long n = 0;
        auto need = [&](unsigned long max) {
            if (!parse_uint(value, max, &n)) {
                std::fprintf(stderr, "nexure-server: %s needs a number from 0 to %lu, got '%s'\n",
                             argv[i], max, value ? value : "");
                std::exit(2);
            }
            ++i;
        };
        if (arg == "--help" || arg == "-h") {
            usage(stdout);
            return 0;
        } else if (arg == "--version") {
            std::string why;
            const bool fixed = nexure::alloc::SendBuffers::kernel_supports_fixed_send(&why);
            std::printf(
                "nexure-server %s\nallocator: %s\nnuma nodes: %d%s\nfixed-buffer sends: %s (%s)\n",
                NEXURE_VERSION, NEXURE_MALLOC_NAME, nexure::alloc::numa_node_count(),
                nexure::alloc::numa_supported() ? "" : " (no NUMA support)", fixed ? "yes" : "no",
                why.c_str());
            return 0;
        } else if (arg == "--host") {
            if (value == nullptr) {
                std::fprintf(stderr, "nexure-server: --host needs an address\n");
                return 2;
            }
            config.host = value;
            ++i;
        } else if (arg == "--port") {
            need(65535);
            config.port = static_cast<uint16_t>(n);
        } else if (arg == "--threads") {
            need(1024);
            config.threads = static_cast<unsigned>(n);
        } else if (arg == "--drain-timeout-ms") {
            need(86'400'000);
            config.drain_timeout_ms = static_cast<uint32_t>(n);
        } else if (arg == "--idle-timeout-ms") {
            need(86'400'000);
            config.idle_timeout_ms = static_cast<uint32_t>(n);
        } else if (arg == "--head-timeout-ms") {
            need(86'400'000);
            config.request_head_timeout_ms = static_cast<uint32_t>(n);
        } else if (arg == "--body-timeout-ms") {
            need(86'400'000);
            config.body_timeout_ms = static_cast<uint32_t>(n);
        } else if (arg == "--min-body-rate") {
            need(1u << 30);
            config.min_body_rate = static_cast<uint32_t>(n);
        } else if (arg == "--send-timeout-ms") {
            need(86'400'000);
            config.send_timeout_ms = static_cast<uint32_t>(n);
        } else if (arg == "--max-connections") {
            need(1u << 24);
            config.max_connections_per_worker = static_cast<uint32_t>(n);
        } else if (arg == "--send-buffers") {
            need(65535);
            config.send_buffer_count = static_cast<unsigned>(n);
        } else if (arg == "--send-buffer-size") {
            need(1u << 24);
            config.send_buffer_size = static_cast<unsigned>(n);
        } else if (arg == "--no-fixed-sends") {
            config.fixed_sends = false;
        } else if (arg == "--recv-buffers") {
            need(32768);
            config.recv_buffer_count = static_cast<unsigned>(n);
        } else if (arg == "--recv-buffer-size") {
            need(1u << 24);
            config.recv_buffer_size = static_cast<unsigned>(n);
        } else if (arg == "--static" || arg == "--static-prefix") {
            if (value == nullptr || *value == '\0') {
                std::fprintf(stderr, "nexure-server: %s needs a value\n", argv[i]);
                return 2;
            }
            (arg == "--static" ? static_dir : static_prefix) = value;
            ++i;
        } else if (arg == "--static-max-age") {
            need(UINT32_MAX);
            static_options.max_age = static_cast<uint32_t>(n);
        } else if (arg == "--ring-mode") {
            if (value == nullptr || !nexure::engine::parse_ring_mode(value, &config.ring_mode)) {
                std::fprintf(stderr,
                             "nexure-server: --ring-mode must be auto, defer, coop or plain\n");
                return 2;
            }
            ++i;
        } else {
            std::fprintf(stderr, "nexure-server: unknown option '%s'\n", argv[i]);
            usage(stderr);
            return 2;
        }
    }

    nexure::net::Server server(config);
    if (!static_dir.empty()) {
        try {
            nexure::files::mount(server, static_prefix, static_dir, static_options);
        } catch (const std::exception& e) {
            std::fprintf(stderr, "nexure-server: --static: %s\n", e.what());
            return 2;
        }
    }
    server.get("/",
               [](const Request&, Response& res) { res.type("text/plain").body("Hello, World!"); });
    server.get("/plaintext",
               [](const Request&, Response& res) { res.type("text/plain").body("Hello, World!"); });
    server.get("/json", [](const Request&, Response& res) {
        res.type("application/json").body(R"({"message":"Hello, World!"})");
    });
    server.get("/users/:id", [](const Request& req, Response& res) {
        thread_local std::string json;  // one per worker: no allocation once it has grown
        json.assign(R"({"id":")");
        append_json_string(json, req.param("id"));
        json += "\"}";
        res.type("application/json").body(json);
    });
    server.post("/echo", [](const Request& req, Response& res) {
        res.type(req.header("content-type").value_or("application/octet-stream")).body(req.body());
    });
    server.get("/stream/:bytes", [](const Request& req, Response& res) {
        const auto bytes = param_number(req, "bytes", kMaxStreamBytes);
        if (!bytes) return bad_number(res, "bytes", kMaxStreamBytes);
        res.type("application/octet-stream");
        std::make_shared<Generated>(res.stream(*bytes), *bytes)->start();
    });
    server.get("/sse/:count", [](const Request& req, Response& res) {
        const auto count = param_number(req, "count", kMaxEvents);
        if (!count) return bad_number(res, "count", kMaxEvents);
        res.type("text/event-stream")
            .header("Cache-Control", "no-cache")
            .header("X-Accel-Buffering", "no");
        std::make_shared<Events>(res.stream(), *count)->start();
    });
    server.get("/delay/:ms", [](const Request& req, Response& res) {
        const auto ms = param_number(req, "ms", kMaxDelayMs);
        if (!ms) return bad_number(res, "ms", kMaxDelayMs);
        nexure::net::Loop::current().after(*ms, [later = res.defer(), ms = *ms]() mutable {
            later.respond([ms](Response& r) {
                r.type("text/plain").body("delayed " + std::to_string(ms) + " ms\n");
            });
        });
    });
    // Any size: the body is counted as it streams in, never held.
    server.route(
        nexure::net::Method::kPost, "/upload",
        [](const Request& req, Response& res) {
            auto bytes = std::make_shared<unsigned long long>(0);
            nexure::net::BodyReader body = req.body_stream();
            body.on_data([bytes](std::string_view piece) { *bytes += piece.size(); });
            body.on_end([bytes, later = res.defer()]() mutable {
                later.respond([n = *bytes](Response& r) {
                    r.type("application/json").body("{\"bytes\":" + std::to_string(n) + "}");
                });
            });
        },
        nexure::net::RouteOptions{.stream_body = true, .max_body_size = 0});
    // Coroutine handlers (net/coro.h): the same answers as /plaintext and /delay, to compare.
    server.get("/co-plaintext", [](Request&, Response& res) -> nexure::net::Async<void> {
        res.type("text/plain").body("Hello, World!");
        co_return;
    });
    server.get("/co-delay/:ms", [](Request& req, Response& res) -> nexure::net::Async<void> {
        const auto ms = param_number(req, "ms", kMaxDelayMs);
        if (!ms) {
            bad_number(res, "ms", kMaxDelayMs);
            co_return;
        }
        co_await nexure::net::sleep(*ms);
        res.type("text/plain").body("delayed " + std::to_string(*ms) + " ms\n");
    });
    // A handful of threads for blocking work; their answers come back to the request's worker.
    auto pool = std::make_shared<nexure::examples::ThreadPool>(4);
    server.get("/offload/:ms", [pool](const Request& req, Response& res) {
        const auto ms = param_number(req, "ms", kMaxDelayMs);
        if (!ms) return bad_number(res, "ms", kMaxDelayMs);
        pool->run([later = std::make_shared<nexure::net::Later>(res.defer()), ms = *ms] {
            std::this_thread::sleep_for(std::chrono::milliseconds(ms));  // the blocking work
            later->respond([ms](Response& r) {
                r.type("text/plain").body("offloaded " + std::to_string(ms) + " ms\n");
            });
        });
    });

    const int rc = server.run([](const nexure::net::Server& s) {
        const bool fixed =
            s.config().fixed_sends && nexure::alloc::SendBuffers::kernel_supports_fixed_send();
        std::printf(
            "nexure-server listening on http://%s:%u (%u threads, io_uring %s, allocator "
            "%s, %s sends)\n",
            s.address().c_str(), s.port(), s.threads(),
            nexure::engine::ring_mode_name(s.ring_mode()), NEXURE_MALLOC_NAME,
            fixed ? "fixed-buffer" : "plain");
        std::fflush(stdout);
    });
    if (rc == 0) std::printf("nexure-server stopped\n");
    return rc;
}
