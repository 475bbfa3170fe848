// Hooks (net/hooks.h) over real sockets: a before-route hook that answers 401 for a missing bearer
// token and lets the rest through (C++, fixed, handed-off and body-streaming routes), hooks in
// registration order, a throwing hook; the after-response hook seeing status, cause, request and
// bytes for every answer — a handler's (at once, deferred, streamed, handed off), a fixed route's
// and the engine's own (404, 405, 400, 413, 431, 408, 500, 503, 501) — in request order for a
// pipelined batch; custom bodies for the engine's answers with their Content-Length, and the
// default bytes unchanged without them.
#include "net/hooks.h"

#include <gtest/gtest.h>
#include <sys/socket.h>

#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "engine/worker.h"
#include "net/handoff.h"
#include "net/http/json_writer.h"
#include "net/server.h"
#include "tests/integration/server_fixture.h"
#include "tests/support/http_client.h"
#include "tests/support/wait.h"

namespace nexure::net {
namespace {

using test::deadline_in;
using test::get_request;
using test::HttpClient;
using test::poll_until;
using test::Response;
using namespace std::chrono_literals;

// One ResponseInfo, copied out of the hook (its views end with the call).
struct Seen {
    std::string method;
    std::string target;
    int status = 0;
    AnswerCause cause = AnswerCause::kHandler;
    std::string detail;
    uint64_t body_bytes = 0;
    uint64_t elapsed_us = 0;
    bool complete = true;
};

std::ostream& operator<<(std::ostream& os, const Seen& s) {
    return os << "{" << s.method << " " << s.target << " " << s.status << " " << cause_name(s.cause)
              << " '" << s.detail << "' bytes=" << s.body_bytes << (s.complete ? "" : " cut")
              << "}";
}

// What the after-response hook saw, shared between the worker (writes) and the test (reads).
class Recorder {
  public:
    ResponseHook hook() {
        return [this](const ResponseInfo& i) {
            std::lock_guard lock(mutex_);
            seen_.push_back(Seen{std::string(i.method_name), std::string(i.target), i.status,
                                 i.cause, std::string(i.detail), i.body_bytes, i.elapsed_us,
                                 i.complete});
        };
    }
    // Waits until `n` answers were seen (the hook runs before the answer is sent, so after a
    // response arrived its record is there; the wait covers answers the client never reads).
    std::vector<Seen> wait_for(size_t n) {
        poll_until(
            [&] {
                std::lock_guard lock(mutex_);
                return seen_.size() >= n;
            },
            deadline_in(test::kIoTimeout));
        std::lock_guard lock(mutex_);
        return seen_;
    }
    size_t count() {
        std::lock_guard lock(mutex_);
        return seen_.size();
    }

  private:
    std::mutex mutex_;
    std::vector<Seen> seen_;
};

// A handoff that answers every request itself at the end of the worker's turn: enough to show
// that hooks see handed-off routes (the JavaScript bridge's kind) like any other.
class EchoHandoff final : public Handoff {
  public:
    void submit(const http::Request& req, uint32_t, const Ticket& ticket) noexcept override {
        pending_.emplace_back(ticket, "handed off " + std::string(req.target()));
    }
    bool saturated() const noexcept override { return false; }
    void on_turn_end(Completions& done) noexcept override {
        std::vector<std::pair<Ticket, std::string>> answers;
        answers.swap(pending_);
        for (const auto& [ticket, body] : answers) {
            done.response().type("text/plain").body(body);
            done.complete(ticket);
        }
    }
    bool prepare_to_sleep() noexcept override { return pending_.empty(); }
    void awake() noexcept override {}

  private:
    std::vector<std::pair<Ticket, std::string>> pending_;  // worker thread only
};

// Writes "abc" then "de" from a worker timer, then ends.
struct LaterStream : std::enable_shared_from_this<LaterStream> {
    explicit LaterStream(Stream s) : stream(std::move(s)) {}
    Stream stream;
};

class HooksTest : public ServerTest {
  protected:
    // A server with the test routes below; `setup` adds hooks (and may change more).
    void start_hooked(const std::function<void(Server&)>& setup,
                      ServerConfig config = test_config()) {
        auto s = std::make_unique<Server>(config);
        s->get("/hello", [this](const Request&, http::Response& res) {
            ++handled_;
            res.type("text/plain").body("hello");
        });
        s->get("/private/data", [this](const Request&, http::Response& res) {
            ++handled_;
            res.type("text/plain").body("secret data");
        });
        s->get("/throw", [](const Request&, http::Response&) {
            throw std::runtime_error("boom in the handler");
        });
        s->post("/echo", [](const Request& req, http::Response& res) { res.body(req.body()); });
        s->get("/never", [this](const Request&, http::Response& res) {
            kept_.push_back(std::make_shared<Later>(res.defer()));  // never answered
        });
        s->get("/timer/:ms", [](const Request& req, http::Response& res) {
            const uint64_t ms = std::stoull(std::string(req.param("ms")));
            Loop::current().after(ms, [later = res.defer(), ms]() mutable {
                later.respond([ms](http::Response& r) { r.body("timer " + std::to_string(ms)); });
            });
        });
        s->get("/stream-later", [](const Request&, http::Response& res) {
            auto st = std::make_shared<LaterStream>(res.type("text/plain").stream());
            Loop::current().after(10, [st] {
                st->stream.write("abc");
                st->stream.write("de");
                st->stream.end();
            });
        });
        s->get("/stream-forever", [this](const Request&, http::Response& res) {
            auto stream = std::make_shared<Stream>(res.stream());
            stream->write("x");
            kept_streams_.push_back(std::move(stream));  // never ended
        });
        s->get("/cut", [](const Request&, http::Response& res) {
            Stream st = res.stream(10);  // says 10 bytes, ends after 4: the connection closes
            st.write("1234");
            st.end();
        });
        s->route(
            Method::kPost, "/upload",
            [this](const Request& req, http::Response& res) {
                ++handled_;
                BodyReader body = req.body_stream();  // taken: the body is read (and dropped)
                res.body("took the body");
            },
            RouteOptions{.stream_body = true});
        s->fixed(Method::kGet, "/health",
                 FixedResponse{
                     .status = 200, .content_type = "text/plain", .headers = {}, .body = "ok"});
        s->handoff_route(Method::kGet, "/js/:x", 1);
        s->set_handoff([](engine::Worker&) -> Result<std::unique_ptr<Handoff>> {
            return std::unique_ptr<Handoff>(std::make_unique<EchoHandoff>());
        });
        setup(*s);
        start_server(std::move(s));
    }
    void TearDown() override {
        ServerTest::TearDown();  // the server is gone: the kept Laters answer nothing
        kept_.clear();
        kept_streams_.clear();
    }

    // A request on a fresh connection that the server answers and then closes.
    Response refused(const std::string& request) {
        HttpClient c;
        Response r;
        EXPECT_TRUE(connect(c));
        EXPECT_TRUE(c.send_all(request));
        EXPECT_TRUE(c.read_response(&r));
        bool closed = false;
        c.read_until_eof(deadline_in(test::kIoTimeout), &closed);
        EXPECT_TRUE(closed) << "the connection should close after " << r.status;
        return r;
    }

    std::atomic<int> handled_{0};
    std::vector<std::shared_ptr<Later>> kept_;  // touched on the worker thread only
    std::vector<std::shared_ptr<Stream>> kept_streams_;
    Recorder recorder_;
};

// The bearer-token check of the README's example.
HookResult require_token(const Request& req, http::Response& res) {
    if (!req.path().starts_with("/private") && !req.path().starts_with("/health") &&
        !req.path().starts_with("/js/") && !req.path().starts_with("/upload")) {
        return HookResult::kContinue;
    }
    if (req.header("authorization").value_or("") == "Bearer let-me-in") {
        return HookResult::kContinue;
    }
    res.status(401).header("WWW-Authenticate", "Bearer").type("text/plain").body("token needed\n");
    return HookResult::kAnswered;
}

// ---- before-route hooks ---------------------------------------------------------------------

TEST_F(HooksTest, ABearerTokenHookAnswers401AndLetsTheOthersThrough) {
    start_hooked([](Server& s) { s.on_request(require_token); });
    const Response denied = exchange(get_request("/private/data"));
    EXPECT_EQ(denied.status, 401);
    EXPECT_EQ(denied.header("WWW-Authenticate"), "Bearer");
    EXPECT_EQ(denied.body, "token needed\n");
    EXPECT_EQ(handled_.load(), 0) << "no route runs for a request the hook answered";

    const Response wrong =
        exchange(get_request("/private/data", "Authorization: Bearer guess\r\n"));
    EXPECT_EQ(wrong.status, 401);

    const Response allowed =
        exchange(get_request("/private/data", "Authorization: Bearer let-me-in\r\n"));
    EXPECT_EQ(allowed.status, 200);
    EXPECT_EQ(allowed.body, "secret data");

    const Response open = exchange(get_request("/hello"));
    EXPECT_EQ(open.status, 200);
    EXPECT_EQ(open.body, "hello");
    EXPECT_EQ(handled_.load(), 2);

    // A hook's answer keeps the connection like a handler's: the next request is served on it.
    HttpClient c;
    ASSERT_TRUE(connect(c));
    ASSERT_TRUE(c.send_all(get_request("/private/data") + get_request("/hello")));
    std::vector<Response> rs;
    ASSERT_TRUE(c.read_responses(2, &rs));
    EXPECT_EQ(rs[0].status, 401);
    EXPECT_EQ(rs[1].body, "hello");
}

TEST_F(HooksTest, TheHookGuardsFixedHandedOffAndBodyStreamingRoutesToo) {
    start_hooked([](Server& s) { s.on_request(require_token); });
    EXPECT_EQ(exchange(get_request("/health")).status, 401);
    EXPECT_EQ(exchange(get_request("/js/7")).status, 401);
    const std::string token = "Authorization: Bearer let-me-in\r\n";
    const Response fixed = exchange(get_request("/health", token));
    EXPECT_EQ(fixed.status, 200);
    EXPECT_EQ(fixed.body, "ok");
    const Response handed = exchange(get_request("/js/7?q=1", token));
    EXPECT_EQ(handed.status, 200);
    EXPECT_EQ(handed.body, "handed off /js/7?q=1");

    // A route that streams its body runs at its head: the hook does too, before the body is
    // read (no 100 Continue), and the connection closes after its answer.
    const Response upload = refused(
        "POST /upload HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n");
    EXPECT_EQ(upload.status, 401);
    EXPECT_EQ(upload.raw.find("100 Continue"), std::string::npos);
    EXPECT_EQ(handled_.load(), 0);
    const Response took =
        exchange("POST /upload HTTP/1.1\r\nHost: h\r\n" + token + "Content-Length: 5\r\n\r\nhello");
    EXPECT_EQ(took.status, 200);
    EXPECT_EQ(handled_.load(), 1);
}

TEST_F(HooksTest, HooksRunInRegistrationOrderAndAnAnswerEndsTheChain) {
    std::mutex m;
    std::vector<std::string> ran;
    auto hook = [&](std::string name, bool answers) {
        return [&, name, answers](const Request& req, http::Response& res) {
            {
                std::lock_guard lock(m);
                ran.push_back(name + " " + std::string(req.path()));
            }
            // What a hook writes without answering is dropped.
            res.status(299).header("X-Left-Over", name).body("left over");
            if (!answers || req.path() != "/stop") return HookResult::kContinue;
            res.status(403).body("stopped by " + name);
            return HookResult::kAnswered;
        };
    };
    start_hooked([&](Server& s) {
        s.on_request(hook("first", false));
        s.on_request(hook("second", true));
        s.on_request(hook("third", false));
    });
    const Response through = exchange(get_request("/hello"));
    EXPECT_EQ(through.status, 200);
    EXPECT_EQ(through.body, "hello");
    EXPECT_FALSE(through.has_header("X-Left-Over"));
    const Response stopped = exchange(get_request("/stop"));
    EXPECT_EQ(stopped.status, 403);
    EXPECT_EQ(stopped.body, "stopped by second");
    // It answered for itself: the header the first hook left does not leak into it either.
    EXPECT_EQ(stopped.header("X-Left-Over"), "second");
    std::lock_guard lock(m);
    EXPECT_EQ(ran, (std::vector<std::string>{"first /hello", "second /hello", "third /hello",
                                             "first /stop", "second /stop"}));
}

TEST_F(HooksTest, AThrowingHookAnswers500AndServingGoesOn) {
    start_hooked([this](Server& s) {
        s.on_request([](const Request& req, http::Response& res) {
            if (req.path() == "/boom") throw std::runtime_error("the hook broke");
            if (req.path() == "/odd") throw 42;
            if (req.path() == "/bad") {
                res.header("X-Bad", "a\r\nX-Injected: yes");
                return HookResult::kAnswered;
            }
            return HookResult::kContinue;
        });
        s.on_response(recorder_.hook());
    });
    HttpClient c;
    ASSERT_TRUE(connect(c));
    ASSERT_TRUE(c.send_all(get_request("/boom") + get_request("/odd") + get_request("/bad") +
                           get_request("/hello")));
    std::vector<Response> rs;
    ASSERT_TRUE(c.read_responses(4, &rs));
    EXPECT_EQ(rs[0].status, 500);
    EXPECT_EQ(rs[0].body, "Internal Server Error\n");
    EXPECT_EQ(rs[1].status, 500);
    EXPECT_EQ(rs[2].status, 500);
    EXPECT_FALSE(rs[2].has_header("X-Injected"));
    EXPECT_EQ(rs[3].body, "hello");
    const std::vector<Seen> seen = recorder_.wait_for(4);
    ASSERT_EQ(seen.size(), 4u);
    EXPECT_EQ(seen[0].cause, AnswerCause::kHandlerError);
    EXPECT_EQ(seen[0].detail, "the hook broke");
    EXPECT_EQ(seen[1].cause, AnswerCause::kHandlerError);
    EXPECT_EQ(seen[2].cause, AnswerCause::kHandlerError);
    EXPECT_NE(seen[2].detail.find("X-Bad"), std::string::npos) << seen[2];
    EXPECT_EQ(seen[3].cause, AnswerCause::kHandler);
}

TEST_F(HooksTest, HooksMustBeRegisteredBeforeTheServerStarts) {
    start_hooked([](Server&) {});
    EXPECT_THROW(server_->on_request(require_token), std::logic_error);
    EXPECT_THROW(server_->on_response([](const ResponseInfo&) {}), std::logic_error);
    EXPECT_THROW(server_->error_response([](const EngineAnswer&, http::Response&) {}),
                 std::logic_error);
    Server other(test_config());
    EXPECT_THROW(other.on_request(RequestHook{}), std::invalid_argument);
    EXPECT_THROW(other.on_response(ResponseHook{}), std::invalid_argument);
    EXPECT_THROW(other.error_response(ErrorResponder{}), std::invalid_argument);
    EXPECT_THROW(other.error_response(FixedResponse{
                     .status = 200, .content_type = "", .headers = {}, .body = "fine"}),
                 std::invalid_argument);
    EXPECT_THROW(
        other.error_response(FixedResponse{
            .status = 404, .content_type = "", .headers = {{"X-A", "b\r\nc"}}, .body = ""}),
        std::invalid_argument);
}

// ---- after-response hooks -------------------------------------------------------------------

TEST_F(HooksTest, TheAfterResponseHookSeesEachAnswerWithItsCause) {
    ServerConfig config = test_config();
    config.limits.max_body_size = 64;
    config.limits.max_head_size = 1024;
    start_hooked([this](Server& s) { s.on_response(recorder_.hook()); }, config);

    struct Case {
        std::string request;
        int status;
        AnswerCause cause;
        std::string method;  // "" when the engine answered bytes that made no request
        std::string target;
        uint64_t body_bytes;
        bool closes;
    };
    const std::vector<Case> cases = {
        {get_request("/hello?x=1"), 200, AnswerCause::kHandler, "GET", "/hello?x=1", 5, false},
        {"HEAD /hello HTTP/1.1\r\nHost: h\r\n\r\n", 200, AnswerCause::kHandler, "HEAD", "/hello", 0,
         false},
        {get_request("/health"), 200, AnswerCause::kFixed, "GET", "/health", 2, false},
        {get_request("/js/3"), 200, AnswerCause::kHandler, "GET", "/js/3", 16, false},
        {get_request("/missing"), 404, AnswerCause::kNoRoute, "GET", "/missing", 10, false},
        {"DELETE /hello HTTP/1.1\r\nHost: h\r\n\r\n", 405, AnswerCause::kMethodNotAllowed, "DELETE",
         "/hello", 19, false},
        {"OPTIONS /hello HTTP/1.1\r\nHost: h\r\n\r\n", 204, AnswerCause::kOptions, "OPTIONS",
         "/hello", 0, false},
        {"PROPFIND /hello HTTP/1.1\r\nHost: h\r\n\r\n", 501, AnswerCause::kNotImplemented,
         "PROPFIND", "/hello", 16, false},
        {get_request("/throw"), 500, AnswerCause::kHandlerError, "GET", "/throw", 22, false},
        {"POST /echo HTTP/1.1\r\nHost: h\r\nContent-Length: 65\r\n\r\n", 413,
         AnswerCause::kBodyTooLarge, "", "", 18, true},
        {"GET / HTTP/1.1\r\nHost: h\r\nX-Big: " + std::string(1100, 'x') + "\r\n\r\n", 431,
         AnswerCause::kHeaderFieldsTooLarge, "", "", 32, true},
        {"GET / HTTP/1.1\r\n\r\n", 400, AnswerCause::kBadRequest, "", "", 12, true},
    };
    for (size_t i = 0; i < cases.size(); ++i) {
        const Case& k = cases[i];
        SCOPED_TRACE(k.request.substr(0, 40));
        const bool head = k.method == "HEAD";
        Response r;
        if (k.closes) {
            r = refused(k.request);
        } else {
            r = exchange(k.request, head);
        }
        EXPECT_EQ(r.status, k.status);
        const std::vector<Seen> seen = recorder_.wait_for(i + 1);
        ASSERT_EQ(seen.size(), i + 1);
        const Seen& s = seen[i];
        EXPECT_EQ(s.status, k.status) << s;
        EXPECT_EQ(s.cause, k.cause) << s;
        EXPECT_EQ(s.method, k.method) << s;
        EXPECT_EQ(s.target, k.target) << s;
        EXPECT_EQ(s.body_bytes, k.body_bytes) << s;
        if (!head) {
            EXPECT_EQ(s.body_bytes, r.body.size()) << s;
        }
        EXPECT_TRUE(s.complete);
    }
    const std::vector<Seen> seen = recorder_.wait_for(cases.size());
    EXPECT_EQ(seen[8].detail, "boom in the handler");
    EXPECT_EQ(seen[9].detail, "Content-Length over max_body_size");
    EXPECT_EQ(seen[10].detail, "head larger than max_head_size");
    EXPECT_EQ(seen[11].detail, "Host missing, repeated or invalid");
    EXPECT_EQ(seen[4].detail, "");  // an engine answer with nothing more to say
}

TEST_F(HooksTest, ASlowHeadIs408AndSeen) {
    ServerConfig config = test_config();
    config.request_head_timeout_ms = 100;
    start_hooked([this](Server& s) { s.on_response(recorder_.hook()); }, config);
    const Response r = refused("GET /hello HTTP/1.1\r\nHost: h\r\n");  // the head never ends
    EXPECT_EQ(r.status, 408);
    const std::vector<Seen> seen = recorder_.wait_for(1);
    ASSERT_EQ(seen.size(), 1u);
    EXPECT_EQ(seen[0].status, 408);
    EXPECT_EQ(seen[0].cause, AnswerCause::kRequestTimeout);
    EXPECT_EQ(seen[0].method, "");
    EXPECT_EQ(seen[0].detail, "the head took longer than request_head_timeout_ms");
}

TEST_F(HooksTest, AHandlerTimeoutIs503AndSeenWithItsRequest) {
    ServerConfig config = test_config();
    config.handler_timeout_ms = 100;
    start_hooked([this](Server& s) { s.on_response(recorder_.hook()); }, config);
    HttpClient c;
    ASSERT_TRUE(connect(c));
    ASSERT_TRUE(c.send_all(get_request("/never") + get_request("/hello")));
    std::vector<Response> rs;
    ASSERT_TRUE(c.read_responses(2, &rs));
    EXPECT_EQ(rs[0].status, 503);
    EXPECT_EQ(rs[1].body, "hello");
    const std::vector<Seen> seen = recorder_.wait_for(2);
    ASSERT_EQ(seen.size(), 2u);
    EXPECT_EQ(seen[0].status, 503);
    EXPECT_EQ(seen[0].cause, AnswerCause::kHandlerTimeout);
    EXPECT_EQ(seen[0].method, "GET");
    EXPECT_EQ(seen[0].target, "/never");
    EXPECT_EQ(seen[0].detail, "no answer within handler_timeout_ms");
    EXPECT_GE(seen[0].elapsed_us, 100'000u);  // the timeout's own lower bound
    // /hello was answered at once but waited, framed, behind /never: seen when it went out.
    EXPECT_EQ(seen[1].target, "/hello");
    EXPECT_EQ(seen[1].status, 200);
    EXPECT_EQ(seen[1].body_bytes, 5u);
}

TEST_F(HooksTest, PipelinedAnswersAreSeenInRequestOrder) {
    start_hooked([this](Server& s) { s.on_response(recorder_.hook()); });
    HttpClient c;
    ASSERT_TRUE(connect(c));
    const std::vector<std::string> targets = {"/hello",   "/missing", "/health", "/js/1",
                                              "/hello?2", "/throw",   "/js/2",   "/hello?3"};
    std::string batch;
    for (const std::string& t : targets)
        batch += get_request(t);
    ASSERT_TRUE(c.send_all(batch));
    std::vector<Response> rs;
    ASSERT_TRUE(c.read_responses(targets.size(), &rs));
    const std::vector<Seen> seen = recorder_.wait_for(targets.size());
    ASSERT_EQ(seen.size(), targets.size());
    for (size_t i = 0; i < targets.size(); ++i) {
        EXPECT_EQ(seen[i].target, targets[i]) << i;
        EXPECT_EQ(seen[i].status, rs[i].status) << i;
    }
}

TEST_F(HooksTest, ADeferredAnswerIsSeenWhenGivenWithItsRequest) {
    start_hooked([this](Server& s) { s.on_response(recorder_.hook()); });
    const Response r = exchange(get_request("/timer/30"));
    EXPECT_EQ(r.body, "timer 30");
    const std::vector<Seen> seen = recorder_.wait_for(1);
    ASSERT_EQ(seen.size(), 1u);
    EXPECT_EQ(seen[0].method, "GET");
    EXPECT_EQ(seen[0].target, "/timer/30");
    EXPECT_EQ(seen[0].status, 200);
    EXPECT_EQ(seen[0].cause, AnswerCause::kHandler);
    EXPECT_EQ(seen[0].body_bytes, 8u);
    EXPECT_GE(seen[0].elapsed_us, 30'000u);  // not before its timer
}

TEST_F(HooksTest, AStreamIsSeenWhenItEndsOrIsCut) {
    start_hooked([this](Server& s) { s.on_response(recorder_.hook()); });
    const Response r = exchange(get_request("/stream-later"));
    EXPECT_EQ(r.body, "abcde");
    std::vector<Seen> seen = recorder_.wait_for(1);
    ASSERT_EQ(seen.size(), 1u);
    EXPECT_EQ(seen[0].target, "/stream-later");
    EXPECT_EQ(seen[0].status, 200);
    EXPECT_EQ(seen[0].body_bytes, 5u);
    EXPECT_TRUE(seen[0].complete);

    // Ended short of its Content-Length: cut, and the connection closes.
    HttpClient c;
    ASSERT_TRUE(connect(c));
    ASSERT_TRUE(c.send_all(get_request("/cut")));
    bool closed = false;
    const std::string bytes = c.read_until_eof(deadline_in(test::kIoTimeout), &closed);
    EXPECT_TRUE(closed);
    EXPECT_NE(bytes.find("Content-Length: 10"), std::string::npos);
    seen = recorder_.wait_for(2);
    ASSERT_EQ(seen.size(), 2u);
    EXPECT_EQ(seen[1].target, "/cut");
    EXPECT_EQ(seen[1].body_bytes, 4u);
    EXPECT_FALSE(seen[1].complete);
}

TEST_F(HooksTest, AStreamTheClientResetsIsSeenCut) {
    start_hooked([this](Server& s) { s.on_response(recorder_.hook()); });
    {
        HttpClient c;
        ASSERT_TRUE(connect(c));
        ASSERT_TRUE(c.send_all(get_request("/stream-forever")));
        // The head and the first chunk arrive (no end); then the client resets the connection.
        std::string got;
        ASSERT_TRUE(poll_until(
            [&] {
                char buf[4096];
                const ssize_t n = recv(c.fd(), buf, sizeof buf, MSG_DONTWAIT);
                if (n > 0) got.append(buf, static_cast<size_t>(n));
                return got.find("1\r\nx\r\n") != std::string::npos;
            },
            deadline_in(test::kIoTimeout)))
            << got;
        const linger reset{1, 0};
        ASSERT_EQ(setsockopt(c.fd(), SOL_SOCKET, SO_LINGER, &reset, sizeof reset), 0);
    }
    const std::vector<Seen> seen = recorder_.wait_for(1);
    ASSERT_EQ(seen.size(), 1u);
    EXPECT_EQ(seen[0].target, "/stream-forever");
    EXPECT_EQ(seen[0].status, 200);
    EXPECT_EQ(seen[0].body_bytes, 1u);
    EXPECT_FALSE(seen[0].complete);
}

TEST_F(HooksTest, AnAnswerFromAHookIsSeenAsTheHooks) {
    start_hooked([this](Server& s) {
        s.on_request(require_token);
        s.on_response(recorder_.hook());
    });
    EXPECT_EQ(exchange(get_request("/private/data")).status, 401);
    const std::vector<Seen> seen = recorder_.wait_for(1);
    ASSERT_EQ(seen.size(), 1u);
    EXPECT_EQ(seen[0].cause, AnswerCause::kHook);
    EXPECT_EQ(seen[0].target, "/private/data");
    EXPECT_EQ(seen[0].body_bytes, 13u);
}

TEST_F(HooksTest, AThrowingAfterResponseHookIsLoggedAndTheOthersRun) {
    std::atomic<int> second{0};
    start_hooked([&](Server& s) {
        s.on_response([](const ResponseInfo&) { throw std::runtime_error("log sink failed"); });
        s.on_response([&](const ResponseInfo&) { ++second; });
    });
    EXPECT_EQ(exchange(get_request("/hello")).body, "hello");
    EXPECT_EQ(exchange(get_request("/missing")).status, 404);
    EXPECT_EQ(second.load(), 2);
}

// ---- the engine's own answers, shaped -------------------------------------------------------

// {"status":404,"error":"no-route"} for every engine answer.
void json_errors(Server& s) {
    s.error_response([](const EngineAnswer& a, http::Response& res) {
        http::JsonWriter json(res);
        json.begin_object().key("status").value(a.status).key("error").value(cause_name(a.cause));
        json.end_object();
    });
}

std::string json_error(int status, std::string_view cause) {
    return "{\"status\":" + std::to_string(status) + ",\"error\":\"" + std::string(cause) + "\"}";
}

// The response's body and framing agree, and it is the JSON error for `status`.
void expect_json_error(const Response& r, int status, std::string_view cause) {
    EXPECT_EQ(r.status, status);
    EXPECT_EQ(r.header("Content-Type"), "application/json");
    EXPECT_EQ(r.body, json_error(status, cause));
    EXPECT_EQ(r.header("Content-Length"), std::to_string(r.body.size()));
}

TEST_F(HooksTest, TheEngineAnswersTakeCustomJsonBodies) {
    ServerConfig config = test_config();
    config.limits.max_body_size = 64;
    config.limits.max_head_size = 1024;
    start_hooked(json_errors, config);

    // 404 and 405 keep the connection (and 405 its Allow field).
    HttpClient c;
    ASSERT_TRUE(connect(c));
    ASSERT_TRUE(c.send_all(get_request("/missing") + "DELETE /hello HTTP/1.1\r\nHost: h\r\n\r\n" +
                           get_request("/hello")));
    std::vector<Response> rs;
    ASSERT_TRUE(c.read_responses(3, &rs));
    expect_json_error(rs[0], 404, "no-route");
    expect_json_error(rs[1], 405, "method-not-allowed");
    EXPECT_EQ(rs[1].header("Allow"), "GET, HEAD, OPTIONS");
    EXPECT_EQ(rs[2].body, "hello");

    expect_json_error(refused("POST /echo HTTP/1.1\r\nHost: h\r\nContent-Length: 65\r\n\r\n"), 413,
                      "body-too-large");
    expect_json_error(
        refused("GET / HTTP/1.1\r\nHost: h\r\nX-Big: " + std::string(1100, 'x') + "\r\n\r\n"), 431,
        "header-fields-too-large");
    expect_json_error(exchange(get_request("/throw")), 500, "handler-error");

    // HEAD gets the head only, with the length the body would have.
    HttpClient h;
    ASSERT_TRUE(connect(h));
    ASSERT_TRUE(h.send_all("HEAD /missing HTTP/1.1\r\nHost: h\r\n\r\n"));
    Response head;
    ASSERT_TRUE(h.read_response(&head, deadline_in(test::kIoTimeout), true));
    EXPECT_EQ(head.status, 404);
    EXPECT_EQ(head.header("Content-Length"), std::to_string(json_error(404, "no-route").size()));
    EXPECT_EQ(head.body, "");
}

TEST_F(HooksTest, TimeoutAnswersTakeCustomJsonBodies) {
    ServerConfig config = test_config();
    config.request_head_timeout_ms = 100;
    config.handler_timeout_ms = 100;
    start_hooked(json_errors, config);
    expect_json_error(refused("GET /hello HTTP/1.1\r\nHost: h\r\n"), 408, "request-timeout");
    const Response r = exchange(get_request("/never"));
    expect_json_error(r, 503, "handler-timeout");
}

TEST_F(HooksTest, AFormPerStatusAndCallbackMisuseKeepsTheDefault) {
    start_hooked([](Server& s) {
        s.error_response(FixedResponse{.status = 404,
                                       .content_type = "text/html",
                                       .headers = {{"Cache-Control", "no-store"}},
                                       .body = "<h1>Not here</h1>"});
        s.error_response([](const EngineAnswer& a, http::Response& res) {
            if (a.status == 405) res.status(200);  // another status: refused
            if (a.status == 501) res.close();      // the engine's Connection: refused
            if (a.status == 500) throw std::runtime_error("the error page broke");
            if (a.status == 400) res.header("X-Seen", "400");  // wrote something: its answer
        });
    });
    const Response form = exchange(get_request("/missing"));
    EXPECT_EQ(form.status, 404);
    EXPECT_EQ(form.header("Content-Type"), "text/html");
    EXPECT_EQ(form.header("Cache-Control"), "no-store");
    EXPECT_EQ(form.body, "<h1>Not here</h1>");  // the callback wrote nothing for it

    const Response header_only = refused("GET / HTTP/1.1\r\n\r\n");
    EXPECT_EQ(header_only.status, 400);
    EXPECT_EQ(header_only.header("X-Seen"), "400");
    EXPECT_EQ(header_only.body, "");
    EXPECT_EQ(header_only.header("Content-Length"), "0");

    HttpClient c;
    ASSERT_TRUE(connect(c));
    ASSERT_TRUE(c.send_all("DELETE /hello HTTP/1.1\r\nHost: h\r\n\r\n" +
                           std::string("PROPFIND /hello HTTP/1.1\r\nHost: h\r\n\r\n") +
                           get_request("/throw") + get_request("/hello")));
    std::vector<Response> rs;
    ASSERT_TRUE(c.read_responses(4, &rs));
    EXPECT_EQ(rs[0].status, 405);
    EXPECT_EQ(rs[0].body, "Method Not Allowed\n");
    EXPECT_EQ(rs[0].header("Allow"), "GET, HEAD, OPTIONS");
    EXPECT_EQ(rs[1].status, 501);
    EXPECT_EQ(rs[1].body, "Not Implemented\n");
    EXPECT_FALSE(rs[1].has_header("Connection"));  // still kept alive
    EXPECT_EQ(rs[2].status, 500);
    EXPECT_EQ(rs[2].body, "Internal Server Error\n");
    EXPECT_EQ(rs[3].body, "hello");
}

TEST_F(HooksTest, WithHooksButNoCustomBodiesTheEngineAnswersKeepTheirBytes) {
    start_hooked([this](Server& s) {
        s.on_request([](const Request&, http::Response&) { return HookResult::kContinue; });
        s.on_response(recorder_.hook());
    });
    // Without the Date line, whose value changes.
    auto without_date = [](std::string raw) {
        const size_t at = raw.find("Date: ");
        if (at != std::string::npos) raw.erase(at, raw.find("\r\n", at) + 2 - at);
        return raw;
    };
    EXPECT_EQ(without_date(exchange(get_request("/missing")).raw),
              "HTTP/1.1 404 Not Found\r\nServer: NexureJS\r\nContent-Type: text/plain\r\n"
              "Content-Length: 10\r\n\r\nNot Found\n");
    EXPECT_EQ(without_date(exchange("DELETE /hello HTTP/1.1\r\nHost: h\r\n\r\n").raw),
              "HTTP/1.1 405 Method Not Allowed\r\nServer: NexureJS\r\nContent-Type: text/plain\r\n"
              "Allow: GET, HEAD, OPTIONS\r\nContent-Length: 19\r\n\r\nMethod Not Allowed\n");
    EXPECT_EQ(without_date(refused("GET / HTTP/1.1\r\n\r\n").raw),
              "HTTP/1.1 400 Bad Request\r\nServer: NexureJS\r\nContent-Type: text/plain\r\n"
              "Content-Length: 12\r\nConnection: close\r\n\r\nBad Request\n");
}

}  // namespace
}  // namespace nexure::net
