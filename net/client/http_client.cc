#include "net/client/http_client.h"

#include <atomic>
#include <cerrno>
#include <charconv>
#include <cstring>
#include <deque>
#include <exception>
#include <string>
#include <utility>
#include <vector>

#include "net/client/outbound.h"
#include "net/client/response_parser.h"
#include "net/http/field_syntax.h"

namespace nexure::net::client {

struct detail::HttpClientConfig {
    uint32_t id = 0;
    Endpoint upstream;
    HttpClientOptions options;
};

namespace {

std::atomic<uint32_t> next_client_id{0};

// RFC 9110 9.2.2: a retry cannot change what an idempotent request does.
bool is_idempotent(std::string_view m) noexcept {
    return m == "GET" || m == "HEAD" || m == "OPTIONS" || m == "PUT" || m == "DELETE" ||
           m == "TRACE";
}

// Pipelined only when safe (RFC 9112 9.3.2): a request that changes nothing.
bool is_pipelinable(std::string_view m) noexcept { return m == "GET" || m == "HEAD"; }

bool client_owned_field(std::string_view name) noexcept {
    return http::iequals(name, "host") || http::iequals(name, "content-length") ||
           http::iequals(name, "transfer-encoding") || http::iequals(name, "connection") ||
           http::iequals(name, "upgrade");
}

bool valid_target(std::string_view t) noexcept {
    if (t.empty() || (t.front() != '/' && t != "*")) return false;
    for (unsigned char c : t)
        if (c <= 0x20 || c == 0x7f) return false;
    return true;
}

// The request's bytes, or why it cannot be sent.
std::string serialize(const ClientRequest& r, std::string_view host, std::string& out) {
    if (!http::is_token(r.method)) return "the method '" + std::string(r.method) + "' is not a token";
    if (!valid_target(r.target))
        return "the target must start with '/' and hold no spaces or control bytes";
    out.clear();
    out.reserve(r.method.size() + r.target.size() + host.size() + r.body.size() + 64);
    out.append(r.method).append(" ").append(r.target).append(" HTTP/1.1\r\nHost: ");
    out.append(host).append("\r\n");
    for (const http::Header& h : r.headers) {
        if (!http::is_token(h.name) || !http::valid_field_value(h.value))
            return "invalid header field '" + std::string(h.name) + "' (a name must be a token, a "
                   "value holds no CR, LF or NUL)";
        if (client_owned_field(h.name))
            return "the header field '" + std::string(h.name) + "' is set by the client itself";
        out.append(h.name).append(": ").append(h.value).append("\r\n");
    }
    if (!r.body.empty() || r.method == "POST" || r.method == "PUT" || r.method == "PATCH") {
        char digits[24];
        const auto end = std::to_chars(digits, digits + sizeof digits, r.body.size()).ptr;
        out.append("Content-Length: ").append(digits, end).append("\r\n");
    }
    out.append("\r\n").append(r.body);
    return {};
}

struct Call {
    std::string wire;
    bool idempotent = false;
    bool pipelinable = false;
    bool head = false;
    bool sent = false;  // its bytes went to a connection
    unsigned retries_left = 0;
    uint64_t deadline_ms = 0;
    HttpClient::Callback done;
};

class Pool;

struct Conn {
    Conn(Pool& p, size_t max_response) : pool(p), parser(max_response) {}
    Pool& pool;
    TcpSocket sock;
    ResponseParser parser;
    std::deque<Call*> inflight;  // in request order: the front is being answered
    uint32_t non_pipelinable = 0;  // calls in flight that may not have others behind them
    bool connecting = true;
    bool closing = false;
    bool answered_before = false;
    uint64_t idle_since_ms = 0;
    engine::Timer timer;
};

class Pool final : public detail::ClientState {
  public:
    Pool(std::shared_ptr<const detail::HttpClientConfig> config, detail::Outbound& outbound)
        : config_(std::move(config)), options_(config_->options), outbound_(outbound) {
        host_ = options_.host.empty() ? config_->upstream.text : options_.host;
        wait_timer_.set_callback(&Pool::on_wait_timer, this);
    }
    ~Pool() override {
        // The worker is going away: calls still here are dropped (their callbacks destroyed
        // without running), connections closed.
        for (auto& c : conns_) {
            for (Call* call : c->inflight)
                delete call;
            c->sock.close();
        }
        for (Call* call : waiting_)
            delete call;
        for (Call* call : spare_)
            delete call;
    }

    HttpClient::Stats stats() const {
        HttpClient::Stats s = counters_;
        s.waiting = static_cast<uint32_t>(waiting_.size());
        for (const auto& c : conns_) {
            if (c->closing) continue;
            ++s.connections;
            if (!c->connecting && c->inflight.empty()) ++s.idle;
            if (!c->connecting) s.in_flight += static_cast<uint32_t>(c->inflight.size());
        }
        return s;
    }

    void submit(const ClientRequest& request, HttpClient::Callback done) {
        Enter enter(*this);
        ++counters_.requests;
        Call* call = take_call();
        call->done = std::move(done);
        std::string problem = serialize(request, host_, call->wire);
        if (!problem.empty()) {
            fail_later(call, EINVAL, "request to " + config_->upstream.text + ": " + problem);
            return;
        }
        call->idempotent = is_idempotent(request.method);
        call->pipelinable = is_pipelinable(request.method);
        call->head = request.method == "HEAD";
        call->retries_left = options_.retries;
        call->deadline_ms = outbound_.now_ms() + options_.request_timeout_ms;
        if (waiting_.size() >= options_.max_waiting) {
            fail_later(call, EBUSY,
                       "request to " + config_->upstream.text + ": " +
                           std::to_string(waiting_.size()) +
                           " requests already wait for a connection (HttpClientOptions::"
                           "max_waiting; max_connections bounds the connections)");
            return;
        }
        waiting_.push_back(call);
        pump();
        if (!waiting_.empty()) arm_wait_timer(call->deadline_ms);
    }

    void stop() noexcept override {
        Enter enter(*this);
        stopping_ = true;
        for (auto& c : conns_)
            if (!c->closing && !c->connecting && c->inflight.empty()) retire(*c, 0, {});
    }

  private:
    // Connections are destroyed only when no method of the pool is on the stack (a callback into
    // the application may re-enter the pool; a socket callback runs inside a Conn).
    struct Enter {
        explicit Enter(Pool& p) : pool(p) { ++pool.depth_; }
        ~Enter() {
            if (--pool.depth_ == 0) pool.reap();
        }
        Pool& pool;
    };

    Call* take_call() {
        if (spare_.empty()) return new Call();
        Call* c = spare_.back();
        spare_.pop_back();
        c->sent = false;
        return c;
    }
    void give_back(Call* c) {
        c->done = nullptr;
        if (spare_.size() < 256 && c->wire.capacity() <= 64 * 1024) {
            spare_.push_back(c);
        } else {
            delete c;
        }
    }

    // ---- placing calls on connections

    // Places waiting calls, oldest first, while there is room.
    void pump() {
        while (!waiting_.empty() && place(waiting_.front()))
            waiting_.pop_front();
    }

    bool place(Call* call) {
        const uint32_t depth = options_.max_pipeline;
        // Pipelining allowed: a GET or HEAD joins a connection that was given requests this very
        // turn and has room — they all leave in the turn's one send and their answers come back
        // together (one send and one receive for the batch instead of one each).
        if (call->pipelinable && depth > 1 && batch_ != nullptr && !batch_->closing &&
            batch_turn_ == outbound_.worker().now_ns() && batch_->non_pipelinable == 0 &&
            batch_->inflight.size() < depth) {
            assign(*batch_, call);
            return true;
        }
        // The most recently used idle connection: its socket is the likeliest to be alive.
        while (!idle_.empty()) {
            Conn* c = idle_.back();
            idle_.pop_back();
            if (c->closing || !c->inflight.empty()) continue;
            assign(*c, call);
            return true;
        }
        if (open_count() < options_.max_connections) {
            assign(open_connection(), call);
            return true;
        }
        if (call->pipelinable && depth > 1) {
            Conn* best = nullptr;
            for (auto& c : conns_) {
                if (c->closing || c->non_pipelinable != 0 ||
                    c->inflight.size() >= options_.max_pipeline)
                    continue;
                if (best == nullptr || c->inflight.size() < best->inflight.size()) best = c.get();
            }
            if (best != nullptr) {
                assign(*best, call);
                return true;
            }
        }
        return false;
    }

    uint32_t open_count() const { return open_; }

    void assign(Conn& c, Call* call) {
        if (call->pipelinable) {
            batch_ = &c;
            batch_turn_ = outbound_.worker().now_ns();
        }
        if (c.answered_before || !c.inflight.empty()) ++counters_.reused;
        if (c.inflight.empty()) c.parser.expect_head(call->head);
        c.inflight.push_back(call);
        if (!call->pipelinable) ++c.non_pipelinable;
        if (!c.connecting) send(c, call);
        schedule(c);
    }

    void send(Conn& c, Call* call) {
        call->sent = true;
        c.sock.write(call->wire);
    }

    Conn& open_connection() {
        conns_.push_back(std::make_unique<Conn>(*this, options_.max_response_size));
        ++open_;
        Conn* c = conns_.back().get();
        c->timer.set_callback(&Pool::on_conn_timer, c);
        ++counters_.connects;
        TcpSocket::connect(config_->upstream,
                           TcpOptions{.connect_timeout_ms = options_.connect_timeout_ms},
                           [this, c](Result<TcpSocket> r) { on_connected(*c, std::move(r)); });
        return *c;
    }

    // ---- connection events

    void on_connected(Conn& c, Result<TcpSocket> r) {
        Enter enter(*this);
        c.connecting = false;
        if (c.closing) {
            return;  // retired while connecting (timeout): its calls were resolved then
        }
        if (!r) {
            const int code = r.error().code;
            retire(c, code, r.error().message);
            return;
        }
        c.sock = std::move(r.value());
        c.sock.on_data([this, cp = &c](std::string_view bytes) { on_data(*cp, bytes); });
        c.sock.on_close([this, cp = &c](int err) { on_closed(*cp, err); });
        for (Call* call : c.inflight)
            send(c, call);
        if (c.inflight.empty()) became_free(c);
        schedule(c);
    }

    void on_data(Conn& c, std::string_view bytes) {
        Enter enter(*this);
        while (!bytes.empty() && !c.closing) {
            if (c.inflight.empty()) {
                retire(c, EPROTO, config_->upstream.text + " sent bytes no request asked for");
                return;
            }
            size_t used = 0;
            const ResponseParser::Outcome outcome = c.parser.feed(bytes.data(), bytes.size(), &used);
            bytes.remove_prefix(used);
            if (outcome == ResponseParser::Outcome::kNeedMore) return;
            if (outcome == ResponseParser::Outcome::kError) {
                Call* front = pop_front(c);
                const int code = c.parser.too_large() ? EMSGSIZE : EPROTO;
                std::string why = std::string(c.parser.error()) + " (" + config_->upstream.text + ")";
                retire(c, ECONNRESET, "the connection was abandoned after a bad response", false);
                fail(front, code, std::move(why));
                return;
            }
            answered(c);
        }
    }

    // The front call's response is complete.
    void answered(Conn& c) {
        ClientResponse response = c.parser.take();
        Call* call = pop_front(c);
        c.answered_before = true;
        if (!response.keep_alive()) {
            retire(c, 0, {});  // the rest were not processed: sent again
        } else {
            became_free(c);
        }
        finish(call, Result<ClientResponse>(std::move(response)));
    }

    void on_closed(Conn& c, int err) {
        Enter enter(*this);
        if (c.closing) return;
        if (err == 0 && c.parser.started()) {
            // A body that ends with the connection.
            if (c.parser.finish() == ResponseParser::Outcome::kComplete) {
                ClientResponse response = c.parser.take();
                Call* call = pop_front(c);
                retire(c, 0, {});
                finish(call, Result<ClientResponse>(std::move(response)));
                return;
            }
        }
        const int code = err == 0 ? ECONNRESET : -err;
        std::string why = err == 0 ? config_->upstream.text +
                                         " closed the connection before answering"
                                   : "the connection to " + config_->upstream.text +
                                         " broke: " + std::strerror(-err);
        retire(c, code, std::move(why));
    }

    static void on_conn_timer(void* arg) noexcept {
        auto* c = static_cast<Conn*>(arg);
        Pool& p = c->pool;
        Enter enter(p);
        const uint64_t now = p.outbound_.now_ms();
        if (c->closing) return;
        if (c->inflight.empty()) {
            if (now >= c->idle_since_ms + p.options_.idle_timeout_ms) {
                p.retire(*c, 0, {});
            } else {
                p.schedule(*c);
            }
            return;
        }
        if (now < c->inflight.front()->deadline_ms) {
            p.schedule(*c);
            return;
        }
        Call* front = p.pop_front(*c);
        p.retire(*c, ETIMEDOUT, "no response in time", false);
        p.finish(front, Result<ClientResponse>(p.timeout_error()));
    }

    static void on_wait_timer(void* arg) noexcept {
        auto* p = static_cast<Pool*>(arg);
        Enter enter(*p);
        const uint64_t now = p->outbound_.now_ms();
        std::vector<Call*> expired;
        uint64_t next = UINT64_MAX;
        for (auto it = p->waiting_.begin(); it != p->waiting_.end();) {
            if ((*it)->deadline_ms <= now) {
                expired.push_back(*it);
                it = p->waiting_.erase(it);
            } else {
                next = std::min(next, (*it)->deadline_ms);
                ++it;
            }
        }
        if (next != UINT64_MAX) p->arm_wait_timer(next);
        for (Call* call : expired)
            p->fail(call, ETIMEDOUT,
                    "no connection to " + p->config_->upstream.text + " became free within " +
                        std::to_string(p->options_.request_timeout_ms) +
                        " ms (HttpClientOptions::request_timeout_ms, max_connections)");
    }

    void arm_wait_timer(uint64_t deadline_ms) {
        if (wait_timer_.armed() && wait_deadline_ <= deadline_ms) return;
        wait_deadline_ = deadline_ms;
        outbound_.worker().timers().schedule(&wait_timer_, deadline_ms * 1'000'000 + 1'000'000);
    }

    // ---- state changes

    Call* pop_front(Conn& c) {
        Call* call = c.inflight.front();
        c.inflight.pop_front();
        if (!call->pipelinable) --c.non_pipelinable;
        if (!c.inflight.empty()) c.parser.expect_head(c.inflight.front()->head);
        return call;
    }

    // After an answer, on a connection that stays: the next waiting calls, or idle.
    void became_free(Conn& c) {
        if (stopping_ && c.inflight.empty() && waiting_.empty()) {
            retire(c, 0, {});
            return;
        }
        const uint32_t depth = options_.max_pipeline > 1 ? options_.max_pipeline : 1;
        while (!waiting_.empty()) {
            Call* next = waiting_.front();
            const bool fits = c.inflight.empty() ||
                              (next->pipelinable && c.non_pipelinable == 0 &&
                               c.inflight.size() < depth);
            if (!fits) break;
            waiting_.pop_front();
            assign(c, next);
        }
        if (c.inflight.empty()) {
            c.idle_since_ms = outbound_.now_ms();
            idle_.push_back(&c);
        }
        schedule(c);
    }

    // Takes `c` out of the pool and closes it (`why`: the whole message of a failure). code 0: a quiet close (idle, or the upstream's
    // "Connection: close" after an answer): every call on it goes back to the front of the queue,
    // none was processed. Otherwise the call being answered (`front_live`: still on `c`) fails
    // with `code` unless a retry is allowed, and the calls pipelined behind it go back. A
    // connection that never connected sent nothing: each of its calls is retried or fails.
    void retire(Conn& c, int code, std::string why, bool front_live = true) {
        if (c.closing) return;
        c.closing = true;
        --open_;
        ++retired_;
        const bool never_sent = !c.inflight.empty() && !c.inflight.front()->sent;
        outbound_.worker().timers().cancel(&c.timer);
        c.sock.close();
        std::deque<Call*> calls;
        calls.swap(c.inflight);
        c.non_pipelinable = 0;
        const bool front_started = c.parser.started();
        const uint64_t now = outbound_.now_ms();
        std::vector<std::pair<Call*, Error>> failed;
        for (size_t i = calls.size(); i-- > 0;) {
            Call* call = calls[i];
            const bool answerable = code != 0 && ((i == 0 && front_live) || never_sent);
            if (!answerable) {
                if (code != 0 && call->deadline_ms <= now) {
                    failed.push_back({call, timeout_error()});
                } else {
                    call->sent = false;
                    waiting_.push_front(call);
                }
                continue;
            }
            const bool may_retry = !(i == 0 && front_started) && call->retries_left > 0 &&
                                   (call->idempotent || !call->sent) && call->deadline_ms > now;
            if (may_retry) {
                --call->retries_left;
                ++counters_.retries;
                call->sent = false;
                waiting_.push_front(call);
            } else {
                failed.push_back({call, Error{code, why}});
            }
        }
        pump();
        if (!waiting_.empty()) arm_wait_timer(waiting_.front()->deadline_ms);
        for (auto& [call, e] : failed)
            finish(call, Result<ClientResponse>(std::move(e)));
    }

    Error timeout_error() const {
        return Error{ETIMEDOUT, "no complete response from " + config_->upstream.text +
                                    " within " + std::to_string(options_.request_timeout_ms) +
                                    " ms (HttpClientOptions::request_timeout_ms)"};
    }

    void schedule(Conn& c) {
        if (c.closing) return;
        uint64_t deadline;
        if (!c.inflight.empty()) {
            deadline = c.inflight.front()->deadline_ms;
        } else if (!c.connecting && options_.idle_timeout_ms != 0) {
            deadline = c.idle_since_ms + options_.idle_timeout_ms;
        } else {
            outbound_.worker().timers().cancel(&c.timer);
            return;
        }
        outbound_.worker().timers().schedule(&c.timer, deadline * 1'000'000 + 1'000'000);
    }

    void reap() {
        if (retired_ == 0) return;  // (the common case: nothing to look for)
        for (size_t i = 0; i < conns_.size();) {
            if (conns_[i]->closing && !conns_[i]->connecting) {
                Conn* dead = conns_[i].get();
                std::erase(idle_, dead);
                if (batch_ == dead) batch_ = nullptr;
                --retired_;
                conns_[i] = std::move(conns_.back());
                conns_.pop_back();
            } else {
                ++i;
            }
        }
    }

    // ---- answers

    void finish(Call* call, Result<ClientResponse> r) {
        if (!r) ++counters_.failures;
        HttpClient::Callback done = std::move(call->done);
        give_back(call);
        try {
            done(std::move(r));
        } catch (const std::exception& e) {
            report(e.what());
        } catch (...) {
            report("a non-standard exception");
        }
    }
    void fail(Call* call, int code, std::string why) {
        finish(call, Result<ClientResponse>(Error{code, std::move(why)}));
    }
    // Fails a call that was refused inside request(): its callback runs at the end of the turn.
    void fail_later(Call* call, int code, std::string why) {
        ++counters_.failures;
        HttpClient::Callback done = std::move(call->done);
        give_back(call);
        outbound_.defer([done = std::move(done), e = Error{code, std::move(why)}]() mutable {
            done(Result<ClientResponse>(std::move(e)));
        });
    }
    void report(std::string_view what) {
        std::fprintf(stderr, "nexure: worker %u: an HTTP client callback threw: %.*s\n",
                     outbound_.worker().index(), static_cast<int>(what.size()), what.data());
    }

    std::shared_ptr<const detail::HttpClientConfig> config_;
    const HttpClientOptions& options_;
    detail::Outbound& outbound_;
    std::string host_;
    std::vector<std::unique_ptr<Conn>> conns_;
    std::vector<Conn*> idle_;  // most recently used last
    std::deque<Call*> waiting_;
    std::vector<Call*> spare_;
    engine::Timer wait_timer_;
    uint64_t wait_deadline_ = 0;
    Conn* batch_ = nullptr;    // the connection GETs were last placed on ...
    uint64_t batch_turn_ = 0;  // ... in the loop turn that started at this time
    unsigned depth_ = 0;
    uint32_t open_ = 0;     // connections not closing (what max_connections bounds)
    uint32_t retired_ = 0;  // closing ones still in conns_, for reap()
    bool stopping_ = false;
    HttpClient::Stats counters_;
};

Pool& pool_of(const std::shared_ptr<const detail::HttpClientConfig>& config) {
    detail::Outbound* outbound = detail::Outbound::current();
    if (outbound == nullptr) {
        check_failed(__FILE__, __LINE__,
                     "HttpClient used off a worker thread (call request() in a handler, a timer, "
                     "a posted task or a client callback)");
    }
    auto* pool = static_cast<Pool*>(outbound->client_state(config->id));
    if (pool == nullptr) {
        auto fresh = std::make_unique<Pool>(config, *outbound);
        pool = fresh.get();
        outbound->set_client_state(config->id, std::move(fresh));
    }
    return *pool;
}

}  // namespace

HttpClient::HttpClient(Endpoint upstream, HttpClientOptions options) {
    auto config = std::make_shared<detail::HttpClientConfig>();
    config->id = next_client_id.fetch_add(1, std::memory_order_relaxed);
    config->upstream = std::move(upstream);
    config->options = std::move(options);
    if (config->options.max_connections == 0) config->options.max_connections = 1;
    if (config->options.max_pipeline == 0) config->options.max_pipeline = 1;
    config_ = std::move(config);
}

HttpClient::~HttpClient() = default;

void HttpClient::request(const ClientRequest& request, Callback done) {
    pool_of(config_).submit(request, std::move(done));
}

HttpClient::Stats HttpClient::stats() const { return pool_of(config_).stats(); }

const Endpoint& HttpClient::upstream() const noexcept { return config_->upstream; }

}  // namespace nexure::net::client
