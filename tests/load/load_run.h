// Helpers shared by nexload's run tests (HTTP and WebSocket): options from flags, and a run
// bounded in time.
#pragma once

#include <gtest/gtest.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <future>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "bench/load/client.h"
#include "bench/load/options.h"
#include "bench/load/report.h"
#include "bench/load/ws_client.h"

namespace nexure::load {

// Options for a run against `url` given as nexload's flags; never pinned, no progress line.
inline std::optional<LoadOptions> options_for(const std::string& url, std::vector<std::string> flags) {
    flags.push_back("--no-pin");
    flags.push_back(url);
    Result<LoadOptions> parsed = parse_load_options(flags);
    if (!parsed.ok()) {
        ADD_FAILURE() << "parse_load_options: " << parsed.error().message;
        return std::nullopt;
    }
    LoadOptions o = std::move(parsed).value();
    o.progress = 0;
    return o;
}

// run_load() (run_ws_load() for a WebSocket run), bounded: a run that does not end within 15 s of its duration aborts the binary
// (the load threads cannot be cancelled from here) rather than hanging the suite.
inline Result<Report> run_bounded(const LoadOptions& options) {
    Result<Report> (*run)(const LoadOptions&, Progress*) =
        options.ws.mode == WsMode::kOff ? run_load : run_ws_load;
    std::promise<Result<Report>> done;
    std::future<Result<Report>> result = done.get_future();
    std::thread runner([&options, &done, run] { done.set_value(run(options, nullptr)); });
    const auto limit = std::chrono::duration<double>(options.duration_s + 15);
    if (result.wait_for(limit) != std::future_status::ready) {
        std::fprintf(stderr, "run_load() still running %.1f s after its %.1f s duration: abort\n",
                     limit.count() - options.duration_s, options.duration_s);
        std::abort();
    }
    runner.join();
    return result.get();
}

// Runs nexload against `url` with `flags`; fails the test unless the run could start.
#define RUN_LOAD(report, url, ...)                                               \
    std::optional<LoadOptions> report##_options = options_for(url, __VA_ARGS__); \
    ASSERT_TRUE(report##_options.has_value());                                   \
    Result<Report> report##_result = run_bounded(*report##_options);             \
    ASSERT_TRUE(report##_result.ok()) << report##_result.error().message;        \
    const Report& report = report##_result.value()

}  // namespace nexure::load
