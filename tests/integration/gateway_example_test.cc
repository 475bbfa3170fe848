// examples/cpp/gateway.cc run as a user would (nexure-example-gateway on a free port, in front of
// a scripted upstream): forwarding both ways with end-to-end header fields only, its own health
// check, 502 and 504 with JSON bodies when the upstream fails, and /_stats counting every answer
// (the engine's own 404 and 405 included).
#include <gtest/gtest.h>
#include <signal.h>

#include <atomic>
#include <chrono>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "tests/integration/service_example.h"
#include "tests/support/fake_upstream.h"
#include "tests/support/http_client.h"
#include "tests/support/io_uring_probe.h"
#include "tests/support/process.h"

namespace nexure::test {
namespace {

using namespace std::chrono_literals;

class GatewayExample : public ServiceExample {
  protected:
    void run(const std::string& upstream, std::vector<std::string> extra = {}) {
        extra.insert(extra.begin(), {"--threads", "1", "--upstream", upstream});
        ServiceExample::run(NEXURE_EXAMPLE_GATEWAY_BIN, extra);
    }
    void TearDown() override {
        if (process_.running()) stop_with_sigterm();
    }
};

TEST_F(GatewayExample, ForwardsRequestsAndAnswersWithEndToEndFields) {
    std::mutex mutex;
    std::vector<std::string> seen;
    FakeUpstream up([&](int fd, int) {
        for (std::string req; !(req = up.read_request(fd)).empty();) {
            {
                std::lock_guard lock(mutex);
                seen.push_back(req);
            }
            const std::string body = req.substr(req.find("\r\n\r\n") + 4);
            FakeUpstream::write_all(fd, "HTTP/1.1 201 Created\r\nContent-Type: application/json\r\n"
                                        "X-Upstream: yes\r\nKeep-Alive: timeout=5\r\n"
                                        "Content-Length: " + std::to_string(body.size() + 2) +
                                        "\r\n\r\n[" + body + "]");
        }
    });
    run(up.address());
    if (HasFatalFailure() || IsSkipped()) return;
    const Response get = exchange(
        "GET /api/items/42?full=1 HTTP/1.1\r\nHost: gw\r\nX-Trace: t1\r\nConnection: keep-alive\r\n\r\n");
    EXPECT_EQ(get.status, 201);
    EXPECT_EQ(get.header("Content-Type"), "application/json");
    EXPECT_EQ(get.header("X-Upstream"), "yes");
    EXPECT_FALSE(get.has_header("Keep-Alive"));  // hop-by-hop: not passed on
    EXPECT_EQ(get.body, "[]");
    const Response post = exchange(
        "POST /api/items HTTP/1.1\r\nHost: gw\r\nContent-Type: application/json\r\n"
        "Content-Length: 9\r\n\r\n{\"a\":\"b\"}");
    EXPECT_EQ(post.status, 201);
    EXPECT_EQ(post.body, "[{\"a\":\"b\"}]");
    // The health check never reaches the upstream.
    const Response health = exchange(get_request("/api/_health"));
    EXPECT_EQ(health.status, 200);
    EXPECT_EQ(health.body, R"({"status":"ok"})");
    std::lock_guard lock(mutex);
    ASSERT_EQ(seen.size(), 2u);
    EXPECT_EQ(seen[0].rfind("GET /api/items/42?full=1 HTTP/1.1\r\n", 0), 0u) << seen[0];
    EXPECT_NE(seen[0].find("X-Trace: t1\r\n"), std::string::npos) << seen[0];
    EXPECT_EQ(seen[0].find("keep-alive"), std::string::npos) << seen[0];  // not forwarded
    EXPECT_EQ(seen[1].rfind("POST /api/items HTTP/1.1\r\n", 0), 0u) << seen[1];
    EXPECT_NE(seen[1].find("Content-Length: 9\r\n"), std::string::npos) << seen[1];
    EXPECT_EQ(up.accepted(), 1);  // one keep-alive connection carried both
}

TEST_F(GatewayExample, UpstreamFailuresAreJson502And504) {
    FakeUpstream up([&](int fd, int) {
        const std::string req = up.read_request(fd);
        if (req.find("/api/slow") != std::string::npos) {
            while (!up.stopping()) std::this_thread::sleep_for(5ms);
            return;
        }
        FakeUpstream::write_all(fd, "HTTP/1.1 200 OK\r\nContent-Length: nope\r\n\r\n");
    });
    run(up.address(), {"--timeout-ms", "300"});
    if (HasFatalFailure() || IsSkipped()) return;
    const Response slow = exchange(get_request("/api/slow"));
    EXPECT_EQ(slow.status, 504);
    EXPECT_EQ(slow.header("Content-Type"), "application/json");
    EXPECT_EQ(slow.body, R"({"error":"gateway timeout","cause":"upstream timed out"})");
    const Response bad = exchange(get_request("/api/bad"));
    EXPECT_EQ(bad.status, 502);
    EXPECT_EQ(bad.body, R"({"error":"bad gateway","cause":"malformed response"})");
}

TEST_F(GatewayExample, RefusedUpstreamAndStatsOfEveryAnswer) {
    run("127.0.0.1:" + std::to_string(closed_port()));
    if (HasFatalFailure() || IsSkipped()) return;
    const Response refused = exchange(get_request("/api/x"));
    EXPECT_EQ(refused.status, 502);
    EXPECT_EQ(refused.body, R"({"error":"bad gateway","cause":"connection refused"})");
    // The internal address stays in the gateway's log, not in the answer.
    EXPECT_EQ(refused.body.find("127.0.0.1"), std::string::npos);
    EXPECT_EQ(exchange(get_request("/nowhere")).status, 404);
    EXPECT_EQ(exchange("DELETE /api/x HTTP/1.1\r\nHost: gw\r\n\r\n").status, 405);
    EXPECT_EQ(exchange(get_request("/api/_health")).status, 200);
    const Response stats = exchange(get_request("/_stats"));
    EXPECT_EQ(stats.status, 200);
    EXPECT_EQ(stats.header("Content-Type"), "application/json");
    EXPECT_EQ(stats.body, R"({"responses":{"200":1,"404":1,"405":1,"502":1},"total":4})");
}

TEST_F(GatewayExample, EchoJsonValidatesAndRewritesItsBody) {
    run("127.0.0.1:" + std::to_string(closed_port()));
    if (HasFatalFailure() || IsSkipped()) return;
    auto post = [&](const std::string& body) {
        return exchange("POST /echo-json HTTP/1.1\r\nHost: gw\r\nContent-Type: application/json\r\n"
                        "Content-Length: " + std::to_string(body.size()) + "\r\n\r\n" + body);
    };
    const Response good = post(R"( { "name" : "caf\u00e9", "n": [1, 2.50, -0, 12345678901234567890123],
                                      "ok": true, "none": null } )");
    EXPECT_EQ(good.status, 200);
    EXPECT_EQ(good.header("Content-Type"), "application/json");
    EXPECT_EQ(good.body,
              "{\"name\":\"caf\xc3\xa9\",\"n\":[1,2.50,-0,12345678901234567890123],\"ok\":true,"
              "\"none\":null}");
    const Response bad = post(R"({"a": [1 2]})");
    EXPECT_EQ(bad.status, 400);
    EXPECT_EQ(bad.header("Content-Type"), "application/json");
    EXPECT_NE(bad.body.find(R"("error":"invalid JSON")"), std::string::npos) << bad.body;
    EXPECT_NE(bad.body.find(R"("position":9)"), std::string::npos) << bad.body;
    EXPECT_EQ(post("").status, 400);
}

TEST_F(GatewayExample, RefusesToStartWithoutAnUpstream) {
    NEXURE_SKIP_WITHOUT_IO_URING();
    ASSERT_TRUE(process_.start({NEXURE_EXAMPLE_GATEWAY_BIN, "--port", "0"}));
    const ExitStatus status = process_.wait(deadline_in(5'000ms));
    EXPECT_TRUE(status.exited);
    EXPECT_EQ(status.code, 2);
    EXPECT_NE(process_.stderr_text().find("--upstream HOST:PORT is required"), std::string::npos);
}

}  // namespace
}  // namespace nexure::test
