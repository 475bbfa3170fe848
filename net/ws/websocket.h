// The C++ WebSocket API: a route that upgrades to WebSocket (Server::ws), the socket handle its
// callbacks get, and topics (pub/sub) that reach subscribers on every worker.
//
//   server.ws("/echo", {
//       .message = [](WebSocket& ws, std::string_view msg, bool binary) { ws.send(msg, binary); },
//   });
//   server.ws("/chat", {
//       .open = [](WebSocket& ws) { ws.subscribe("room"); },
//       .message = [](WebSocket& ws, std::string_view msg, bool binary) {
//           ws.publish("room", msg, binary);  // every subscriber, on every worker, but this one
//       },
//   });
//
// The engine does the handshake (RFC 6455 §4: 400 for a bad one, 426 for a version other than
// 13, subprotocols, permessage-deflate) and then runs the connection on the worker that accepted
// it, on its io_uring: frames are read from the worker's provided buffers and written into its
// output, one send per connection per loop turn.
//
// Thread rules: the same as handlers. Every callback runs on the connection's worker and must not
// block; a WebSocket& is valid during the callback it is given to. To reach a socket later (a
// timer, another worker), keep its id() and look it up on its worker with WebSocket::find().
// Server::publish() may be called from any thread.
#pragma once

#include <any>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "net/http/endpoint.h"
#include "net/http/request.h"
#include "net/http/response.h"
#include "net/ws/deflate.h"

namespace nexure::net {

namespace ws::detail {
class Socket;
}

class WebSocket;
struct WsBehaviour;

// An upgrade decided later (WsUpgrade::defer()): an authentication that asks another service,
// a JavaScript hook. Movable, not copyable; accept() or refuse() once, from any thread (like
// Later::respond: the answer is given on the connection's worker). Destroyed undecided: 500.
// Until it is decided, nothing the client sent after its handshake is read as HTTP.
class WsPendingUpgrade {
  public:
    WsPendingUpgrade() noexcept;
    WsPendingUpgrade(WsPendingUpgrade&&) noexcept;
    WsPendingUpgrade& operator=(WsPendingUpgrade&&) noexcept;
    ~WsPendingUpgrade();

    // Sends the 101 and opens the socket with `data` (WebSocket::data()).
    void accept(std::any data = {});
    // Answers the upgrade request with this HTTP status (4xx/5xx) and body instead.
    void refuse(int status, std::string_view body = {});
    bool pending() const noexcept { return state_ != nullptr; }

    struct State;

  private:
    friend struct WsUpgrade;
    std::unique_ptr<State> state_;
};

// What the upgrade hook may decide about one upgrade request (before the 101 is sent).
struct WsUpgrade {
    // Refuse the upgrade with this HTTP status (a 4xx or 5xx) and body, instead of the 101.
    void refuse(int status, std::string_view body = {}) {
        refused_status = status;
        refused_body = body;
    }
    // Decide later (after the hook returned): the 101 or the refusal is given through the
    // handle. `data` and `protocol` as set here are kept unless accept() gives data.
    WsPendingUpgrade defer();
    // Per-socket data, given to the WebSocket (WebSocket::data()).
    std::any data;
    // The subprotocol the engine chose from WsBehaviour::subprotocols (may be changed to another
    // one the client offered, or emptied).
    std::string protocol;

    int refused_status = 0;
    std::string refused_body;

    // The engine's: what the 101 will say, for defer().
    struct Prepared {
        const WsBehaviour* behaviour = nullptr;
        std::string accept;
        std::string extensions;
        std::optional<ws::DeflateParams> deflate;
        http::Endpoint remote;
    };
    Prepared* prepared = nullptr;
    http::Response* response = nullptr;
    bool deferred = false;
};

// How a full output buffer is handled (WsBehaviour::max_backpressure).
enum class WsOverflow : uint8_t {
    kDrop,   // a send that would go beyond the limit is dropped (send() says so)
    kClose,  // the connection is closed (1008), as a peer that does not read deserves
};

struct WsBehaviour {
    // Optional: runs on the upgrade request, after the handshake was found valid. Refuse here
    // (origin checks, authentication) or attach data. `origin` is req.header("origin").
    std::function<void(const http::Request& req, WsUpgrade& upgrade)> upgrade;
    std::function<void(WebSocket& ws)> open;
    std::function<void(WebSocket& ws, std::string_view message, bool binary)> message;
    // The output went back below max_backpressure after a send() found it above.
    std::function<void(WebSocket& ws)> drain;
    std::function<void(WebSocket& ws, std::string_view payload)> ping;
    std::function<void(WebSocket& ws, std::string_view payload)> pong;
    // The connection ended: the peer's close code (1005: none given), the code the server sent
    // when it closed (1002/1007/1009 for a broken rule, 1001 idle or stopping, 1008 overflow), or
    // 1006 when TCP ended without a close frame. Runs once per opened socket; the handle is dead
    // after it (sends are refused, subscriptions gone).
    std::function<void(WebSocket& ws, uint16_t code, std::string_view reason)> close;

    // Messages longer than this (after inflating) close the connection with 1009.
    size_t max_payload = 1024 * 1024;
    // Output bytes a socket may hold unsent; above it send() reports backpressure, and beyond
    // it the overflow policy applies.
    size_t max_backpressure = 1024 * 1024;
    WsOverflow overflow = WsOverflow::kClose;
    // Seconds without a byte received before the connection is closed (1001); 0: never. With
    // send_pings, a ping is sent when half of it has passed, so a live client keeps it open.
    uint32_t idle_timeout_s = 120;
    bool send_pings = true;
    // permessage-deflate (RFC 7692), off unless enabled.
    ws::DeflateOptions compression{};
    // Subprotocols the server speaks; the first of the client's offers (its order of
    // preference) that is listed here is chosen, and the upgrade hook may change it.
    std::vector<std::string> subprotocols;
};

class WebSocket {
  public:
    enum class SendStatus : uint8_t {
        kSent,          // queued; the output is within max_backpressure
        kBackpressure,  // queued, but the output is above max_backpressure: wait for drain
        kDropped,       // not queued: beyond the limit with WsOverflow::kDrop (or closing)
        kClosed,        // not queued: the socket is closing or closed
    };

    SendStatus send(std::string_view message, bool binary = false, bool compress = true) noexcept;
    SendStatus ping(std::string_view payload = {}) noexcept;
    // Starts the close handshake with `code` and `reason` (≤ 123 bytes).
    void end(uint16_t code = 1000, std::string_view reason = {}) noexcept;
    // Closes TCP now, without a close frame (close callback: 1006).
    void close() noexcept;

    // Topics on this socket's worker. Names are any bytes (≤ 1 KiB).
    bool subscribe(std::string_view topic);
    bool unsubscribe(std::string_view topic) noexcept;
    bool subscribed(std::string_view topic) const noexcept;
    // Sends `message` to every subscriber of `topic` on every worker except this socket.
    // False when nobody anywhere could be reached (the server is stopping).
    bool publish(std::string_view topic, std::string_view message, bool binary = false,
                 bool compress = true);

    // Unsent output bytes.
    size_t buffered() const noexcept;
    bool open() const noexcept;
    std::any& data() noexcept;
    const http::Endpoint& remote_address() const noexcept;
    std::string_view protocol() const noexcept;  // the chosen subprotocol, or empty

    // A process-wide id (worker index, slot, generation) that find() resolves on its worker.
    uint64_t id() const noexcept;
    // The open socket `id` names, when it belongs to the calling worker; null otherwise (closed,
    // another worker's, or off a worker thread).
    static WebSocket* find(uint64_t id) noexcept;

  private:
    friend class ws::detail::Socket;
    explicit WebSocket(ws::detail::Socket& s) noexcept : socket_(&s) {}
    ws::detail::Socket* socket_;
};

}  // namespace nexure::net
