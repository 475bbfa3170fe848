// nexload against a TinyServer that the test scripts: exact request counts with -n (pipelined or
// not), a slow response in its percentile, a constant-rate schedule that holds the rate and is
// never run ahead of (the rate a busy machine achieves is measured in bench/, not here),
// coordinated omission corrected, every kind of error counted, the request bytes on the wire; then
// the nexload binary itself: its JSON report, its merge command and its exit code for a bad flag.
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <csignal>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <future>
#include <iterator>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "bench/load/client.h"
#include "bench/load/options.h"
#include "bench/load/report.h"
#include "tests/load/load_run.h"
#include "tests/load/tiny_server.h"
#include "tests/support/io_uring_probe.h"
#include "tests/support/process.h"
#include "tests/support/wait.h"

namespace nexure::load {
namespace {

using namespace std::chrono_literals;
using test::Clock;
using test::Reply;
using test::TinyServer;

class Nexload : public ::testing::Test {
  protected:
    void SetUp() override { NEXURE_SKIP_WITHOUT_IO_URING(); }  // nexload needs a ring
};

std::string describe(const Report& r) {
    std::string s = "requests=" + std::to_string(r.requests) +
                    " errors{connect=" + std::to_string(r.errors.connect) +
                    " read=" + std::to_string(r.errors.read) +
                    " write=" + std::to_string(r.errors.write) +
                    " timeout=" + std::to_string(r.errors.timeout) +
                    " parse=" + std::to_string(r.errors.parse) + "} status{";
    for (uint64_t n : r.status)
        s += std::to_string(n) + " ";
    return s + "} first error: '" + r.first_error + "'";
}

// ---- exact counts ------------------------------------------------------------------------------

TEST_F(Nexload, ClosedLoopSendsAndCountsExactlyDashN) {
    TinyServer server;
    ASSERT_TRUE(server.ok()) << server.error();
    RUN_LOAD(r, server.url(), {"-t", "1", "-c", "4", "-n", "2000", "-d", "3"});
    EXPECT_EQ(r.requests, 2000u) << describe(r);
    EXPECT_EQ(r.status[1], 2000u);
    EXPECT_EQ(r.latency->count(), 2000u);
    EXPECT_EQ(r.errors.total(), 0u) << describe(r);
    EXPECT_EQ(r.bytes, 2000u * test::kHelloResponse.size());
    EXPECT_EQ(r.corrected, nullptr);  // closed loop: no corrected histogram
    EXPECT_GT(r.duration_s, 0);
    // Once nexload has closed its connections, everything it sent has reached the server.
    EXPECT_TRUE(server.wait_until_idle(test::deadline_in(5000ms)))
        << "nexload left connections open after run_load() returned";
    EXPECT_EQ(server.requests(), 2000u);
}

TEST_F(Nexload, PipelinedRunSendsExactlyDashNWhenItIsNotAMultipleOfTheDepth) {
    TinyServer server;
    ASSERT_TRUE(server.ok()) << server.error();
    RUN_LOAD(r, server.url(), {"-t", "2", "-c", "3", "--pipeline", "16", "-n", "1000", "-d", "3"});
    EXPECT_EQ(r.requests, 1000u) << describe(r);
    EXPECT_EQ(r.status[1], 1000u);
    EXPECT_EQ(r.latency->count(), 1000u);
    EXPECT_EQ(r.errors.total(), 0u) << describe(r);
    EXPECT_TRUE(server.wait_until_idle(test::deadline_in(5000ms)))
        << "nexload left connections open after run_load() returned";
    EXPECT_EQ(server.requests(), 1000u);
}

// ---- latency -----------------------------------------------------------------------------------

TEST_F(Nexload, OneSlowResponseInTenShowsAboveTheNinetiethPercentile) {
    TinyServer server(
        [](uint64_t n, std::string_view) { return n % 10 == 9 ? Reply::delayed(30ms) : Reply{}; });
    ASSERT_TRUE(server.ok()) << server.error();
    RUN_LOAD(r, server.url(), {"-t", "1", "-c", "1", "-n", "200", "-d", "3"});
    ASSERT_EQ(r.requests, 200u) << describe(r);
    ASSERT_EQ(r.latency->count(), 200u);
    // 180 fast responses, then 20 that took at least 30 ms.
    EXPECT_LT(r.latency->percentile(90.0), 30'000u);
    EXPECT_GE(r.latency->percentile(90.5), 30'000u);
    EXPECT_GE(r.latency->max(), 30'000u);
    EXPECT_LT(r.latency->min(), 30'000u);
}

// ---- constant rate -----------------------------------------------------------------------------

// Every request a -R run may send in its first `until_ns`, all threads and connections together:
// when each is due (ns after the start), earliest first.
std::vector<uint64_t> scheduled(const LoadOptions& o, uint64_t until_ns) {
    std::vector<uint64_t> due;
    for (unsigned t = 0; t < o.threads; ++t) {
        const RateSchedule schedule(o, t);
        for (unsigned slot = 0; slot < schedule.connections(); ++slot) {
            for (uint64_t m = 0; schedule.due_ns(slot, m) < until_ns; ++m)
                due.push_back(schedule.due_ns(slot, m));
        }
    }
    std::sort(due.begin(), due.end());
    return due;
}

TEST(RateSchedule, EverySecondHoldsTheRateOverThreadsAndUnevenConnections) {
    for (const char* connections : {"4", "5"}) {
        std::optional<LoadOptions> o =
            options_for("http://127.0.0.1:1/", {"-t", "2", "-c", connections, "-R", "1000"});
        ASSERT_TRUE(o.has_value());
        const std::vector<uint64_t> due = scheduled(*o, 3'000'000'000u);
        for (uint64_t second = 0; second < 3; ++second) {
            const auto in_second = std::count_if(due.begin(), due.end(), [&](uint64_t t) {
                return t >= second * 1'000'000'000u && t < (second + 1) * 1'000'000'000u;
            });
            // Each thread's 500 a second, give or take the one at the edge of the window.
            EXPECT_NEAR(static_cast<double>(in_second), 1000, 2)
                << "-c " << connections << ", second " << second;
        }
        // A thread's requests are evenly spaced (2 ms apart at 500/s) and dealt to its
        // connections in turn.
        for (unsigned t = 0; t < o->threads; ++t) {
            const RateSchedule schedule(*o, t);
            for (uint64_t k = 0; k + 1 < 1500; ++k) {
                const unsigned n = schedule.connections();
                const uint64_t at = schedule.due_ns(static_cast<unsigned>(k % n), k / n);
                const uint64_t next =
                    schedule.due_ns(static_cast<unsigned>((k + 1) % n), (k + 1) / n);
                ASSERT_NEAR(static_cast<double>(next - at), 2e6, 1)
                    << "-c " << connections << ", thread " << t << ", request " << k;
            }
        }
    }
}

TEST_F(Nexload, ConstantRateNeverSendsAheadOfItsSchedule) {
    TinyServer server;
    ASSERT_TRUE(server.ok()) << server.error();
    const Clock::time_point before = Clock::now();  // the run starts no earlier
    RUN_LOAD(r, server.url(), {"-t", "2", "-c", "4", "-R", "1000", "-d", "2"});
    EXPECT_EQ(r.errors.total(), 0u) << describe(r);
    EXPECT_GT(r.requests, 0u) << describe(r);
    ASSERT_NE(r.corrected, nullptr);
    EXPECT_EQ(r.corrected->count(), r.latency->count());
    // A request goes out no earlier than it is due, so by the time the server has seen n
    // requests, n were due: the n-th arrival is no earlier than the n-th due time. (How close to
    // the schedule a loaded machine keeps is a measurement, for bench/.)
    const std::vector<uint64_t> due = scheduled(*r_options, 2'000'000'000u);
    std::vector<Clock::time_point> arrivals = server.arrivals();
    std::sort(arrivals.begin(), arrivals.end());
    EXPECT_LE(r.requests, arrivals.size());
    ASSERT_LE(arrivals.size(), due.size()) << "more requests than the run's schedule holds";
    for (size_t n = 0; n < arrivals.size(); ++n) {
        const auto since =
            std::chrono::duration_cast<std::chrono::nanoseconds>(arrivals[n] - before);
        ASSERT_GE(since.count(), static_cast<int64_t>(due[n]))
            << "request " << n << " arrived " << since.count() << " ns after the start, before "
            << "its due time";
    }
}

TEST_F(Nexload, ConstantRateCorrectsForCoordinatedOmission) {
    // At 200/s request #100 is due at 0.5 s; the server sits on it for 500 ms, and the ~100
    // requests due meanwhile cannot go out (one connection, no pipelining).
    TinyServer server(
        [](uint64_t n, std::string_view) { return n == 100 ? Reply::delayed(500ms) : Reply{}; });
    ASSERT_TRUE(server.ok()) << server.error();
    RUN_LOAD(r, server.url(), {"-t", "1", "-c", "1", "--pipeline", "1", "-R", "200", "-d", "3"});
    EXPECT_EQ(r.errors.total(), 0u) << describe(r);
    // The slow one was answered (one connection: in order), and no more were sent than the
    // schedule holds (600 in 3 s).
    EXPECT_GT(r.requests, 100u) << describe(r);
    EXPECT_LE(r.requests, 600u) << describe(r);
    ASSERT_NE(r.corrected, nullptr);
    // Service time saw one slow response (fewer than 1 in 100)...
    EXPECT_LT(r.latency->percentile(99), 450'000u);
    EXPECT_GE(r.latency->max(), 450'000u);
    // ...while the requests that waited behind it were late by up to 500 ms: those due in the
    // 450 ms after it, over 90 of at most 600, more than a tenth.
    EXPECT_GT(r.corrected->percentile(90), 50'000u);
    EXPECT_GE(r.corrected->max(), 450'000u);
    EXPECT_EQ(r.corrected->count(), r.requests);
}

// ---- errors are counted, not fatal -------------------------------------------------------------

TEST_F(Nexload, RefusedConnectionsAreCountedAndRetried) {
    // A bound socket that does not listen: connecting to its port is refused, and nobody else can
    // take the port meanwhile.
    const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    ASSERT_GE(fd, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof(addr);
    ASSERT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
    ASSERT_EQ(::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len), 0);
    const std::string url = "http://127.0.0.1:" + std::to_string(ntohs(addr.sin_port)) + "/";
    std::optional<LoadOptions> o = options_for(url, {"-t", "1", "-c", "2", "-d", "300ms"});
    ASSERT_TRUE(o.has_value());
    Result<Report> result = run_bounded(*o);
    ::close(fd);
    ASSERT_TRUE(result.ok()) << result.error().message;
    const Report& r = result.value();
    EXPECT_EQ(r.requests, 0u);
    // Two connections, each retried every 10 ms or so for 300 ms.
    EXPECT_GT(r.errors.connect, 2u) << describe(r);
    EXPECT_EQ(r.errors.connect, r.errors.total()) << describe(r);
}

TEST_F(Nexload, GarbageResponsesAreParseErrors) {
    TinyServer server(
        [](uint64_t, std::string_view) { return Reply::respond("HTTP/1.1 2x0 OK\r\n\r\n"); });
    ASSERT_TRUE(server.ok()) << server.error();
    RUN_LOAD(r, server.url(), {"-t", "1", "-c", "1", "-d", "300ms"});
    EXPECT_GE(r.errors.parse, 1u) << describe(r);
    EXPECT_EQ(r.requests, 0u) << describe(r);
    EXPECT_EQ(r.status[1], 0u);
    EXPECT_EQ(r.errors.connect, 0u) << describe(r);
    // The connection is closed after a parse error, then opened again.
    EXPECT_GE(server.connections(), 2u);
}

TEST_F(Nexload, ConnectionsClosedWithoutAnAnswerAreReadErrors) {
    TinyServer server([](uint64_t, std::string_view) { return Reply::close(); });
    ASSERT_TRUE(server.ok()) << server.error();
    RUN_LOAD(r, server.url(), {"-t", "1", "-c", "1", "-d", "300ms"});
    EXPECT_GE(r.errors.read, 1u) << describe(r);
    EXPECT_EQ(r.requests, 0u) << describe(r);
    EXPECT_EQ(r.errors.parse, 0u) << describe(r);
    EXPECT_GE(server.connections(), 2u);  // and opened again
}

TEST_F(Nexload, ResponsesLaterThanTheTimeoutAreTimeoutErrors) {
    TinyServer server([](uint64_t, std::string_view) { return Reply::hang(); });
    ASSERT_TRUE(server.ok()) << server.error();
    const Clock::time_point start = Clock::now();
    RUN_LOAD(r, server.url(), {"-t", "1", "-c", "1", "--timeout", "0.2", "-d", "1"});
    const double took = std::chrono::duration<double>(Clock::now() - start).count();
    EXPECT_GE(r.errors.timeout, 2u) << describe(r);  // 1 s / 0.2 s: several, each reconnected
    EXPECT_EQ(r.requests, 0u) << describe(r);
    EXPECT_GE(server.connections(), 2u);
    // Outstanding requests are not waited for at the end.
    EXPECT_LT(took, 3.0);
}

TEST_F(Nexload, ResponsesAreCountedByStatusClass) {
    TinyServer server([](uint64_t n, std::string_view) {
        return n % 2 == 1 ? Reply::respond(
                                "HTTP/1.1 404 Not Found\r\nContent-Length: 9\r\n\r\n"
                                "Not Found")
                          : Reply{};
    });
    ASSERT_TRUE(server.ok()) << server.error();
    RUN_LOAD(r, server.url(), {"-t", "1", "-c", "2", "-n", "500", "-d", "3"});
    EXPECT_EQ(r.requests, 500u) << describe(r);
    EXPECT_GT(r.status[3], 0u) << describe(r);
    EXPECT_GT(r.status[1], 0u) << describe(r);
    EXPECT_EQ(r.status[1] + r.status[3], r.requests) << describe(r);
    EXPECT_EQ(r.errors.total(), 0u) << describe(r);  // a 404 is an answer, not an error
}

// ---- the request on the wire -------------------------------------------------------------------

TEST_F(Nexload, SendsTheMethodPathHeadersAndBodyAsGiven) {
    TinyServer server;
    ASSERT_TRUE(server.ok()) << server.error();
    std::optional<LoadOptions> o =
        options_for(server.url("/p?q=1"),
                    {"-t", "1", "-c", "1", "-n", "1", "-d", "3", "-m", "POST", "-H", "X-A: b"});
    ASSERT_TRUE(o.has_value());
    o->body = "hello";
    const std::string expected =
        "POST /p?q=1 HTTP/1.1\r\nHost: 127.0.0.1:" + std::to_string(server.port()) +
        "\r\nX-A: b\r\nContent-Length: 5\r\n\r\nhello";
    EXPECT_EQ(build_request(*o), expected);
    Result<Report> result = run_bounded(*o);
    ASSERT_TRUE(result.ok()) << result.error().message;
    EXPECT_EQ(result.value().requests, 1u) << describe(result.value());
    EXPECT_EQ(server.first_request(), expected);
}

TEST_F(Nexload, AHostHeaderFromDashHReplacesTheDefault) {
    TinyServer server;
    ASSERT_TRUE(server.ok()) << server.error();
    RUN_LOAD(r, server.url(),
             {"-t", "1", "-c", "1", "-n", "1", "-d", "3", "-H", "Host: example.com"});
    EXPECT_EQ(r.requests, 1u) << describe(r);
    EXPECT_EQ(server.first_request(), "GET / HTTP/1.1\r\nHost: example.com\r\n\r\n");
}

// A response that announces the connection's close (Connection: close, or HTTP/1.0 without
// keep-alive) is the last one written on it: nexload opens a new connection for the next request
// rather than writing it where it will not be answered, and counts no error.
TEST_F(Nexload, AnAnnouncedCloseMeansANewConnectionPerRequest) {
    for (const std::string& response :
         {std::string("HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 2\r\n\r\nok"),
          std::string("HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\nok")}) {
        TinyServer server([&](uint64_t, std::string_view) { return Reply::respond(response); });
        ASSERT_TRUE(server.ok()) << server.error();
        RUN_LOAD(r, server.url(), {"-t", "1", "-c", "2", "-n", "300", "-d", "5"});
        EXPECT_EQ(r.requests, 300u) << response << ": " << describe(r);
        EXPECT_EQ(r.errors.total(), 0u) << describe(r);
        EXPECT_TRUE(server.wait_until_idle(test::deadline_in(5000ms)));
        EXPECT_EQ(server.requests(), 300u) << response;
        EXPECT_GE(server.connections(), 300u) << response;
    }
}

// ---- the nexload binary ------------------------------------------------------------------------

#ifdef NEXLOAD_BIN
constexpr const char* kNexload = NEXLOAD_BIN;
#else
constexpr const char* kNexload = nullptr;
#endif

// The binary's own tests; the one that runs load also needs io_uring (the Nexload fixture).
class NexloadBinary : public Nexload {
  protected:
    void SetUp() override {
        if (kNexload == nullptr) GTEST_SKIP() << "built without the nexload target";
        Nexload::SetUp();
    }
};

// A path in the temporary directory that is removed when the test ends.
class TempPath {
  public:
    explicit TempPath(const std::string& name)
        : path_(std::filesystem::temp_directory_path() /
                ("nexload-test-" + std::to_string(::getpid()) + "-" + name)) {}
    ~TempPath() {
        std::error_code ignored;
        std::filesystem::remove(path_, ignored);
    }
    TempPath(const TempPath&) = delete;
    TempPath& operator=(const TempPath&) = delete;
    std::string str() const { return path_.string(); }

  private:
    std::filesystem::path path_;
};

std::string read_file(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

TEST_F(NexloadBinary, WritesTheJsonReportAndNoProgressLineIntoAPipe) {
    TinyServer server;
    ASSERT_TRUE(server.ok()) << server.error();
    TempPath json("run.json");
    test::Process p;
    ASSERT_TRUE(p.start({kNexload, "-t", "1", "-c", "2", "-n", "500", "-d", "5", "--no-pin",
                         "--json", json.str(), server.url()}));
    const test::ExitStatus status = p.wait(test::deadline_in(20'000ms));
    ASSERT_TRUE(status.exited && status.code == 0)
        << status << "\nstdout: " << p.stdout_text() << "\nstderr: " << p.stderr_text();
    Result<Report> report = report_from_json(read_file(json.str()));
    ASSERT_TRUE(report.ok()) << report.error().message;
    EXPECT_EQ(report.value().requests, 500u);
    EXPECT_EQ(report.value().status[1], 500u);
    EXPECT_EQ(p.stderr_text().find('\r'), std::string::npos)
        << "a progress line on a pipe: " << p.stderr_text();
    EXPECT_TRUE(server.wait_until_idle(test::deadline_in(5000ms)));
    EXPECT_EQ(server.requests(), 500u);
}

TEST_F(NexloadBinary, MergeAddsUpReports) {
    TempPath a("a.json");
    TempPath b("b.json");
    TempPath merged("c.json");
    Report ra;
    ra.requests = 300;
    ra.duration_s = 2;
    ra.status[1] = 300;
    ra.latency->record(100, 300);
    Report rb;
    rb.requests = 45;
    rb.duration_s = 3;
    rb.status[1] = 40;
    rb.status[4] = 5;
    rb.errors.read = 2;
    rb.latency->record(5000, 45);
    std::ofstream(a.str()) << to_json(ra);
    std::ofstream(b.str()) << to_json(rb);
    test::Process p;
    ASSERT_TRUE(p.start({kNexload, "merge", a.str(), b.str(), "--json", merged.str()}));
    const test::ExitStatus status = p.wait(test::deadline_in(10'000ms));
    ASSERT_TRUE(status.exited && status.code == 0)
        << status << "\nstdout: " << p.stdout_text() << "\nstderr: " << p.stderr_text();
    Result<Report> m = report_from_json(read_file(merged.str()));
    ASSERT_TRUE(m.ok()) << m.error().message;
    EXPECT_EQ(m.value().requests, 345u);
    EXPECT_EQ(m.value().status[1], 340u);
    EXPECT_EQ(m.value().status[4], 5u);
    EXPECT_EQ(m.value().errors.read, 2u);
    EXPECT_DOUBLE_EQ(m.value().duration_s, 3);
    EXPECT_EQ(m.value().latency->count(), 345u);
    EXPECT_EQ(m.value().latency->max(), 5000u);
}

TEST_F(NexloadBinary, VersionPrintsTheProjectVersion) {
    test::Process p;
    ASSERT_TRUE(p.start({kNexload, "--version"}));
    const test::ExitStatus status = p.wait(test::deadline_in(10'000ms));
    EXPECT_TRUE(status.exited && status.code == 0) << status;
    EXPECT_EQ(p.stdout_text().rfind("nexload 0.", 0), 0u) << p.stdout_text();
}

TEST_F(NexloadBinary, ABadFlagExitsWithTwoAndIsNamed) {
    test::Process p;
    ASSERT_TRUE(p.start({kNexload, "--frobnicate", "-c", "2", "http://127.0.0.1:1/"}));
    const test::ExitStatus status = p.wait(test::deadline_in(10'000ms));
    EXPECT_TRUE(status.exited && status.code == 2) << status;
    EXPECT_NE(p.stderr_text().find("--frobnicate"), std::string::npos)
        << "stderr: " << p.stderr_text();
}

#ifdef NEXLOAD_CANNED_BIN
// nexload-canned, the reply-only server scripts/bench-nexload.sh measures load generators with,
// must answer every request, however they are batched: pipelined runs end with exact counts.
TEST_F(Nexload, TheCannedServerAnswersEveryPipelinedRequest) {
    test::Process canned;
    ASSERT_TRUE(canned.start({NEXLOAD_CANNED_BIN, "--host", "127.0.0.1", "--port", "0"}));
    const uint16_t port = canned.wait_for_listening_port();
    ASSERT_NE(port, 0) << canned.stderr_text();
    const std::string url = "http://127.0.0.1:" + std::to_string(port) + "/plaintext";
    for (const char* depth : {"1", "16", "100"}) {
        RUN_LOAD(r, url, {"-t", "2", "-c", "8", "-n", "20000", "-d", "10", "--pipeline", depth});
        EXPECT_EQ(r.requests, 20000u) << "pipeline " << depth << ": " << describe(r);
        EXPECT_EQ(r.status[1], 20000u);
        EXPECT_EQ(r.errors.total(), 0u) << describe(r);
    }
    EXPECT_TRUE(canned.kill(SIGTERM));
    const test::ExitStatus status = canned.wait(test::deadline_in(5000ms));
    EXPECT_TRUE(status.exited && status.code == 0) << status;
}
#endif

// Ctrl-C ends a run early and still prints its report (the duration is the time until then).
TEST_F(NexloadBinary, SigintEndsTheRunEarlyWithItsReport) {
    TinyServer server;
    ASSERT_TRUE(server.ok()) << server.error();
    TempPath json("sigint.json");
    test::Process p;
    ASSERT_TRUE(p.start({kNexload, "-t", "1", "-c", "2", "-d", "60s", "--no-pin", "--json",
                         json.str(), server.url()}));
    ASSERT_TRUE(p.wait_for_line("nexload http://", test::deadline_in(10'000ms)).has_value());
    // A connection sends its next request only once the last one is answered (closed loop, no
    // pipelining): with three requests in over two connections, nexload has counted a response.
    ASSERT_TRUE(
        test::poll_until([&] { return server.requests() >= 3; }, test::deadline_in(10'000ms)));
    ASSERT_TRUE(p.kill(SIGINT));
    const test::ExitStatus status = p.wait(test::deadline_in(10'000ms));
    ASSERT_TRUE(status.exited && status.code == 0) << status << "\nstderr: " << p.stderr_text();
    EXPECT_NE(p.stdout_text().find("stopped early"), std::string::npos) << p.stdout_text();
    Result<Report> report = report_from_json(read_file(json.str()));
    ASSERT_TRUE(report.ok()) << report.error().message;
    EXPECT_GT(report.value().requests, 0u);
    EXPECT_LT(report.value().duration_s, 10.0);
}

// --progress forces the progress line even into a pipe: once a second, over itself.
TEST_F(NexloadBinary, ProgressPrintsOnceASecondWhenAsked) {
    TinyServer server;
    ASSERT_TRUE(server.ok()) << server.error();
    test::Process p;
    ASSERT_TRUE(p.start({kNexload, "-t", "1", "-c", "2", "-d", "2500ms", "--no-pin",
                         "--progress", server.url()}));
    const test::ExitStatus status = p.wait(test::deadline_in(20'000ms));
    ASSERT_TRUE(status.exited && status.code == 0) << status << "\nstderr: " << p.stderr_text();
    const std::string& err = p.stderr_text();
    EXPECT_EQ(std::count(err.begin(), err.end(), '\r'), 3) << err;  // 2 lines, then cleared
    EXPECT_NE(err.find("1/2.5 s"), std::string::npos) << err;
    EXPECT_NE(err.find("2/2.5 s"), std::string::npos) << err;
}

}  // namespace
}  // namespace nexure::load
