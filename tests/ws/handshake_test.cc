// The opening handshake (net/ws/handshake.h): RFC 6455 §4.2's checks, the accept key, and
// subprotocol selection.
#include "net/ws/handshake.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace nexure::net::ws {
namespace {

HandshakeRequest good() {
    HandshakeRequest r;
    r.method = "GET";
    r.http_1_1 = true;
    r.upgrade = "websocket";
    r.connection = "Upgrade";
    r.key = "dGhlIHNhbXBsZSBub25jZQ==";
    r.version = "13";
    return r;
}

TEST(WsHandshake, AcceptKeyOfTheRfcExample) {
    // RFC 6455 §1.3.
    EXPECT_EQ(accept_key("dGhlIHNhbXBsZSBub25jZQ=="), "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
    // The example key of Wikipedia's WebSocket article (checked with Python's hashlib).
    EXPECT_EQ(accept_key("x3JJHMbDL1EzLkh9GBhXDw=="), "HSmrc0sMlYUkAGmm5OPpG2HaGWk=");
}

TEST(WsHandshake, AValidRequestPasses) {
    EXPECT_EQ(check_handshake(good()).status, 0);
    HandshakeRequest r = good();
    r.upgrade = "WebSocket";               // case-insensitive token
    r.connection = "keep-alive, Upgrade";  // one token among others
    EXPECT_EQ(check_handshake(r).status, 0);
    r.upgrade = "h2c, websocket";
    r.connection = "upgrade,keep-alive";
    EXPECT_EQ(check_handshake(r).status, 0);
}

TEST(WsHandshake, MalformedRequestsAre400WithTheFieldNamed) {
    auto status_of = [](HandshakeRequest r) { return check_handshake(r); };
    HandshakeRequest r = good();
    r.method = "POST";
    EXPECT_EQ(status_of(r).status, 400);
    EXPECT_NE(status_of(r).reason.find("GET"), std::string_view::npos);
    r = good();
    r.http_1_1 = false;
    EXPECT_EQ(status_of(r).status, 400);
    r = good();
    r.upgrade = "";
    EXPECT_EQ(status_of(r).status, 400);
    EXPECT_NE(status_of(r).reason.find("Upgrade"), std::string_view::npos);
    r.upgrade = "websockets";  // not the token
    EXPECT_EQ(status_of(r).status, 400);
    r = good();
    r.connection = "keep-alive";
    EXPECT_EQ(status_of(r).status, 400);
    EXPECT_NE(status_of(r).reason.find("Connection"), std::string_view::npos);
    r = good();
    r.key = "";
    EXPECT_EQ(status_of(r).status, 400);
    EXPECT_NE(status_of(r).reason.find("Sec-WebSocket-Key"), std::string_view::npos);
    for (const char* bad : {"dGhlIHNhbXBsZSBub25jZQ=", "dGhlIHNhbXBsZSBub25jZQ===",
                            "dGhlIHNhbXBsZSBub25jZ!==", "dGhlIHNhbXBsZSBub25jZQAA", "c2hvcnQ="}) {
        r.key = bad;
        EXPECT_EQ(status_of(r).status, 400) << bad;
    }
}

TEST(WsHandshake, AVersionOtherThan13Is426) {
    HandshakeRequest r = good();
    for (const char* v : {"8", "12", "14", "", "13, 8"}) {
        r.version = v;
        const HandshakeCheck c = check_handshake(r);
        EXPECT_EQ(c.status, 426) << v;
        EXPECT_NE(c.reason.find("13"), std::string_view::npos) << v;
    }
}

TEST(WsHandshake, SubprotocolIsTheClientsFirstThatTheServerSpeaks) {
    const std::vector<std::string> supported = {"chat.v2", "chat"};
    EXPECT_EQ(select_subprotocol("chat, chat.v2", supported), "chat");
    EXPECT_EQ(select_subprotocol("superchat,  chat.v2 ,chat", supported), "chat.v2");
    EXPECT_EQ(select_subprotocol("CHAT", supported), "");  // case-sensitive
    EXPECT_EQ(select_subprotocol("", supported), "");
    EXPECT_EQ(select_subprotocol("mqtt", supported), "");
    EXPECT_EQ(select_subprotocol("chat", std::vector<std::string>{}), "");
}

}  // namespace
}  // namespace nexure::net::ws
