// nexload: the command line around run_load() (a run) and merge_reports() (`nexload merge`).
#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <fstream>
#include <mutex>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "bench/load/client.h"
#include "bench/load/options.h"
#include "bench/load/report.h"
#include "bench/load/ws_client.h"

namespace {

using namespace nexure::load;  // NOLINT(google-build-using-namespace)

int usage_error(const std::string& message) {
    std::fprintf(stderr, "nexload: %s\n(nexload --help lists the options)\n", message.c_str());
    return 2;
}

bool write_file(const std::string& path, const std::string& text) {
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out << text;
    out.close();
    if (!out) {
        std::fprintf(stderr, "nexload: cannot write '%s'\n", path.c_str());
        return false;
    }
    return true;
}

int merge_main(const std::vector<std::string>& args) {
    std::string json_path;
    bool distribution = false;
    std::vector<std::string> files;
    for (size_t i = 0; i < args.size(); ++i) {
        const std::string& a = args[i];
        if (a == "--json") {
            if (i + 1 >= args.size()) return usage_error("merge: --json needs a file name");
            json_path = args[++i];
        } else if (a.rfind("--json=", 0) == 0) {
            json_path = a.substr(7);
        } else if (a == "--latency") {
            distribution = true;
        } else if (!a.empty() && a[0] == '-') {
            return usage_error("merge: unknown flag '" + a + "'");
        } else {
            files.push_back(a);
        }
    }
    if (files.empty()) return usage_error("merge: give the report files to merge");
    std::vector<Report> reports;
    for (const std::string& f : files) {
        std::ifstream in(f, std::ios::binary);
        if (!in) {
            std::fprintf(stderr, "nexload: merge: cannot read '%s'\n", f.c_str());
            return 1;
        }
        std::ostringstream text;
        text << in.rdbuf();
        auto r = report_from_json(text.str());
        if (!r) {
            std::fprintf(stderr, "nexload: merge: %s: %s\n", f.c_str(),
                         r.error().message.c_str());
            return 1;
        }
        reports.push_back(std::move(r).value());
    }
    auto merged = merge_reports(reports);
    if (!merged) {
        std::fprintf(stderr, "nexload: %s\n", merged.error().message.c_str());
        return 1;
    }
    std::printf("nexload merge: %zu reports\n%s", reports.size(),
                to_text(merged.value(), distribution).c_str());
    if (!json_path.empty() && !write_file(json_path, to_json(merged.value()))) return 1;
    return 0;
}

// Prints "elapsed, requests, rate over the last second, errors" once a second, over itself.
class ProgressLine {
  public:
    // `unit`: what is counted ("requests", or "messages" in WebSocket runs).
    ProgressLine(Progress* progress, double duration_s, const char* unit)
        : progress_(progress), unit_(unit) {
        thread_ = std::thread([this, duration_s] { loop(duration_s); });
    }
    ~ProgressLine() {
        {
            std::lock_guard lock(mutex_);
            done_ = true;
        }
        cv_.notify_all();
        thread_.join();
        std::fputs("\r\033[K", stderr);  // leave the line empty for the report
    }

  private:
    void loop(double duration_s) {
        const auto start = std::chrono::steady_clock::now();
        uint64_t last = 0;
        for (int second = 1;; ++second) {
            std::unique_lock lock(mutex_);
            if (cv_.wait_until(lock, start + std::chrono::seconds(second), [&] { return done_; })) {
                return;
            }
            const uint64_t requests = progress_->requests.load(std::memory_order_relaxed);
            const uint64_t errors = progress_->errors.load(std::memory_order_relaxed);
            std::fprintf(stderr, "\r\033[K  %d/%g s  %llu %s  %llu/s  %llu errors", second,
                         duration_s, static_cast<unsigned long long>(requests), unit_,
                         static_cast<unsigned long long>(requests - last),
                         static_cast<unsigned long long>(errors));
            std::fflush(stderr);
            last = requests;
        }
    }

    Progress* progress_;
    const char* unit_;
    std::mutex mutex_;
    std::condition_variable cv_;
    bool done_ = false;
    std::thread thread_;
};

}  // namespace

int main(int argc, char** argv) {
    std::vector<std::string> args(argv + 1, argv + argc);
    if (!args.empty() && args[0] == "merge") return merge_main({args.begin() + 1, args.end()});
    for (const std::string& a : args) {
        if (a == "-h" || a == "--help") {
            std::fputs(load_usage(), stdout);
            return 0;
        }
        if (a == "--version") {
            std::printf("nexload %s\n", NEXURE_VERSION);
            return 0;
        }
    }
    auto parsed = parse_load_options(args);
    if (!parsed) return usage_error(parsed.error().message);
    const LoadOptions& o = parsed.value();

    const bool ws = o.ws.mode != WsMode::kOff;
    std::string mode = "closed loop";
    if (o.rate > 0) {
        char buf[64];
        std::snprintf(buf, sizeof buf, "constant rate %.0f %s", o.rate, ws ? "msg/s" : "req/s");
        mode = buf;
    }
    if (ws) {
        char buf[160];
        std::snprintf(buf, sizeof buf, "%s, %zu-byte %s messages, %s",
                      o.ws.mode == WsMode::kFanout ? "WebSocket fan-out" : "WebSocket echo",
                      o.ws.size, o.ws.binary ? "binary" : "text",
                      o.ws.mode == WsMode::kFanout ? "one publisher" : mode.c_str());
        mode = buf;
    }
    std::printf("nexload %s, %.2f s, %u thread%s, %u connection%s, %s %u, %s%s\n",
                o.url.c_str(), o.duration_s, o.threads, o.threads == 1 ? "" : "s", o.connections,
                o.connections == 1 ? "" : "s", ws ? "depth" : "pipeline", o.pipeline, mode.c_str(),
                o.max_requests != 0 ? (", at most " + std::to_string(o.max_requests) +
                                       " requests")
                                          .c_str()
                                    : "");
    std::fflush(stdout);

    // Ctrl-C (or SIGTERM) ends the run early, with its report; a second one ends the process.
    static Progress progress;
    struct sigaction sa {};
    sa.sa_handler = [](int) { progress.stop.store(true); };
    sa.sa_flags = SA_RESETHAND;
    sigaction(SIGINT, &sa, nullptr);
    sigaction(SIGTERM, &sa, nullptr);
    const bool show_progress = o.progress == 1 || (o.progress == -1 && isatty(STDERR_FILENO));
    const auto run = [&] { return ws ? run_ws_load(o, &progress) : run_load(o, &progress); };
    nexure::Result<Report> result = [&] {
        if (!show_progress) return run();
        ProgressLine line(&progress, o.duration_s, ws ? "messages" : "requests");
        return run();
    }();
    if (progress.stop.load()) std::fputs("nexload: stopped early by a signal\n", stdout);
    if (!result) {
        std::fprintf(stderr, "nexload: %s\n", result.error().message.c_str());
        return 1;
    }
    std::fputs(to_text(result.value(), o.latency).c_str(), stdout);
    if (!o.json_path.empty() && !write_file(o.json_path, to_json(result.value()))) return 1;
    return 0;
}
