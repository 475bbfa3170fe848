// examples/cpp/api_example.cc, the program the README's C++ listing shows, run as a user would:
// started on a free port, every route exercised over a socket, stopped with SIGTERM.
// NEXURE_EXAMPLE_API_BIN names the binary (a compile definition: tests/CMakeLists.txt).
#include <gtest/gtest.h>
#include <signal.h>

#include <chrono>
#include <string>

#include "tests/support/http_client.h"
#include "tests/support/io_uring_probe.h"
#include "tests/support/process.h"

namespace nexure::test {
namespace {

using namespace std::chrono_literals;

class ApiExample : public ::testing::Test {
  protected:
    void SetUp() override {
        NEXURE_SKIP_WITHOUT_IO_URING();
        ASSERT_TRUE(process_.start({NEXURE_EXAMPLE_API_BIN, "--port", "0"}));
        port_ = process_.wait_for_listening_port();
        ASSERT_NE(port_, 0) << "no 'listening on' line; stdout: '" << process_.stdout_text()
                            << "' stderr: '" << process_.stderr_text() << "'";
    }

    Response exchange(const std::string& request) {
        HttpClient c;
        Response r;
        EXPECT_TRUE(c.connect(port_));
        EXPECT_TRUE(c.send_all(request));
        EXPECT_TRUE(c.read_response(&r)) << request;
        return r;
    }

    static std::string post_items(const std::string& type, const std::string& body) {
        return "POST /items HTTP/1.1\r\nHost: t\r\nContent-Type: " + type +
               "\r\nContent-Length: " + std::to_string(body.size()) + "\r\n\r\n" + body;
    }

    Process process_;
    uint16_t port_ = 0;
};

TEST_F(ApiExample, QueryStringsGreetByName) {
    Response r = exchange(get_request("/hello?name=Ada"));
    EXPECT_EQ(r.status, 200);
    EXPECT_EQ(r.header("Content-Type"), "text/plain");
    EXPECT_EQ(r.body, "Hello, Ada!");
    r = exchange(get_request("/hello"));
    EXPECT_EQ(r.body, "Hello, World!");
}

TEST_F(ApiExample, RouteParametersComeBackAsJson) {
    const Response r = exchange(get_request("/repos/nexure/engine"));
    EXPECT_EQ(r.status, 200);
    EXPECT_EQ(r.header("Content-Type"), "application/json");
    EXPECT_EQ(r.body, R"({"owner":"nexure","repo":"engine"})");
}

TEST_F(ApiExample, ItemsAreCreatedWithALocationAndOnlyFromJson) {
    Response r = exchange(post_items("application/json", R"({"name":"a"})"));
    EXPECT_EQ(r.status, 201);
    EXPECT_EQ(r.header("Location"), "/items/1");
    EXPECT_EQ(r.body, R"({"name":"a"})");
    r = exchange(post_items("application/json", "{}"));
    EXPECT_EQ(r.header("Location"), "/items/2");
    r = exchange(post_items("text/plain", "name=a"));
    EXPECT_EQ(r.status, 415);
    EXPECT_EQ(r.body, "send application/json\n");
}

TEST_F(ApiExample, BodiesOverTheLimitGet413AndDeletesGet204) {
    const std::string big(64 * 1024 + 1, 'x');
    Response r = exchange(post_items("application/json", big));
    EXPECT_EQ(r.status, 413);
    r = exchange("DELETE /items/7 HTTP/1.1\r\nHost: t\r\n\r\n");
    EXPECT_EQ(r.status, 204);
    EXPECT_EQ(r.body, "");
    r = exchange(get_request("/nowhere"));
    EXPECT_EQ(r.status, 404);
}

TEST_F(ApiExample, SigtermStopsItWithExitCodeZero) {
    EXPECT_EQ(exchange(get_request("/hello")).status, 200);
    ASSERT_TRUE(process_.kill(SIGTERM));
    const ExitStatus status = process_.wait(deadline_in(10'000ms));
    EXPECT_TRUE(status.exited) << status;
    EXPECT_EQ(status.code, 0) << status << " stderr: " << process_.stderr_text();
}

}  // namespace
}  // namespace nexure::test
