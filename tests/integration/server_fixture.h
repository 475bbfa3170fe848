// The in-process server the integration tests talk to: a configuration for tests (one worker,
// a kernel-chosen port on 127.0.0.1), the test routes, and a fixture that starts and stops it.
#pragma once

#include <gtest/gtest.h>

#include <cstdint>
#include <memory>
#include <string>

#include "net/server.h"
#include "tests/support/http_client.h"
#include "tests/support/io_uring_probe.h"

namespace nexure::net {

ServerConfig test_config();

// GET /, /json, /users/:id, /headers, /throw, /throw-int, /bad-header, /no-content, /close,
// /bytes/:n (n bytes that encode n), /fill/:n (n bytes of 'f', made fast), /custom, /static/*,
// /files/:name.json, /decoded/:value; POST /echo (the body back, with the request's Content-Type).
void add_test_routes(Server& s);

class ServerTest : public ::testing::Test {
  protected:
    // Skips the test, before its body runs, when the kernel does not let this process use
    // io_uring (tests/support/io_uring_probe.h); any other start-up failure fails the test.
    void SetUp() override;
    // Starts the server; a failure to start is a fatal failure of the test.
    void start(ServerConfig config = test_config());
    // Like start(), for a server the test has already given its own routes.
    void start_server(std::unique_ptr<Server> server);
    void TearDown() override;

    ::testing::AssertionResult connect(test::HttpClient& c) { return c.connect(port_); }
    // One request on a fresh connection.
    test::Response exchange(const std::string& request, bool head = false);

    std::unique_ptr<Server> server_;
    uint16_t port_ = 0;
};

}  // namespace nexure::net
