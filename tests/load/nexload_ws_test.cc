// nexload --ws against a real WebSocket server that is not ours: tests/load/ws_server.cjs, on the
// `ws` npm package (a devDependency; the tests skip, saying so, until `npm install` has run or
// when node is missing). Exact echo counts checked against what the server counted, binary 16 KiB
// messages with several in flight, the open-loop rate and its coordinated-omission correction
// (the server stopped with SIGSTOP), fan-out counts with and without the sender, a refused
// upgrade, a wrong Sec-WebSocket-Accept and a close code — each reported as such.
#include <gtest/gtest.h>
#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <thread>

#include "bench/load/options.h"
#include "bench/load/report.h"
#include "tests/load/load_run.h"
#include "tests/support/http_client.h"
#include "tests/support/io_uring_probe.h"
#include "tests/support/process.h"

namespace nexure::load {
namespace {

using namespace std::chrono_literals;

std::string find_node() {
    const char* path = std::getenv("PATH");
    std::string dirs = path != nullptr ? path : "/usr/local/bin:/usr/bin:/bin";
    size_t start = 0;
    while (start <= dirs.size()) {
        const size_t end = std::min(dirs.find(':', start), dirs.size());
        const std::filesystem::path candidate =
            std::filesystem::path(dirs.substr(start, end - start)) / "node";
        if (access(candidate.c_str(), X_OK) == 0) return candidate.string();
        start = end + 1;
    }
    return {};
}

// The `ws` test server in a child process, on a free port.
class NexloadWs : public ::testing::Test {
  protected:
    void SetUp() override {
        NEXURE_SKIP_WITHOUT_IO_URING();
        const std::filesystem::path root = NEXURE_SOURCE_DIR;
        const std::string node = find_node();
        if (node.empty()) GTEST_SKIP() << "node is not on PATH: these tests need Node.js";
        if (!std::filesystem::exists(root / "node_modules" / "ws" / "package.json")) {
            GTEST_SKIP() << "the ws package is not installed: run npm install at the repository root";
        }
        ASSERT_TRUE(server_.start({node, (root / "tests" / "load" / "ws_server.cjs").string()}));
        port_ = server_.wait_for_listening_port(test::deadline_in(10'000ms));
        ASSERT_NE(port_, 0) << server_.stderr_text();
    }

    std::string url(const std::string& path) const {
        return "ws://127.0.0.1:" + std::to_string(port_) + path;
    }

    // What the server counted: {"connections":C,"messages":M,"bytes":B}.
    uint64_t server_stat(const std::string& name) {
        test::HttpClient client;
        EXPECT_TRUE(client.connect(port_));
        EXPECT_TRUE(client.send_all(test::get_request("/stats")));
        test::Response r;
        EXPECT_TRUE(client.read_response(&r));
        const std::string key = "\"" + name + "\":";
        const size_t at = r.body.find(key);
        if (at == std::string::npos) {
            ADD_FAILURE() << "no " << name << " in " << r.body;
            return 0;
        }
        return std::strtoull(r.body.c_str() + at + key.size(), nullptr, 10);
    }

    test::Process server_;
    uint16_t port_ = 0;
};

std::string describe(const Report& r) {
    std::string s = "messages=" + std::to_string(r.requests) +
                    " errors{connect=" + std::to_string(r.errors.connect) +
                    " read=" + std::to_string(r.errors.read) +
                    " write=" + std::to_string(r.errors.write) +
                    " timeout=" + std::to_string(r.errors.timeout) +
                    " parse=" + std::to_string(r.errors.parse) +
                    " handshake=" + std::to_string(r.errors.handshake) +
                    " closed=" + std::to_string(r.errors.closed) + "}";
    if (r.ws) {
        s += " ws{handshakes=" + std::to_string(r.ws->handshakes) +
             " sent=" + std::to_string(r.ws->sent) + " own=" + std::to_string(r.ws->own) +
             " gaps=" + std::to_string(r.ws->gaps) +
             " per subscriber=" + std::to_string(r.ws->min_per_subscriber) + ".." +
             std::to_string(r.ws->max_per_subscriber) + "}";
    }
    return s + " first error: '" + r.first_error + "'";
}

TEST_F(NexloadWs, EchoCountsExactlyDashNAndTheServerGotEveryByte) {
    RUN_LOAD(r, url("/echo"), {"--ws", "-t", "1", "-c", "4", "-n", "2000", "--size", "100", "-d", "10"});
    ASSERT_TRUE(r.ws.has_value());
    EXPECT_FALSE(r.ws->fanout);
    EXPECT_EQ(r.requests, 2000u) << describe(r);
    EXPECT_EQ(r.ws->sent, 2000u);
    EXPECT_EQ(r.latency->count(), 2000u);
    EXPECT_EQ(r.errors.total(), 0u) << describe(r);
    EXPECT_EQ(r.ws->handshakes, 4u);
    EXPECT_EQ(r.status[0], 4u);  // four 101s
    // Each echo is a 2-byte header and 100 bytes; the handshake answers come on top.
    EXPECT_GT(r.bytes, 2000u * 102);
    EXPECT_LT(r.bytes, 2000u * 102 + 4 * 1024);
    // Masked client frames: 2 + 4 + 100 bytes each, plus the four handshakes.
    EXPECT_GT(r.ws->bytes_sent, 2000u * 106);
    EXPECT_LT(r.ws->bytes_sent, 2000u * 106 + 4 * 1024);
    EXPECT_EQ(server_stat("connections"), 4u);
    EXPECT_EQ(server_stat("messages"), 2000u);
    EXPECT_EQ(server_stat("bytes"), 2000u * 100);
}

TEST_F(NexloadWs, BinarySixteenKiBMessagesWithSeveralInFlightOnSeveralThreads) {
    RUN_LOAD(r, url("/echo"), {"--ws", "-t", "2", "-c", "3", "--depth", "8", "--binary",
                               "--size", "16384", "-n", "600", "-d", "10"});
    EXPECT_EQ(r.requests, 600u) << describe(r);
    EXPECT_EQ(r.errors.total(), 0u) << describe(r);
    EXPECT_EQ(r.ws->handshakes, 3u);
    // 16 KiB payloads take a 4-byte header (126 + a 16-bit length).
    EXPECT_GE(r.bytes, 600u * (16384 + 4));
    // Up to 8 were in flight per connection when the budget ran out: sent but not waited for.
    EXPECT_GE(r.ws->sent, 600u);
    EXPECT_LE(r.ws->sent, 600u + 3 * 8);
    EXPECT_GE(server_stat("messages"), 600u);
    EXPECT_EQ(server_stat("bytes") % 16384, 0u);
}

TEST_F(NexloadWs, AnOpenLoopRunCorrectsForAStalledServer) {
    // 1,000 messages/s over 2 connections for 1.5 s; the server is stopped for 300 ms in the
    // middle. The two messages in flight then wait 300 ms (service time); the ~300 due meanwhile
    // are sent late, and only the corrected latency counts their wait.
    std::optional<LoadOptions> o =
        options_for(url("/echo"), {"--ws", "-t", "1", "-c", "2", "-R", "1000", "-d", "1.5"});
    ASSERT_TRUE(o.has_value());
    std::thread staller([this] {
        std::this_thread::sleep_for(500ms);
        ::kill(server_.pid(), SIGSTOP);
        std::this_thread::sleep_for(300ms);
        ::kill(server_.pid(), SIGCONT);
    });
    Result<Report> result = run_bounded(*o);
    staller.join();
    ASSERT_TRUE(result.ok()) << result.error().message;
    const Report& r = result.value();
    ASSERT_NE(r.corrected, nullptr);
    EXPECT_EQ(r.corrected->count(), r.requests);
    EXPECT_GT(r.requests, 500u) << describe(r);
    EXPECT_LE(r.ws->sent, 1500u + 2) << "never ahead of the schedule";
    EXPECT_EQ(r.errors.total(), 0u) << describe(r);
    EXPECT_GE(r.latency->max(), 250'000u);          // the two stuck in flight
    EXPECT_LT(r.latency->percentile(90), 100'000u);  // most were served fast once sent
    EXPECT_GE(r.corrected->percentile(90), 50'000u);  // but a fifth had waited for the server
}

TEST_F(NexloadWs, FanOutCountsWhatEverySubscriberGetsAndThePublishersOwnCopies) {
    RUN_LOAD(r, url("/chat"), {"--ws-fanout", "-t", "1", "-c", "20", "-R", "500", "-d", "1"});
    ASSERT_TRUE(r.ws.has_value());
    EXPECT_TRUE(r.ws->fanout);
    EXPECT_EQ(r.errors.total(), 0u) << describe(r);
    EXPECT_EQ(r.ws->handshakes, 21u);  // 20 subscribers and the publisher
    EXPECT_EQ(r.ws->subscribers, 20u);
    EXPECT_GT(r.ws->sent, 200u) << describe(r);
    EXPECT_LE(r.ws->sent, 510u);
    EXPECT_EQ(server_stat("messages"), r.ws->sent);
    EXPECT_EQ(r.ws->gaps, 0u);
    // Every subscriber got every message but those still on their way at the end (up to 200 ms
    // of them on a loaded machine).
    EXPECT_LE(r.ws->max_per_subscriber, r.ws->sent);
    EXPECT_GE(r.ws->min_per_subscriber + 100, r.ws->sent) << describe(r);
    EXPECT_GE(r.requests, 20 * r.ws->min_per_subscriber);
    EXPECT_LE(r.requests, 20 * r.ws->max_per_subscriber);
    EXPECT_EQ(r.latency->count(), r.requests);
    // This endpoint sends to the sender too.
    EXPECT_GE(r.ws->own + 100, r.ws->sent) << describe(r);
}

TEST_F(NexloadWs, FanOutToOthersOnlyGivesThePublisherNothingBack) {
    RUN_LOAD(r, url("/chat-others"), {"--ws-fanout", "-t", "1", "-c", "5", "-R", "200", "-d", "1"});
    EXPECT_EQ(r.errors.total(), 0u) << describe(r);
    EXPECT_GT(r.ws->sent, 100u);
    EXPECT_EQ(r.ws->own, 0u);
    EXPECT_EQ(r.ws->gaps, 0u);
    EXPECT_GE(r.ws->min_per_subscriber + 40, r.ws->sent) << describe(r);
}

TEST_F(NexloadWs, ARefusedUpgradeIsAHandshakeErrorWithTheStatus) {
    RUN_LOAD(r, url("/refuse"), {"--ws", "-t", "1", "-c", "1", "-d", "300ms"});
    EXPECT_EQ(r.requests, 0u);
    EXPECT_GE(r.errors.handshake, 1u) << describe(r);
    EXPECT_EQ(r.errors.handshake, r.errors.total()) << describe(r);
    EXPECT_GE(r.status[3], 1u);  // 403 is counted among the 4xx answers
    EXPECT_EQ(r.ws->handshakes, 0u);
    EXPECT_NE(r.first_error.find("403 Forbidden"), std::string::npos) << r.first_error;
    EXPECT_NE(r.first_error.find("instead of 101"), std::string::npos) << r.first_error;
}

TEST_F(NexloadWs, AWrongAcceptKeyIsRefused) {
    RUN_LOAD(r, url("/bad-accept"), {"--ws", "-t", "1", "-c", "1", "-d", "300ms"});
    EXPECT_EQ(r.requests, 0u);
    EXPECT_GE(r.errors.handshake, 1u) << describe(r);
    EXPECT_EQ(r.ws->handshakes, 0u);
    EXPECT_NE(r.first_error.find("Sec-WebSocket-Accept is 's3pPLMBiTxaQ9kYGzzhZRbK+xOo='"),
              std::string::npos)
        << r.first_error;
}

TEST_F(NexloadWs, ACloseFrameIsCountedWithItsCode) {
    RUN_LOAD(r, url("/close"), {"--ws", "-t", "1", "-c", "2", "-d", "500ms"});
    EXPECT_EQ(r.requests, 0u);
    EXPECT_GE(r.errors.closed, 2u) << describe(r);
    ASSERT_TRUE(r.ws.has_value());
    EXPECT_EQ(r.ws->close_codes.size(), 1u);
    EXPECT_EQ(r.ws->close_codes.count(1008), 1u);
    EXPECT_EQ(r.ws->close_codes.at(1008), r.errors.closed);
    EXPECT_NE(r.first_error.find("1008 'go away'"), std::string::npos) << r.first_error;
    EXPECT_GE(r.ws->handshakes, 3u);  // and each connection was opened again
}

#ifdef NEXLOAD_BIN
// The binary: the report in words and as JSON, the progress line counting messages.
TEST_F(NexloadWs, TheBinaryPrintsAndWritesAWebSocketReport) {
    const std::string json =
        (std::filesystem::temp_directory_path() / ("nexload-ws-" + std::to_string(getpid()) + ".json"))
            .string();
    test::Process p;
    ASSERT_TRUE(p.start({NEXLOAD_BIN, "--ws", "-t", "1", "-c", "2", "-d", "1200ms", "--no-pin",
                         "--progress", "--json", json, url("/echo")}));
    const test::ExitStatus status = p.wait(test::deadline_in(20'000ms));
    ASSERT_TRUE(status.exited && status.code == 0) << status << "\nstderr: " << p.stderr_text();
    const std::string& out = p.stdout_text();
    EXPECT_NE(out.find("WebSocket echo, 32-byte text messages, closed loop"), std::string::npos)
        << out;
    EXPECT_NE(out.find("msg/s"), std::string::npos) << out;
    EXPECT_NE(out.find("2 handshakes"), std::string::npos) << out;
    EXPECT_NE(p.stderr_text().find(" messages "), std::string::npos) << p.stderr_text();
    std::ifstream in(json);
    const std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    std::filesystem::remove(json);
    Result<Report> r = report_from_json(text);
    ASSERT_TRUE(r.ok()) << r.error().message << "\n" << text;
    ASSERT_TRUE(r.value().ws.has_value());
    EXPECT_GT(r.value().requests, 0u);
    EXPECT_EQ(r.value().ws->handshakes, 2u);
    EXPECT_NE(text.find("\"mode\": \"echo\""), std::string::npos);
}
#endif

}  // namespace
}  // namespace nexure::load
