// Request::remote_address() / local_address(): the two ends of the request's connection, as the
// client sees them from its own socket (getsockname/getpeername on the client side), over IPv4
// and IPv6, for pipelined requests, and for a new connection that reuses a closed one's slot.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <memory>
#include <string>
#include <vector>

#include "net/http/endpoint.h"
#include "net/server.h"
#include "tests/integration/server_fixture.h"
#include "tests/support/http_client.h"

namespace nexure::net {
namespace {

using test::deadline_in;
using test::HttpClient;


// "<remote ip> <remote port> <local ip> <local port>" of the request's connection.
void add_whoami(Server& s) {
    s.get("/whoami", [](const Request& req, http::Response& res) {
        const http::Endpoint remote = req.remote_address();
        const http::Endpoint local = req.local_address();
        res.type("text/plain").body(remote.address() + " " + std::to_string(remote.port) + " " +
                                    local.address() + " " + std::to_string(local.port) + " " +
                                    std::to_string(static_cast<int>(remote.family)));
    });
}

// What the client's own socket says: the same four values, and the family.
std::string seen_by_client(int fd) {
    sockaddr_storage mine{};
    sockaddr_storage theirs{};
    socklen_t a = sizeof(mine);
    socklen_t b = sizeof(theirs);
    if (getsockname(fd, reinterpret_cast<sockaddr*>(&mine), &a) != 0) return "getsockname failed";
    if (getpeername(fd, reinterpret_cast<sockaddr*>(&theirs), &b) != 0) return "getpeername failed";
    const http::Endpoint me = http::Endpoint::from(reinterpret_cast<sockaddr*>(&mine));
    const http::Endpoint server = http::Endpoint::from(reinterpret_cast<sockaddr*>(&theirs));
    return me.address() + " " + std::to_string(me.port) + " " + server.address() + " " +
           std::to_string(server.port) + " " + std::to_string(static_cast<int>(me.family));
}

class ClientAddressTest : public ServerTest {
  protected:
    void start_whoami(const std::string& host) {
        ServerConfig config = test_config();
        config.host = host;
        auto server = std::make_unique<Server>(config);
        add_whoami(*server);
        start_server(std::move(server));
    }
};

TEST_F(ClientAddressTest, RemoteAndLocalAddressAreTheConnectionsEndsOverIPv4) {
    ASSERT_NO_FATAL_FAILURE(start_whoami("127.0.0.1"));
    HttpClient c;
    ASSERT_TRUE(connect(c));
    const std::string expected = seen_by_client(c.fd());
    EXPECT_TRUE(expected.starts_with("127.0.0.1 ")) << expected;
    // Pipelined: every request of the connection says the same.
    ASSERT_TRUE(c.send_all(test::get_request("/whoami") + test::get_request("/whoami")));
    std::vector<test::Response> rs;
    ASSERT_TRUE(c.read_responses(2, &rs));
    EXPECT_EQ(rs[0].body, expected);
    EXPECT_EQ(rs[1].body, expected);
}

TEST_F(ClientAddressTest, ANewConnectionInAReusedSlotReportsItsOwnEnds) {
    ASSERT_NO_FATAL_FAILURE(start_whoami("127.0.0.1"));
    std::vector<std::string> seen;
    for (int i = 0; i < 3; ++i) {
        HttpClient c;
        ASSERT_TRUE(connect(c));
        const std::string expected = seen_by_client(c.fd());
        ASSERT_TRUE(c.send_all(test::get_request("/whoami")));
        test::Response r;
        ASSERT_TRUE(c.read_response(&r));
        EXPECT_EQ(r.body, expected) << "connection " << i;
        seen.push_back(r.body);
        c.close();
    }
    EXPECT_NE(seen[0], seen[1]);  // another client port each time
    EXPECT_NE(seen[1], seen[2]);
}

TEST_F(ClientAddressTest, RemoteAndLocalAddressOverIPv6) {
    ServerConfig config = test_config();
    config.host = "::1";
    auto server = std::make_unique<Server>(config);
    add_whoami(*server);
    Result<void> started = server->start();
    if (!started.ok()) GTEST_SKIP() << "no IPv6 loopback here: " << started.error().message;
    server_ = std::move(server);
    port_ = server_->port();

    const int fd = socket(AF_INET6, SOCK_STREAM | SOCK_CLOEXEC, 0);
    ASSERT_GE(fd, 0);
    sockaddr_in6 to{};
    to.sin6_family = AF_INET6;
    to.sin6_port = htons(port_);
    to.sin6_addr = in6addr_loopback;
    ASSERT_EQ(::connect(fd, reinterpret_cast<sockaddr*>(&to), sizeof(to)), 0);
    const std::string expected = seen_by_client(fd);
    EXPECT_TRUE(expected.starts_with("::1 ")) << expected;
    EXPECT_TRUE(expected.ends_with(" 6")) << expected;
    const std::string request = test::get_request("/whoami");
    ASSERT_EQ(::send(fd, request.data(), request.size(), MSG_NOSIGNAL),
              static_cast<ssize_t>(request.size()));
    std::string got;
    char buf[4096];
    while (got.find(" 6") == std::string::npos || got.find("\r\n\r\n") == std::string::npos) {
        const ssize_t n = ::recv(fd, buf, sizeof(buf), 0);
        if (n <= 0) break;
        got.append(buf, static_cast<size_t>(n));
        if (got.ends_with(expected)) break;
    }
    ::close(fd);
    EXPECT_TRUE(got.ends_with("\r\n\r\n" + expected)) << got;
}

TEST(Endpoint, FormatsAddressesAsInetNtopDoes) {
    sockaddr_in in{};
    in.sin_family = AF_INET;
    in.sin_port = htons(8080);
    ASSERT_EQ(inet_pton(AF_INET, "203.0.113.7", &in.sin_addr), 1);
    const http::Endpoint v4 = http::Endpoint::from(reinterpret_cast<sockaddr*>(&in));
    EXPECT_EQ(v4.family, http::Endpoint::Family::kIPv4);
    EXPECT_EQ(v4.port, 8080);
    EXPECT_EQ(v4.address(), "203.0.113.7");

    sockaddr_in6 in6{};
    in6.sin6_family = AF_INET6;
    in6.sin6_port = htons(443);
    ASSERT_EQ(inet_pton(AF_INET6, "::ffff:10.0.0.1", &in6.sin6_addr), 1);
    const http::Endpoint mapped = http::Endpoint::from(reinterpret_cast<sockaddr*>(&in6));
    EXPECT_EQ(mapped.family, http::Endpoint::Family::kIPv6);
    EXPECT_EQ(mapped.address(), "::ffff:10.0.0.1");
    ASSERT_EQ(inet_pton(AF_INET6, "2001:db8:0:0:1:0:0:1", &in6.sin6_addr), 1);
    EXPECT_EQ(http::Endpoint::from(reinterpret_cast<sockaddr*>(&in6)).address(), "2001:db8::1:0:0:1");

    EXPECT_FALSE(http::Endpoint{});
    EXPECT_EQ(http::Endpoint{}.address(), "");
    EXPECT_FALSE(http::Endpoint::peer_of(-1));
}

TEST(Endpoint, ARequestNotMadeByTheEngineHasNoAddresses) {
    const http::Request req;
    EXPECT_FALSE(req.remote_address());
    EXPECT_FALSE(req.local_address());
}

}  // namespace
}  // namespace nexure::net
