// WsBridge: the WebSocket half of one worker's JavaScript bridge (napi/PROTOCOL.md, "WebSocket
// records") — app.ws() in nexurejs, on the engine's net::Server::ws() (net/ws/websocket.h).
//
// Engine → JavaScript: the WsBehaviour callbacks of a JavaScript WebSocket route (open, message,
// drain, close) become event records in the worker's request ring, in the order of its other
// records (WorkerBridge::submit_event), so that JavaScript reads them in its ordinary batches —
// one crossing per batch, never one per message. A message longer than one ring record holds is
// cut into pieces (type 34) before its last one (type 33), the way a streamed body crosses.
//
// JavaScript → engine: response records with the WebSocket flag (bit 10) carry send, end,
// close, subscribe, unsubscribe, publish and check operations for a socket id
// (net::WebSocket::id()); the worker applies them with WebSocket::find(). Their bodies are
// inline or stashed like any response body. app.publish() records are applied on worker 0
// through net::Server::publish().
//
// Worker thread only, except make_ws_behaviour (config time) and check_ws_record (JS thread;
// pure). No N-API, no libuv.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "net/ws/deflate.h"
#include "net/ws/websocket.h"

namespace nexure::net {
class Server;
}

namespace nexure::napi {

class WorkerBridge;

// One app.ws(path, behaviour) route, as createServer's config.ws[i] gives it (ws_binding.cc).
struct WsRouteConfig {
    std::string path;
    uint32_t id = 0;  // the JavaScript route id, echoed in the open events of its sockets
    // The route has a JavaScript upgrade hook: its upgrade requests are deferred
    // (WsUpgrade::defer) and handed to JavaScript as request records with this handler id.
    bool has_upgrade = false;
    uint32_t upgrade_id = 0;
    size_t max_payload = 1024 * 1024;
    size_t max_backpressure = 1024 * 1024;
    bool close_on_backpressure_limit = false;
    uint32_t idle_timeout_s = 120;
    bool send_pings = true;
    net::ws::DeflateOptions compression{};
    std::vector<std::string> subprotocols;
};

// The engine's behaviour for a JavaScript route: every callback forwards to the calling
// worker's WsBridge.
net::WsBehaviour make_ws_behaviour(const WsRouteConfig& route);

// The WebSocket operations of a response record (its status field) — napi/PROTOCOL.md.
enum class WsOp : uint16_t {
    kSend = 1,         // ticket[2]: bit 0 binary, bit 1 compress; body: the message
    kEnd = 2,          // ticket[2]: the close code; body: the reason
    kClose = 3,        // close TCP now, without a close frame
    kSubscribe = 4,    // body: the topic
    kUnsubscribe = 5,  // body: the topic
    kPublish = 6,      // from the socket (every subscriber but it); ticket[2] as kSend,
                       // ticket[3] the topic's length; body: topic then message
    kPublishAll = 7,   // app.publish(): every subscriber; socket id 0; as kPublish
    kCheck = 8,        // report the socket's backpressure: a drain or a backpressure event
    // A deferred upgrade, named by the ticket of its request record (ticket[0..1] = its slot
    // and generation in the worker's table instead of a socket id):
    kAccept = 9,       // ticket[2]: a number JavaScript gets back in the socket's open event
    kRefuse = 10,      // ticket[2]: the HTTP status (400..599); body: the answer's body
};
inline constexpr uint16_t kWsOpLast = 10;

// Structural checks of a WebSocket response record the JS side staged (js_side.cc): null when
// fine, else why not. `body_length` as the record says.
const char* check_ws_record(const char* record, uint32_t body_length) noexcept;

class WsBridge {
  public:
    WsBridge(WorkerBridge& out, net::Server* server) noexcept;
    ~WsBridge();
    WsBridge(const WsBridge&) = delete;
    WsBridge& operator=(const WsBridge&) = delete;

    // This worker thread's bridge (null on other threads, or before/after the worker's bridge).
    static WsBridge* current() noexcept;

    // A route's upgrade hook: defers the upgrade and hands its request to JavaScript.
    void on_upgrade(const net::http::Request& req, net::WsUpgrade& up, uint32_t handler) noexcept;
    void on_open(net::WebSocket& ws, const WsRouteConfig& route) noexcept;
    void on_message(net::WebSocket& ws, std::string_view message, bool binary) noexcept;
    void on_drain(net::WebSocket& ws) noexcept;
    void on_close(net::WebSocket& ws, uint16_t code, std::string_view reason) noexcept;

    // A response record with the WebSocket flag; `body` is its (inline or stashed) body.
    void apply(const char* record, std::string_view body) noexcept;

  private:
    void report(net::WebSocket& ws, uint8_t type) noexcept;
    void decide(const char* record, std::string_view body) noexcept;

    WorkerBridge& out_;
    net::Server* server_;
    // Upgrades JavaScript decides: by slot, with a generation so that a stale answer (the
    // slot reused) is dropped. An undecided one is answered 500 when the bridge goes.
    struct Pending {
        net::WsPendingUpgrade upgrade;
        uint32_t generation = 0;
    };
    std::vector<Pending> pending_;
    std::vector<uint32_t> free_;
};

}  // namespace nexure::napi
