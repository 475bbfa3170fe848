// WebSocket on the engine (Server::ws, net/ws/): the handshake's answers, echo, fragments with
// control frames between them, the close handshake and its codes, limits, backpressure under
// publish, pub/sub across workers, idle pings and timeouts, permessage-deflate, and the server's
// stop — over real sockets, frames checked byte for byte.
#include <gtest/gtest.h>
#include <sys/socket.h>
#include <zlib.h>

#include <atomic>
#include <chrono>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "net/loop.h"
#include "net/server.h"
#include "net/ws/websocket.h"
#include "tests/integration/server_fixture.h"
#include "tests/support/wait.h"
#include "tests/support/ws_client.h"

namespace nexure::net {
namespace {

using test::deadline_in;
using test::WsClient;
using test::WsFrame;
using ws::Opcode;
using namespace std::chrono_literals;

// What the server's callbacks saw, for the test thread.
struct Seen {
    std::mutex mutex;
    std::vector<std::pair<uint16_t, std::string>> closes;  // code, reason
    std::atomic<int> opens{0};
    std::set<unsigned> workers;  // workers that opened a socket

    void closed(uint16_t code, std::string_view reason) {
        std::lock_guard lock(mutex);
        closes.emplace_back(code, std::string(reason));
    }
    bool has_close(uint16_t code) {
        std::lock_guard lock(mutex);
        for (auto& c : closes)
            if (c.first == code) return true;
        return false;
    }
    size_t close_count() {
        std::lock_guard lock(mutex);
        return closes.size();
    }
};

class WebSocketTest : public ServerTest {
  protected:
    // /echo (and /chat: topic "room", publish to all) with `tune` applied to both behaviours.
    void start_ws(ServerConfig config = test_config(),
                  const std::function<void(WsBehaviour&)>& tune = {}) {
        auto server = std::make_unique<Server>(config);
        Server* s = server.get();
        WsBehaviour echo;
        echo.open = [this](WebSocket&) {
            ++seen_.opens;
            std::lock_guard lock(seen_.mutex);
            seen_.workers.insert(Loop::current().index());
        };
        echo.message = [](WebSocket& ws, std::string_view m, bool binary) { ws.send(m, binary); };
        echo.close = [this](WebSocket&, uint16_t code, std::string_view reason) {
            seen_.closed(code, reason);
        };
        WsBehaviour chat = echo;
        chat.open = [this](WebSocket& ws) {
            ws.subscribe("room");
            ++seen_.opens;
            std::lock_guard lock(seen_.mutex);
            seen_.workers.insert(Loop::current().index());
        };
        chat.message = [s](WebSocket&, std::string_view m, bool binary) {
            s->publish("room", m, binary);
        };
        if (tune) {
            tune(echo);
            tune(chat);
        }
        server->ws("/echo", echo);
        server->ws("/chat", chat);
        start_server(std::move(server));
    }

    bool wait_opens(int n) {
        return test::poll_until([&] { return seen_.opens.load() >= n; }, deadline_in(5s));
    }

    Seen seen_;
};

TEST_F(WebSocketTest, HandshakeAnswers101WithTheAcceptKeyOfRfc6455) {
    ASSERT_NO_FATAL_FAILURE(start_ws());
    WsClient c;
    test::Response r;
    ASSERT_TRUE(c.open(port_, "/echo", {}, &r));
    EXPECT_EQ(r.header("upgrade"), "websocket");
    EXPECT_EQ(r.header("connection"), "Upgrade");
    EXPECT_EQ(r.header("sec-websocket-accept"), "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
    EXPECT_FALSE(r.has_header("sec-websocket-extensions"));  // compression is off by default
}

TEST_F(WebSocketTest, APlainGetIs426AndABadHandshakeIs400Or426) {
    ASSERT_NO_FATAL_FAILURE(start_ws());
    test::Response r = exchange(test::get_request("/echo"));
    EXPECT_EQ(r.status, 426);
    EXPECT_EQ(r.header("upgrade"), "websocket");

    std::string v12 = WsClient::handshake("/echo");
    v12.replace(v12.find("Version: 13"), 11, "Version: 12");
    r = exchange(v12);
    EXPECT_EQ(r.status, 426);
    EXPECT_EQ(r.header("sec-websocket-version"), "13");

    std::string no_key = WsClient::handshake("/echo");
    no_key.erase(no_key.find("Sec-WebSocket-Key"), std::string("Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n").size());
    r = exchange(no_key);
    EXPECT_EQ(r.status, 400);
    EXPECT_NE(r.body.find("Sec-WebSocket-Key"), std::string::npos) << r.body;

    // Not a GET: the route is GET only.
    std::string post = WsClient::handshake("/echo");
    post.replace(0, 3, "POST");
    r = exchange(post);
    EXPECT_EQ(r.status, 405);
}

TEST_F(WebSocketTest, EchoesTextAndBinaryAndFramesSentWithTheHandshake) {
    ASSERT_NO_FATAL_FAILURE(start_ws());
    WsClient c;
    ASSERT_TRUE(c.open(port_, "/echo"));
    ASSERT_TRUE(c.send_text("hello"));
    WsFrame f;
    ASSERT_TRUE(c.read_frame(&f));
    EXPECT_EQ(f.opcode, Opcode::kText);
    EXPECT_TRUE(f.fin);
    EXPECT_EQ(f.payload, "hello");
    std::string bin(70000, '\0');
    for (size_t i = 0; i < bin.size(); ++i) bin[i] = static_cast<char>(i * 7);
    ASSERT_TRUE(c.send_frame(Opcode::kBinary, bin));
    ASSERT_TRUE(c.read_frame(&f));
    EXPECT_EQ(f.opcode, Opcode::kBinary);
    EXPECT_EQ(f.payload.size(), bin.size());
    EXPECT_TRUE(f.payload == bin);  // (not printed: 70,000 bytes)

    // A client that sends its first frame in the handshake's segment: the engine hands those
    // bytes over with the connection.
    WsClient d;
    ASSERT_TRUE(d.http().connect(port_));
    alloc::ByteBuffer frame;
    const uint32_t mask = 0x01020304;
    ws::append_frame(frame, Opcode::kText, true, false, "early", &mask);
    ASSERT_TRUE(d.send_raw(WsClient::handshake("/echo") + std::string(frame.view())));
    test::Response r;
    ASSERT_TRUE(d.http().read_response(&r));
    ASSERT_EQ(r.status, 101);
    std::string rest = d.http().take_pending_bytes();
    // The echo may already be in what was read with the 101.
    ws::FrameHeader h;
    if (ws::parse_frame_header(rest, h) == ws::HeaderStatus::kComplete) {
        EXPECT_EQ(rest.substr(h.header_size, h.length), "early");
    } else {
        // Not yet arrived: read it as a frame.
        WsClient& dc = d;
        (void)dc;
        ASSERT_TRUE(test::poll_until([&] { return d.http().unread_bytes() > 0; }, deadline_in(5s)));
        char buf[64];
        const ssize_t n = ::recv(d.http().fd(), buf, sizeof buf, 0);
        ASSERT_GT(n, 2);
        EXPECT_EQ(std::string(buf + 2, static_cast<size_t>(n) - 2), "early");
    }
}

TEST_F(WebSocketTest, FragmentsWithAPingBetweenThemAreOneMessageAndThePongComesFirst) {
    ASSERT_NO_FATAL_FAILURE(start_ws());
    WsClient c;
    ASSERT_TRUE(c.open(port_, "/echo"));
    // "héllo" split inside the two-byte é (0xC3 0xA9).
    const std::string text = "h\xC3\xA9llo";
    ASSERT_TRUE(c.send_frame(Opcode::kText, text.substr(0, 2), false));
    ASSERT_TRUE(c.send_frame(Opcode::kPing, "are you there"));
    ASSERT_TRUE(c.send_frame(Opcode::kContinuation, text.substr(2), true));
    WsFrame f;
    ASSERT_TRUE(c.read_frame(&f));
    EXPECT_EQ(f.opcode, Opcode::kPong);
    EXPECT_EQ(f.payload, "are you there");
    ASSERT_TRUE(c.read_frame(&f));
    EXPECT_EQ(f.opcode, Opcode::kText);
    EXPECT_EQ(f.payload, text);
}

TEST_F(WebSocketTest, TheCloseHandshakeEchoesTheCodeAndTheServerClosesTcp) {
    ASSERT_NO_FATAL_FAILURE(start_ws());
    WsClient c;
    ASSERT_TRUE(c.open(port_, "/echo"));
    ASSERT_TRUE(c.send_close(1000, "bye"));
    WsFrame f;
    ASSERT_TRUE(c.read_frame(&f));
    EXPECT_EQ(f.opcode, Opcode::kClose);
    EXPECT_EQ(f.close_code(), 1000);
    EXPECT_TRUE(c.wait_closed());
    ASSERT_TRUE(test::poll_until([&] { return seen_.close_count() == 1; }, deadline_in(5s)));
    std::lock_guard lock(seen_.mutex);
    EXPECT_EQ(seen_.closes[0].first, 1000);
    EXPECT_EQ(seen_.closes[0].second, "bye");
}

TEST_F(WebSocketTest, BrokenRulesCloseWithTheirCodes) {
    ASSERT_NO_FATAL_FAILURE(start_ws(test_config(), [](WsBehaviour& b) { b.max_payload = 1000; }));
    struct Case {
        const char* name;
        std::function<::testing::AssertionResult(WsClient&)> send;
        uint16_t code;
    };
    const std::vector<Case> cases = {
        {"unmasked frame", [](WsClient& c) { return c.send_frame(Opcode::kText, "x", true, false, false); }, 1002},
        {"message over max_payload", [](WsClient& c) { return c.send_frame(Opcode::kBinary, std::string(2000, 'b')); }, 1009},
        {"invalid UTF-8", [](WsClient& c) { return c.send_text("ok \xC0\xAF"); }, 1007},
        {"RSV1 without deflate", [](WsClient& c) { return c.send_frame(Opcode::kText, "x", true, true); }, 1002},
        {"continuation without a message", [](WsClient& c) { return c.send_frame(Opcode::kContinuation, "x"); }, 1002},
        {"fragmented ping", [](WsClient& c) { return c.send_frame(Opcode::kPing, "x", false); }, 1002},
        {"close code 1005 on the wire", [](WsClient& c) { return c.send_close(1005); }, 1002},
    };
    for (const Case& k : cases) {
        SCOPED_TRACE(k.name);
        WsClient c;
        ASSERT_TRUE(c.open(port_, "/echo"));
        ASSERT_TRUE(k.send(c));
        WsFrame f;
        ASSERT_TRUE(c.read_frame(&f));
        EXPECT_EQ(f.opcode, Opcode::kClose);
        EXPECT_EQ(f.close_code(), k.code);
        EXPECT_TRUE(c.wait_closed());
        ASSERT_TRUE(test::poll_until([&] { return seen_.has_close(k.code); }, deadline_in(5s)));
    }
}

TEST_F(WebSocketTest, ADisconnectMidFrameReports1006) {
    ASSERT_NO_FATAL_FAILURE(start_ws());
    WsClient c;
    ASSERT_TRUE(c.open(port_, "/echo"));
    ASSERT_TRUE(test::poll_until([&] { return seen_.opens.load() == 1; }, deadline_in(5s)));
    alloc::ByteBuffer frame;
    const uint32_t mask = 7;
    ws::append_frame(frame, Opcode::kText, true, false, std::string(1000, 'a'), &mask);
    ASSERT_TRUE(c.send_raw(frame.view().substr(0, 300)));
    c.close();
    ASSERT_TRUE(test::poll_until([&] { return seen_.has_close(1006); }, deadline_in(5s)));
    // The server goes on.
    WsClient d;
    ASSERT_TRUE(d.open(port_, "/echo"));
    ASSERT_TRUE(d.send_text("still here"));
    WsFrame f;
    ASSERT_TRUE(d.read_frame(&f));
    EXPECT_EQ(f.payload, "still here");
}

TEST_F(WebSocketTest, APublishReachesSubscribersOnEveryWorker) {
    ServerConfig config = test_config();
    config.threads = 2;
    ASSERT_NO_FATAL_FAILURE(start_ws(config));
    std::vector<std::unique_ptr<WsClient>> clients;
    // SO_REUSEPORT spreads connections over the workers; connect until both have some.
    for (int i = 0; i < 64; ++i) {
        clients.push_back(std::make_unique<WsClient>());
        ASSERT_TRUE(clients.back()->open(port_, "/chat"));
        ASSERT_TRUE(wait_opens(i + 1));
        std::lock_guard lock(seen_.mutex);
        if (seen_.workers.size() == 2 && clients.size() >= 4) break;
    }
    {
        std::lock_guard lock(seen_.mutex);
        ASSERT_EQ(seen_.workers.size(), 2u) << "the kernel put every connection on one worker";
    }
    ASSERT_TRUE(clients[0]->send_text("to the room"));
    for (auto& c : clients) {
        WsFrame f;
        ASSERT_TRUE(c->read_frame(&f));
        EXPECT_EQ(f.payload, "to the room");
    }
}

TEST_F(WebSocketTest, ASlowSubscriberIsClosedAt1008WhileTheOthersGetEverything) {
    ASSERT_NO_FATAL_FAILURE(start_ws(test_config(), [](WsBehaviour& b) {
        b.max_backpressure = 256 * 1024;
    }));
    WsClient fast, slow, publisher;
    ASSERT_TRUE(fast.open(port_, "/chat"));
    ASSERT_TRUE(slow.open(port_, "/chat"));
    ASSERT_TRUE(publisher.open(port_, "/chat"));
    ASSERT_TRUE(wait_opens(3));
    // `slow` never reads: its receive window and the server's limit fill, then it is closed.
    const int small = 4096;
    ::setsockopt(slow.http().fd(), SOL_SOCKET, SO_RCVBUF, &small, sizeof small);
    const std::string message(8 * 1024, 'm');
    const int count = 2500;  // 20 MB: beyond the slow socket's 256 KiB and the kernel's buffers
    for (int i = 0; i < count; ++i) {
        ASSERT_TRUE(publisher.send_text(message));
        // The publisher and `fast` read each message before the next is sent (in lockstep, so
        // that neither falls behind on a loaded machine and becomes a slow one too).
        WsFrame f;
        ASSERT_TRUE(publisher.read_frame(&f, deadline_in(10s)));
        ASSERT_TRUE(fast.read_frame(&f, deadline_in(10s))) << "message " << i;
        ASSERT_EQ(f.payload.size(), message.size());
    }
    ASSERT_TRUE(test::poll_until([&] { return seen_.has_close(1008); }, deadline_in(10s)));
    EXPECT_EQ(seen_.close_count(), 1u);  // only the slow one
}

TEST_F(WebSocketTest, PublishesAWorkerHasNotDeliveredCountInThePublishBacklog) {
    std::mutex loop_mutex;
    std::optional<Loop> loop;  // the worker's, from its open callback
    ASSERT_NO_FATAL_FAILURE(start_ws(test_config(), [&](WsBehaviour& b) {
        b.open = [&, open = b.open](WebSocket& ws) {
            {
                // Before `open` counts this socket: wait_opens() below must find the loop set.
                std::lock_guard lock(loop_mutex);
                loop = Loop::current();
            }
            open(ws);
        };
    }));
    EXPECT_EQ(server_->publish_backlog(), 0u);
    WsClient subscriber;
    ASSERT_TRUE(subscriber.open(port_, "/chat"));
    ASSERT_TRUE(wait_opens(1));
    // Hold the worker in a task, so that what is published from this thread waits for it.
    std::atomic<bool> holding{false};
    std::atomic<bool> release{false};
    {
        std::lock_guard lock(loop_mutex);
        ASSERT_TRUE(loop.has_value());
        ASSERT_TRUE(loop->post([&] {
            holding = true;
            while (!release) std::this_thread::sleep_for(1ms);
        }));
    }
    ASSERT_TRUE(test::poll_until([&] { return holding.load(); }, deadline_in(5s)));
    const std::string message(64 * 1024, 'p');
    const int count = 12;  // 768 KiB: within the default max_backpressure (1 MiB)
    for (int i = 0; i < count; ++i)
        ASSERT_TRUE(server_->publish("room", message));
    // Each message counts once: its topic and its payload.
    EXPECT_EQ(server_->publish_backlog(), count * (4 + message.size()));
    release = true;
    ASSERT_TRUE(test::poll_until([&] { return server_->publish_backlog() == 0; }, deadline_in(5s)));
    for (int i = 0; i < count; ++i) {
        WsFrame f;
        ASSERT_TRUE(subscriber.read_frame(&f, deadline_in(10s))) << "message " << i;
        ASSERT_TRUE(f.payload == message) << "message " << i << ": " << f.payload.size() << " bytes";
    }
}

TEST_F(WebSocketTest, StoppingTheServerSends1001) {
    ASSERT_NO_FATAL_FAILURE(start_ws());
    WsClient c;
    ASSERT_TRUE(c.open(port_, "/echo"));
    ASSERT_TRUE(wait_opens(1));
    std::thread stopper([&] { server_->stop(); });
    WsFrame f;
    ASSERT_TRUE(c.read_frame(&f));
    EXPECT_EQ(f.opcode, Opcode::kClose);
    EXPECT_EQ(f.close_code(), 1001);
    ASSERT_TRUE(c.send_close(1001));
    EXPECT_TRUE(c.wait_closed());
    stopper.join();
    EXPECT_TRUE(seen_.has_close(1001));
}

TEST_F(WebSocketTest, AnIdleClientIsPingedThenClosed) {
    ASSERT_NO_FATAL_FAILURE(start_ws(test_config(), [](WsBehaviour& b) { b.idle_timeout_s = 2; }));
    WsClient c;
    ASSERT_TRUE(c.open(port_, "/echo"));
    WsFrame f;
    ASSERT_TRUE(c.read_frame(&f, deadline_in(5s)));
    EXPECT_EQ(f.opcode, Opcode::kPing);
    // Not answered: the close follows.
    ASSERT_TRUE(c.read_frame(&f, deadline_in(5s)));
    EXPECT_EQ(f.opcode, Opcode::kClose);
    EXPECT_EQ(f.close_code(), 1001);

    // A client that answers pings stays.
    WsClient d;
    ASSERT_TRUE(d.open(port_, "/echo"));
    const auto until = test::Clock::now() + 4500ms;
    int pings = 0;
    while (test::Clock::now() < until) {
        if (!d.read_frame(&f, until)) break;
        ASSERT_EQ(f.opcode, Opcode::kPing);
        ++pings;
        ASSERT_TRUE(d.send_frame(Opcode::kPong, f.payload));
    }
    EXPECT_GE(pings, 2);
    ASSERT_TRUE(d.send_text("alive"));
    ASSERT_TRUE(d.read_frame(&f));
    EXPECT_EQ(f.payload, "alive");
}

TEST_F(WebSocketTest, TheUpgradeHookRefusesOrAttachesData) {
    auto server = std::make_unique<Server>(test_config());
    WsBehaviour b;
    b.subprotocols = {"chat.v2", "chat.v1"};
    b.upgrade = [](const http::Request& req, WsUpgrade& up) {
        if (req.header("authorization") != "Bearer good") {
            up.refuse(401, "who are you?\n");
            return;
        }
        up.data = std::string(req.path());
    };
    b.open = [](WebSocket& ws) {
        ws.send(std::any_cast<std::string&>(ws.data()) + " " + std::string(ws.protocol()));
    };
    server->ws("/auth", b);
    start_server(std::move(server));
    test::Response r = exchange(WsClient::handshake("/auth"));
    EXPECT_EQ(r.status, 401);
    EXPECT_EQ(r.body, "who are you?\n");
    WsClient c;
    ASSERT_TRUE(c.open(port_, "/auth",
                       "Authorization: Bearer good\r\nSec-WebSocket-Protocol: chat.v1, chat.v2\r\n",
                       &r));
    // The client's first preference that the server speaks (select_subprotocol).
    EXPECT_EQ(r.header("sec-websocket-protocol"), "chat.v1");
    WsFrame f;
    ASSERT_TRUE(c.read_frame(&f));
    EXPECT_EQ(f.payload, "/auth chat.v1");
}

// An upgrade decided after the hook returned (WsUpgrade::defer): accepted or refused from a timer;
// what the client sent after its handshake waits, and is WebSocket or HTTP as decided.
TEST_F(WebSocketTest, ADeferredUpgradeIsAcceptedOrRefusedLater) {
    auto server = std::make_unique<Server>(test_config());
    WsBehaviour b;
    b.upgrade = [](const http::Request& req, WsUpgrade& up) {
        const bool ok = req.header("authorization") == "Bearer good";
        const bool drop = req.header("authorization") == "Bearer drop";
        auto pending = std::make_shared<WsPendingUpgrade>(up.defer());
        if (drop) return;  // the handle goes: 500
        Loop::current().after(30, [pending, ok] {
            if (ok) {
                pending->accept(std::string("checked"));
            } else {
                pending->refuse(403, "no\n");
            }
        });
    };
    b.open = [](WebSocket& ws) { ws.send(std::any_cast<std::string&>(ws.data())); };
    b.message = [](WebSocket& ws, std::string_view m, bool binary) { ws.send(m, binary); };
    server->ws("/later", b);
    server->get("/plain", [](const Request&, http::Response& res) { res.body("plain"); });
    start_server(std::move(server));

    // Accepted: a frame sent right behind the handshake is the socket's first message.
    WsClient c;
    ASSERT_TRUE(c.http().connect(port_));
    alloc::ByteBuffer frame;
    const uint32_t mask = 0x0A0B0C0D;
    ws::append_frame(frame, Opcode::kText, true, false, "right behind", &mask);
    ASSERT_TRUE(c.send_raw(WsClient::handshake("/later", "Authorization: Bearer good\r\n") +
                           std::string(frame.view())));
    test::Response r;
    ASSERT_TRUE(c.http().read_response(&r));
    ASSERT_EQ(r.status, 101);
    std::string rest = c.http().take_pending_bytes();
    WsFrame f;
    // (The frames may already be in what was read with the 101: parse them from there first.)
    std::vector<std::string> got;
    while (got.size() < 2) {
        ws::FrameHeader h;
        if (ws::parse_frame_header(rest, h) == ws::HeaderStatus::kComplete &&
            rest.size() >= h.header_size + h.length) {
            got.push_back(rest.substr(h.header_size, h.length));
            rest.erase(0, h.header_size + h.length);
            continue;
        }
        char buf[256];
        const ssize_t n = ::recv(c.http().fd(), buf, sizeof buf, 0);
        ASSERT_GT(n, 0);
        rest.append(buf, static_cast<size_t>(n));
    }
    EXPECT_EQ(got[0], "checked");
    EXPECT_EQ(got[1], "right behind");

    // Refused: the request pipelined behind the handshake is HTTP again, and answered.
    test::HttpClient d;
    ASSERT_TRUE(d.connect(port_));
    ASSERT_TRUE(d.send_all(WsClient::handshake("/later", "Authorization: Bearer bad\r\n") +
                           test::get_request("/plain")));
    std::vector<test::Response> rs;
    ASSERT_TRUE(d.read_responses(2, &rs));
    EXPECT_EQ(rs[0].status, 403);
    EXPECT_EQ(rs[0].body, "no\n");
    EXPECT_EQ(rs[1].status, 200);
    EXPECT_EQ(rs[1].body, "plain");

    // Dropped undecided: 500.
    r = exchange(WsClient::handshake("/later", "Authorization: Bearer drop\r\n"));
    EXPECT_EQ(r.status, 500);
}

// permessage-deflate: a client-compressed message is inflated, and the echo comes compressed.
std::string raw_deflate(std::string_view in) {
    z_stream z{};
    deflateInit2(&z, Z_DEFAULT_COMPRESSION, Z_DEFLATED, -15, 8, Z_DEFAULT_STRATEGY);
    std::string out(in.size() + 64, '\0');
    z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(in.data()));
    z.avail_in = static_cast<uInt>(in.size());
    z.next_out = reinterpret_cast<Bytef*>(out.data());
    z.avail_out = static_cast<uInt>(out.size());
    deflate(&z, Z_SYNC_FLUSH);
    out.resize(out.size() - z.avail_out);
    deflateEnd(&z);
    out.resize(out.size() - 4);  // 00 00 ff ff
    return out;
}

std::string raw_inflate(std::string in) {
    in.append("\x00\x00\xff\xff", 4);
    z_stream z{};
    inflateInit2(&z, -15);
    std::string out(1 << 20, '\0');
    z.next_in = reinterpret_cast<Bytef*>(in.data());
    z.avail_in = static_cast<uInt>(in.size());
    z.next_out = reinterpret_cast<Bytef*>(out.data());
    z.avail_out = static_cast<uInt>(out.size());
    inflate(&z, Z_SYNC_FLUSH);
    out.resize(out.size() - z.avail_out);
    inflateEnd(&z);
    return out;
}

TEST_F(WebSocketTest, PermessageDeflateRoundTrips) {
    ASSERT_NO_FATAL_FAILURE(start_ws(test_config(), [](WsBehaviour& b) {
        b.compression.enabled = true;
    }));
    WsClient c;
    test::Response r;
    ASSERT_TRUE(c.open(port_, "/echo",
                       "Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n", &r));
    EXPECT_NE(r.header("sec-websocket-extensions").find("permessage-deflate"), std::string::npos)
        << r.header("sec-websocket-extensions");
    std::string text;
    for (int i = 0; i < 200; ++i) text += "the quick brown fox jumps over the lazy dog " + std::to_string(i) + "\n";
    ASSERT_TRUE(c.send_frame(Opcode::kText, raw_deflate(text), true, true));
    WsFrame f;
    ASSERT_TRUE(c.read_frame(&f));
    EXPECT_EQ(f.opcode, Opcode::kText);
    EXPECT_TRUE(f.rsv1);
    EXPECT_LT(f.payload.size(), text.size() / 4);
    EXPECT_EQ(raw_inflate(f.payload), text);
    // Short messages go uncompressed.
    ASSERT_TRUE(c.send_text("hi"));
    ASSERT_TRUE(c.read_frame(&f));
    EXPECT_FALSE(f.rsv1);
    EXPECT_EQ(f.payload, "hi");
}

// Large messages go to the kernel at once when nothing is queued (Socket::send_direct); what it
// does not take (a client that is not reading) is queued, and every byte arrives in order.
TEST_F(WebSocketTest, LargeMessagesThatTheKernelTakesInPartArriveWhole) {
    auto server = std::make_unique<Server>(test_config());
    WsBehaviour b;
    b.max_backpressure = 32 * 1024 * 1024;
    b.message = [](WebSocket& ws, std::string_view m, bool) {
        const int n = std::stoi(std::string(m));
        for (int i = 0; i < n; ++i) {
            std::string big(1024 * 1024, static_cast<char>('a' + i));
            big[0] = static_cast<char>('0' + i);
            ws.send(big, true);
        }
    };
    server->ws("/big", b);
    start_server(std::move(server));
    WsClient c;
    ASSERT_TRUE(c.open(port_, "/big"));
    // 16 MiB: more than the kernel's buffers on both sides hold while the client does not read.
    ASSERT_TRUE(c.send_text("16"));
    std::this_thread::sleep_for(100ms);  // the server fills what the kernel will hold, and queues
    for (int i = 0; i < 16; ++i) {
        WsFrame f;
        ASSERT_TRUE(c.read_frame(&f, deadline_in(10s))) << "message " << i;
        ASSERT_EQ(f.opcode, Opcode::kBinary);
        ASSERT_EQ(f.payload.size(), 1024u * 1024);
        EXPECT_EQ(f.payload[0], static_cast<char>('0' + i));
        EXPECT_EQ(f.payload.find_first_not_of(static_cast<char>('a' + i), 1), std::string::npos)
            << "message " << i << " is not whole";
    }
}

TEST_F(WebSocketTest, ASocketIsFoundByItsIdFromATimer) {
    auto server = std::make_unique<Server>(test_config());
    WsBehaviour b;
    b.open = [](WebSocket& ws) {
        const uint64_t id = ws.id();
        Loop::current().after(20, [id] {
            if (WebSocket* w = WebSocket::find(id)) w->send("later");
        });
    };
    server->ws("/later", b);
    start_server(std::move(server));
    WsClient c;
    ASSERT_TRUE(c.open(port_, "/later"));
    WsFrame f;
    ASSERT_TRUE(c.read_frame(&f));
    EXPECT_EQ(f.payload, "later");
    EXPECT_EQ(WebSocket::find(0), nullptr);  // off a worker thread: nothing
}

}  // namespace
}  // namespace nexure::net
