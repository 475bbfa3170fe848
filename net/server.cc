#include "net/server.h"

#include <algorithm>
#include <cstdio>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include "engine/engine.h"
#include "net/listener.h"
#include "net/worker_server.h"
#include "net/ws/hub.h"
#include "net/ws/websocket.h"

namespace nexure::net {

struct Server::Impl {
    SharedState shared;
    ListenerSet listeners;
    std::unique_ptr<engine::Engine> engine;
    bool started = false;
    bool has_handoff_routes = false;

    void check_not_started(const char* what = "routes") const {
        if (started)
            throw std::logic_error(std::string(what) +
                                   " must be registered before the server starts");
    }

    void add_route(Method method, std::string_view path, router::HandlerKind kind,
                   uint32_t handler, uint32_t options = 0,
                   const http::RouteCompression& compression = {}) {
        router::RouteMeta meta;
        meta.handler = handler;
        meta.kind = kind;
        meta.options = options;
        const uint8_t offer = offer_for(path, compression);
        const router::RouteId id = shared.router.add(method, path, meta);
        if (shared.route_offer.size() <= id) shared.route_offer.resize(id + 1, 0);
        shared.route_offer[id] = offer;
        if (offer != 0) shared.compressing = true;
    }

    // The index in shared.offers of the codings a route offers (0: it does not compress).
    uint8_t offer_for(std::string_view path, const http::RouteCompression& route) {
        using Mode = http::RouteCompression::Mode;
        const http::CompressionConfig& server = shared.config.compression;
        if (route.mode == Mode::kOff || (route.mode == Mode::kInherit && !server.enabled)) return 0;
        const std::vector<http::ContentCoding>& codings =
            !route.encodings.empty() ? route.encodings : server_codings;
        http::CodingOffer offer;
        for (http::ContentCoding c : codings) {
            if (c == http::ContentCoding::kIdentity) continue;
            if (!compress::built_with(static_cast<compress::Coding>(c))) {
                throw std::invalid_argument("route " + std::string(path) + ": compression encoding '" +
                                            std::string(http::coding_token(c)) +
                                            "' is not in this build (it offers " +
                                            http::codings_text(http::default_codings()) + ")");
            }
            bool seen = false;
            for (uint8_t i = 0; i < offer.count; ++i) seen = seen || offer.codings[i] == c;
            if (!seen && offer.count < 3) offer.codings[offer.count++] = c;
        }
        if (offer.count == 0) return 0;
        if (shared.offers.empty()) shared.offers.emplace_back();  // index 0: none
        for (size_t i = 1; i < shared.offers.size(); ++i) {
            const http::CodingOffer& o = shared.offers[i];
            if (o.count == offer.count &&
                std::equal(o.codings, o.codings + o.count, offer.codings)) {
                return static_cast<uint8_t>(i);
            }
        }
        if (shared.offers.size() > 255) {
            throw std::invalid_argument("route " + std::string(path) +
                                        ": more than 255 different compression encoding lists");
        }
        shared.offers.push_back(offer);
        return static_cast<uint8_t>(shared.offers.size() - 1);
    }

    explicit Impl(ServerConfig config) {
        shared.config = std::move(config);
        shared.router = router::Router(shared.config.routing);
        const http::CompressionConfig& c = shared.config.compression;
        server_codings = c.encodings.empty() ? http::default_codings() : c.encodings;
        for (http::ContentCoding coding : server_codings) {
            if (coding != http::ContentCoding::kIdentity &&
                !compress::built_with(static_cast<compress::Coding>(coding))) {
                throw std::invalid_argument(
                    "ServerConfig::compression.encodings: '" +
                    std::string(http::coding_token(coding)) + "' is not in this build (it offers " +
                    http::codings_text(http::default_codings()) + ")");
            }
        }
    }

    std::vector<http::ContentCoding> server_codings;  // the server's offer, resolved

    Result<void> start(bool block_signals) {
        if (started) return Error{EALREADY, "the server is already started"};
        if (has_handoff_routes && !shared.handoff) {
            return Error{EINVAL,
                         "routes were registered with handoff_route() but no handoff was set: "
                         "call Server::set_handoff() before start()"};
        }
        const ServerConfig& cfg = shared.config;
        engine::EngineConfig ec;
        ec.threads = cfg.threads;
        ec.pin_threads = cfg.pin_threads;
        ec.ring.mode = cfg.ring_mode;
        ec.drain_timeout_ms = cfg.drain_timeout_ms;
        const unsigned workers =
            cfg.threads != 0 ? cfg.threads : engine::CpuTopology::detect().count();

        Result<ListenerSet> ls = open_listeners(cfg.host, cfg.port, workers, cfg.listen_backlog);
        if (!ls) return ls.error();
        listeners = std::move(ls).value();

        engine = std::make_unique<engine::Engine>(ec);
        // Each worker takes ownership of its listening socket.
        auto factory = [this](engine::Worker& w) -> Result<std::unique_ptr<engine::WorkerHandler>> {
            const int fd = listeners.fds[w.index()];
            listeners.fds[w.index()] = -1;
            auto handler = std::make_unique<WorkerServer>(w, shared, fd);
            Result<void> r = handler->init();
            if (!r) return r.error();
            return std::unique_ptr<engine::WorkerHandler>(std::move(handler));
        };
        Result<void> r = engine->start(factory, block_signals);
        if (!r) {
            close_listeners(listeners);
            engine.reset();
            return r;
        }
        started = true;
        return {};
    }
};

namespace {

// One per `per` connections, rounded up to a power of two within [lo, hi].
unsigned budget_share(uint32_t connections, unsigned per, unsigned lo, unsigned hi) noexcept {
    const uint64_t want = (static_cast<uint64_t>(connections) + per - 1) / per;
    unsigned n = lo;
    while (n < want && n < hi)
        n <<= 1;
    return n;
}

}  // namespace

unsigned ServerConfig::recv_buffers() const noexcept {
    return recv_buffer_count != 0 ? recv_buffer_count
                                  : budget_share(max_connections_per_worker, 32, 64, 4096);
}

unsigned ServerConfig::send_buffers() const noexcept {
    return send_buffer_count != 0 ? send_buffer_count
                                  : budget_share(max_connections_per_worker, 64, 32, 4096);
}

Server::Server(ServerConfig config) : impl_(std::make_unique<Impl>(std::move(config))) {}

Server::~Server() {
    if (impl_->engine) {
        impl_->engine->request_stop();
        impl_->engine->wait();
    }
    close_listeners(impl_->listeners);
}

Server& Server::add_route(Method method, std::string_view path, Handler handler,
                          RouteOptions options) {
    impl_->check_not_started();
    if (!handler)
        throw std::invalid_argument("route " + std::string(path) + ": the handler is empty");
    auto& shared = impl_->shared;
    impl_->add_route(method, path, router::HandlerKind::kNative,
                     static_cast<uint32_t>(shared.handlers.size()), 0, options.compression);
    shared.handlers.push_back(std::move(handler));
    shared.route_options.push_back(options);
    if (options.stream_body) shared.streams_bodies = true;
    return *this;
}

namespace {

// `form` as a Response, checked like a handler's; std::invalid_argument names `owner` and the
// offending field.
std::unique_ptr<http::Response> checked_response(const FixedResponse& form,
                                                 const std::string& owner) {
    auto res = std::make_unique<http::Response>();
    res->status(form.status);
    if (!form.content_type.empty()) res->type(form.content_type);
    for (const auto& [name, value] : form.headers)
        res->header(name, value);
    res->body(form.body);
    if (!res->error().empty()) {
        std::string why(res->error());
        // The checks speak of "handler": here the fixed response is the author.
        if (why.starts_with("handler ")) why.replace(0, 7, "the fixed response");
        throw std::invalid_argument(owner + ": " + why);
    }
    return res;
}

}  // namespace

Server& Server::fixed(Method method, std::string_view path, const FixedResponse& response) {
    impl_->check_not_started();
    std::unique_ptr<http::Response> res = checked_response(response, "route " + std::string(path));
    auto& shared = impl_->shared;
    impl_->add_route(method, path, router::HandlerKind::kFixed,
                     static_cast<uint32_t>(shared.fixed.size()));
    shared.fixed.push_back(std::move(res));
    return *this;
}

Server& Server::handoff_route(Method method, std::string_view path, uint32_t id,
                             RouteOptions options) {
    impl_->check_not_started();
    auto& shared = impl_->shared;
    uint32_t index = 0;  // RouteMeta::options: 1 + the index of the route's options, or 0
    if (options.stream_body) {
        index = static_cast<uint32_t>(shared.handoff_options.size()) + 1;
        shared.handoff_options.push_back(options);
        shared.streams_bodies = true;
    }
    impl_->add_route(method, path, router::HandlerKind::kJavaScript, id, index,
                     options.compression);
    impl_->has_handoff_routes = true;
    return *this;
}

Server& Server::ws(std::string_view path, WsBehaviour behaviour) {
    if (behaviour.max_payload == 0)
        throw std::invalid_argument("websocket route " + std::string(path) +
                                    ": max_payload must be at least 1 byte");
    if (behaviour.compression.enabled &&
        (behaviour.compression.server_max_window_bits < 8 ||
         behaviour.compression.server_max_window_bits > 15))
        throw std::invalid_argument("websocket route " + std::string(path) +
                                    ": compression.server_max_window_bits must be 8..15");
    auto owned = std::make_unique<WsBehaviour>(std::move(behaviour));
    const WsBehaviour* b = owned.get();
    get(path, ws::detail::upgrade_handler(*b));
    SharedState& shared = impl_->shared;
    shared.websockets.push_back(std::move(owned));
    if (!shared.ws_registry) shared.ws_registry = std::make_shared<ws::detail::Registry>();
    return *this;
}

bool Server::publish(std::string_view topic, std::string_view message, bool binary,
                     bool compress) {
    const auto& registry = impl_->shared.ws_registry;
    if (!registry) return false;
    if (ws::detail::Hub* hub = ws::detail::Hub::current(); hub != nullptr) {
        // On a worker of this server: its own topics at once, the others posted.
        return hub->publish(topic, message, binary, compress, 0);
    }
    auto m = std::make_shared<ws::detail::Published>(ws::detail::Published{
        std::string(topic), std::string(message), binary, compress, 0});
    return registry->post(std::move(m), UINT32_MAX);
}

uint64_t Server::publish_backlog() const noexcept {
    const auto& registry = impl_->shared.ws_registry;
    return registry ? registry->posted_bytes() : 0;
}

Server& Server::handoff_engine_answers(uint32_t id) {
    impl_->check_not_started();
    impl_->shared.engine_answers = id;
    impl_->has_handoff_routes = true;
    return *this;
}

Server& Server::set_handoff(HandoffFactory factory) {
    if (impl_->started) throw std::logic_error("the handoff must be set before the server starts");
    impl_->shared.handoff = std::move(factory);
    return *this;
}

Server& Server::on_request(RequestHook hook) {
    impl_->check_not_started("hooks");
    if (!hook) throw std::invalid_argument("on_request: the hook is empty");
    impl_->shared.request_hooks.push_back(std::move(hook));
    return *this;
}

Server& Server::on_response(ResponseHook hook) {
    impl_->check_not_started("hooks");
    if (!hook) throw std::invalid_argument("on_response: the hook is empty");
    impl_->shared.response_hooks.push_back(std::move(hook));
    return *this;
}

Server& Server::error_response(ErrorResponder fill) {
    impl_->check_not_started("hooks");
    if (!fill) throw std::invalid_argument("error_response: the callback is empty");
    impl_->shared.error_responder = std::move(fill);
    return *this;
}

Server& Server::error_response(const FixedResponse& form) {
    impl_->check_not_started("hooks");
    if (form.status < 400 || form.status > 599) {
        throw std::invalid_argument("error_response: status " + std::to_string(form.status) +
                                    " is not an error status (400..599)");
    }
    (void)checked_response(form, "error_response for status " + std::to_string(form.status));
    std::vector<FixedResponse>& forms = impl_->shared.error_forms;
    std::erase_if(forms, [&form](const FixedResponse& f) { return f.status == form.status; });
    forms.push_back(form);
    return *this;
}

Result<void> Server::start() {
    return impl_->start(false);
}

int Server::run(const std::function<void(const Server&)>& on_ready) {
    if (impl_->started)
        throw std::logic_error("Server::run() starts the server itself; do not call start() first");
    Result<void> r = impl_->start(true);
    if (!r) {
        std::fprintf(stderr, "nexure: cannot start: %s\n", r.error().message.c_str());
        return 1;
    }
    if (on_ready) on_ready(*this);
    impl_->engine->run_until_signal();
    return 0;
}

void Server::stop() noexcept {
    if (impl_->engine) impl_->engine->request_stop();
}

void Server::wait() {
    if (impl_->engine) impl_->engine->wait();
}

uint16_t Server::port() const noexcept {
    return impl_->listeners.port;
}
const std::string& Server::address() const noexcept {
    return impl_->listeners.address;
}
unsigned Server::threads() const noexcept {
    return impl_->engine ? impl_->engine->worker_count() : 0;
}
engine::RingMode Server::ring_mode() const noexcept {
    return impl_->engine ? impl_->engine->ring_mode() : engine::RingMode::kAuto;
}
const ServerConfig& Server::config() const noexcept {
    return impl_->shared.config;
}

}  // namespace nexure::net
