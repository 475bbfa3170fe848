// WebSocket's methods: the handle forwards to its Socket (net/ws/socket.h) on the worker.
#include "net/ws/websocket.h"

#include "net/ws/hub.h"
#include "net/ws/socket.h"

namespace nexure::net {

WebSocket::SendStatus WebSocket::send(std::string_view message, bool binary, bool compress) noexcept {
    return socket_->send(message, binary ? ws::Opcode::kBinary : ws::Opcode::kText, compress);
}

WebSocket::SendStatus WebSocket::ping(std::string_view payload) noexcept {
    if (payload.size() > ws::kMaxControlPayload) return SendStatus::kDropped;
    return socket_->send(payload, ws::Opcode::kPing, false);
}

void WebSocket::end(uint16_t code, std::string_view reason) noexcept { socket_->end(code, reason); }

void WebSocket::close() noexcept { socket_->close_now(); }

bool WebSocket::subscribe(std::string_view topic) {
    if (!socket_->open()) return false;
    auto* hub = ws::detail::Hub::current();
    return hub != nullptr && hub->topics().subscribe(*socket_, topic);
}

bool WebSocket::unsubscribe(std::string_view topic) noexcept {
    auto* hub = ws::detail::Hub::current();
    return hub != nullptr && hub->topics().unsubscribe(*socket_, topic);
}

bool WebSocket::subscribed(std::string_view topic) const noexcept {
    auto* hub = ws::detail::Hub::current();
    const ws::detail::Topic* t = hub != nullptr ? hub->topics().find(topic) : nullptr;
    if (t == nullptr) return false;
    for (const ws::detail::Topic* mine : socket_->topics())
        if (mine == t) return true;
    return false;
}

bool WebSocket::publish(std::string_view topic, std::string_view message, bool binary,
                        bool compress) {
    auto* hub = ws::detail::Hub::current();
    return hub != nullptr && hub->publish(topic, message, binary, compress, socket_->id());
}

size_t WebSocket::buffered() const noexcept { return socket_->buffered(); }
bool WebSocket::open() const noexcept { return socket_->open(); }
std::any& WebSocket::data() noexcept { return socket_->data(); }
const http::Endpoint& WebSocket::remote_address() const noexcept { return socket_->remote(); }
std::string_view WebSocket::protocol() const noexcept { return socket_->protocol(); }
uint64_t WebSocket::id() const noexcept { return socket_->id(); }

WebSocket* WebSocket::find(uint64_t id) noexcept {
    auto* hub = ws::detail::Hub::current();
    ws::detail::Socket* s = hub != nullptr ? hub->find(id) : nullptr;
    return s != nullptr ? &s->handle() : nullptr;
}

}  // namespace nexure::net
