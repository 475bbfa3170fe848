// Hooks: code that sees every request before it is routed and every answer as it goes out —
// access logs, metrics, authentication — and the bodies of the engine's own answers (404, 408,
// 413, 500, 503, ...). Registered on the Server before start() (net/server.h):
//
//   server.on_request([](const Request& req, Response& res) {          // before routing
//       if (!req.header("authorization")) {
//           res.status(401).header("WWW-Authenticate", "Bearer").body("token required\n");
//           return HookResult::kAnswered;                              // no route runs
//       }
//       return HookResult::kContinue;
//   });
//   server.on_response([](const ResponseInfo& r) {                     // every answer
//       log_line(r.method_name, r.target, r.status, cause_name(r.cause), r.body_bytes);
//   });
//   server.error_response([](const EngineAnswer& a, Response& res) {   // the engine's answers
//       JsonWriter json(res);
//       json.begin_object().key("status").value(a.status).key("error").value(cause_name(a.cause));
//       json.end_object();
//   });
//
// Every hook runs on the worker threads, several at once (one per worker): state they share
// needs synchronisation. They run to completion on the worker, like handlers, and must not block.
// What they are given (views, the Request) is valid only during the call. A server without hooks
// pays nothing for them: one predictable branch per request (net/README.md, "Hooks").
#pragma once

#include <cstdint>
#include <functional>
#include <string_view>

#include "net/http/method.h"
#include "net/http/request.h"
#include "net/http/response.h"

namespace nexure::net {

// What a before-route hook decided.
enum class HookResult : uint8_t {
    // The next hook runs, then routing; what the hook wrote into the Response is dropped.
    kContinue,
    // The hook's Response is the answer: no other hook and no route runs.
    kAnswered,
};

// A before-route hook (Server::on_request). It runs for every request that reaches routing —
// complete, or for a route that streams its body (RouteOptions::stream_body) when its head is —
// and for requests the router would answer itself (404, 405, 501, OPTIONS). It does not run for
// what the parser refuses (400, 413, 414, 431, ...): those bytes never made a request; the
// after-response hook sees their answers. Path parameters are not known to a hook (routing has
// not run: read req.path(), not req.params()). An answer is synchronous: status, fields and body;
// defer(), stream() and upgrade() are for handlers (in a hook they make the answer a 500). A hook
// that throws, or answers with an invalid field, answers 500 (logged like a handler error).
using RequestHook = std::function<HookResult(const http::Request&, http::Response&)>;

// Who gave an answer, or why the engine gave it.
enum class AnswerCause : uint8_t {
    kHandler,  // a route's handler: at once, deferred (Later), streamed, upgraded, or handed off
    kFixed,    // a fixed route (Server::fixed)
    kHook,     // a before-route hook (kAnswered)
    kOptions,  // 204 with Allow: OPTIONS for a path that has no OPTIONS route
    // The engine's own answers from here on (their bodies are error_response()'s to shape):
    kNoRoute,               // 404
    kMethodNotAllowed,      // 405, with Allow
    kNotImplemented,        // 501: a method no route takes, CONNECT, a transfer coding
    kBadRequest,            // 400: malformed (detail: the parser's reason), or a body cut short
    kUriTooLong,            // 414: the target is over Limits::max_target_size
    kHeaderFieldsTooLarge,  // 431: the head is over max_head_size or max_header_count
    kBodyTooLarge,          // 413: Content-Length or the body over its limit
    kExpectationFailed,     // 417: an Expect other than 100-continue
    kVersionNotSupported,   // 505: not HTTP/1.x
    kRequestTimeout,        // 408: the head or body did not arrive in time
    kHandlerError,          // 500: a handler or hook threw or wrote an invalid response
    kHandlerTimeout,        // 503: a deferred or handed-off answer not given in time
    kUnavailable,           // 503: the server is stopping, or out of memory for a request
};

// A short stable name: "handler", "fixed", "hook", "options", "no-route", "method-not-allowed",
// "not-implemented", "bad-request", "uri-too-long", "header-fields-too-large", "body-too-large",
// "expectation-failed", "version-not-supported", "request-timeout", "handler-error",
// "handler-timeout", "unavailable".
std::string_view cause_name(AnswerCause cause) noexcept;

// The cause of a status the parser (RequestParser's kError) or a deadline answers with: 400
// kBadRequest, 408, 413, 414, 417, 431, 501, 503 (no memory to hold a request), 505.
AnswerCause refusal_cause(int status) noexcept;

// Whether the engine itself gave this answer (kNoRoute and after).
constexpr bool is_engine_answer(AnswerCause cause) noexcept {
    return cause >= AnswerCause::kNoRoute;
}

// What an after-response hook is told of one answer. Views are valid during the call only.
struct ResponseInfo {
    // The request, when there was one: for an answer to bytes the parser refused (400, 413, 414,
    // 431, 505, ...) or to a request that did not arrive in time (408), `method_name` and
    // `target` are empty and `method` is kOther.
    http::Method method = http::Method::kOther;
    std::string_view method_name;  // as sent ("GET", "PROPFIND")
    std::string_view target;       // the request-target as sent ("/users/7?full=1")
    int status = 0;
    AnswerCause cause = AnswerCause::kHandler;
    // More about an engine answer, when the engine knows more than its status says: the parser's
    // reason for a 400 ("Host missing or invalid"), a handler's error for a 500 (the exception's
    // what()), the limit that a 413/414/431 passed. Empty otherwise.
    std::string_view detail;
    // Body bytes framed: 0 for HEAD, 1xx, 204 and 304; for a stream, what it wrote in all.
    uint64_t body_bytes = 0;
    // From the request's dispatch (its route chosen) to this answer, on the worker's loop-turn
    // clock: 0 for an answer given in the same loop turn, a deferred answer's wait otherwise
    // (to within a turn). 0 for a request never dispatched (the parser's answers, 408).
    uint64_t elapsed_us = 0;
    // False for a streamed answer the connection ended before the stream did (reset, drain, a
    // body cut short of its Content-Length): `body_bytes` is what it wrote until then.
    bool complete = true;
    unsigned worker = 0;  // the worker thread's index
};

// An after-response hook (Server::on_response): runs once per answer when it is framed into the
// connection's output (queued to be sent, in the worker's loop turn), for every answer — a
// handler's (at once, deferred, handed off), a hook's, a fixed route's and the engine's own. A
// streamed answer is seen when it ends (or is cut: `complete` false), an upgrade when its 101 is
// framed. Pipelined answers are seen in request order when they are given in that order; an
// answer given early (a deferred answer behind another) is seen when it is given. Not seen:
// `100 Continue` (interim), and answers that never reach the output (places dropped behind an
// answer that closed the connection). A hook that throws is logged and the rest run.
using ResponseHook = std::function<void(const ResponseInfo&)>;

// An answer the engine gives itself (is_engine_answer(cause)), for Server::error_response().
struct EngineAnswer {
    int status = 0;
    AnswerCause cause = AnswerCause::kNoRoute;
    std::string_view detail;  // as ResponseInfo::detail
};

// Shapes the engine's own answers (Server::error_response). `res` holds the status only; the
// callback writes the Content-Type, header fields and body (a JsonWriter may write into it). A
// callback that writes nothing leaves the default answer: text/plain, the reason phrase and a
// newline ("Not Found\n"), or the form registered for that status. The status and the
// connection's handling stay the engine's: a callback that sets another status, asks to close
// (Connection: close), or fails (throws, an invalid field, Content-Length, defer()/stream())
// also leaves the default, and the misuse is logged. The engine adds Content-Length, Date,
// Server and Connection as for any answer; 405 keeps its Allow field; HEAD gets the head only.
using ErrorResponder = std::function<void(const EngineAnswer&, http::Response&)>;

}  // namespace nexure::net
