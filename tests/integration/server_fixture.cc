#include "tests/integration/server_fixture.h"

#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>

namespace nexure::net {

ServerConfig test_config() {
    ServerConfig c;
    c.host = "127.0.0.1";
    c.port = 0;
    c.threads = 1;
    c.pin_threads = false;
    c.recv_buffer_count = 256;
    c.drain_timeout_ms = 5000;
    c.linger_timeout_ms = 1000;
    return c;
}

void add_test_routes(Server& s) {
    s.get("/", [](const Request&, http::Response& res) {
        res.type("text/plain").body("Hello, World!");
    });
    s.get("/json", [](const Request&, http::Response& res) {
        res.type("application/json").body(R"({"message":"Hello, World!"})");
    });
    s.get("/users/:id", [](const Request& req, http::Response& res) {
        res.type("text/plain").body("user ").append(req.param("id"));
    });
    s.post("/echo", [](const Request& req, http::Response& res) {
        res.type(req.header("content-type").value_or("application/octet-stream")).body(req.body());
    });
    s.get("/headers", [](const Request& req, http::Response& res) {
        size_t bytes = 0;
        for (const http::Header& h : req.headers())
            bytes += h.name.size() + h.value.size();
        res.type("text/plain")
            .body(std::to_string(req.headers().size()) + " " + std::to_string(bytes));
    });
    s.get("/throw", [](const Request&, http::Response& res) {
        res.body("partial output that must not leak");
        throw std::runtime_error("handler failure for the test");
    });
    s.get("/throw-int", [](const Request&, http::Response&) { throw 42; });
    s.get("/bad-header", [](const Request&, http::Response& res) {
        res.type("text/plain").header("X-Bad", "a\r\nX-Injected: yes").body("should not be sent");
    });
    s.get("/no-content",
          [](const Request&, http::Response& res) { res.status(204).body("dropped"); });
    s.get("/close",
          [](const Request&, http::Response& res) { res.type("text/plain").body("bye").close(); });
    s.get("/bytes/:n", [](const Request& req, http::Response& res) {
        // n bytes of a pattern that encodes the request's n, so a mixed-up response shows.
        const std::string n(req.param("n"));
        const size_t count = std::stoul(n);
        std::string body;
        body.reserve(count);
        while (body.size() < count)
            body += n + ";";
        body.resize(count);
        res.type("application/octet-stream").body(body);
    });
    s.get("/fill/:n", [](const Request& req, http::Response& res) {
        const size_t n = std::stoul(std::string(req.param("n")));
        res.type("application/octet-stream").body(std::string(n, 'f'));
    });
    s.get("/custom", [](const Request&, http::Response& res) {
        res.status(201).type("text/plain").header("X-Custom", "yes").body("created");
    });
    s.get("/static/*", [](const Request& req, http::Response& res) {
        res.type("text/plain").body("static [").append(req.param("*")).append("]");
    });
    s.get("/files/:name.json", [](const Request& req, http::Response& res) {
        res.type("text/plain").body("json [").append(req.param("name")).append("]");
    });
    s.get("/decoded/:value", [](const Request& req, http::Response& res) {
        const std::optional<std::string_view> value = req.param_decoded("value");
        if (!value) {
            res.status(400).type("text/plain").body("bad escape");
            return;
        }
        res.type("text/plain").body("[").append(*value).append("]");
    });
}

void ServerTest::start(ServerConfig config) {
    auto server = std::make_unique<Server>(config);
    add_test_routes(*server);
    start_server(std::move(server));
}

void ServerTest::start_server(std::unique_ptr<Server> server) {
    server_ = std::move(server);
    Result<void> r = server_->start();
    ASSERT_TRUE(r.ok()) << r.error().message;
    port_ = server_->port();
    ASSERT_NE(port_, 0);
}

void ServerTest::SetUp() {
    NEXURE_SKIP_WITHOUT_IO_URING();
}

void ServerTest::TearDown() {
    if (server_) {
        server_->stop();
        server_->wait();
    }
}

test::Response ServerTest::exchange(const std::string& request, bool head) {
    test::HttpClient c;
    test::Response r;
    EXPECT_TRUE(connect(c));
    EXPECT_TRUE(c.send_all(request));
    EXPECT_TRUE(c.read_response(&r, test::deadline_in(test::kIoTimeout), head));
    return r;
}

}  // namespace nexure::net
