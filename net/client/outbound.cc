#include "net/client/outbound.h"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <exception>
#include <utility>

#include "engine/op_tag.h"
#include "net/detail/loop_state.h"

namespace nexure::net::client::detail {

namespace {

const uint64_t kIgnoreTag =
    engine::make_tag(static_cast<uint8_t>(engine::Op::kIgnore), 0, 0);

Error connect_error(int err, const std::string& to) {
    std::string message = "connect to " + to + ": ";
    if (err == ETIMEDOUT) {
        message += "timed out (TcpOptions::connect_timeout_ms)";
    } else if (err == ESHUTDOWN) {
        message += "the server is stopping";
    } else {
        message += std::strerror(err);
    }
    return Error{err, std::move(message)};
}

// Runs the callback held in `slot` with `args`, keeping it there for the next call unless the call
// replaced it or the socket was closed meanwhile (a callback may close its own socket: it is not
// destroyed while it runs).
template <typename Fn, typename Alive, typename... Args>
void call_kept(Fn& slot, Alive alive, Args&&... args) {
    Fn fn = std::move(slot);
    fn(std::forward<Args>(args)...);
    if (alive() && !slot) slot = std::move(fn);
}

}  // namespace

struct Outbound::Sock {
    int fd = -1;
    uint32_t slot = 0;
    uint32_t generation = 1;
    bool connecting = false;
    bool timed_out = false;   // the connect deadline passed; its cancel is on the way
    bool recv_armed = false;
    bool send_in_flight = false;
    bool closing = false;
    bool in_flush_list = false;
    bool adopted = false;  // TcpSocket::adopt: the server's own (not closed with outbound ones)
    bool paused = false;   // TcpSocket::pause_reading: no receive armed until resumed
    sockaddr_storage address{};
    socklen_t address_length = 0;
    std::string to;  // the endpoint's text, for messages
    alloc::ByteBuffer out;
    alloc::ByteBuffer sending;
    size_t sent = 0;
    engine::Timer timer;
    Outbound* owner = nullptr;
    UniqueFunction<void(Result<TcpSocket>)> on_connect;
    UniqueFunction<void(std::string_view)> on_data;
    UniqueFunction<void(int)> on_close;
    UniqueFunction<void(size_t)> on_sent;
};

Outbound::Outbound(engine::Worker& worker, alloc::BufferRing& buffers, uint16_t buffer_group,
                   uint8_t first_op) noexcept
    : worker_(worker), buffers_(buffers), buffer_group_(buffer_group), first_op_(first_op) {}

Outbound::~Outbound() { teardown(); }

void Outbound::teardown() noexcept {
    if (dead_) return;
    dead_ = true;  // first: handles destroyed below must find nothing
    close_all(true);
    // The pools hold sockets (handles to this Outbound): dropping them here ends that cycle.
    std::vector<std::unique_ptr<ClientState>> clients;
    clients.swap(clients_);
    clients.clear();
    deferred_.clear();
}

Outbound* Outbound::current() noexcept {
    const std::shared_ptr<net::detail::LoopState>* loop = net::detail::current_loop();
    return loop != nullptr && *loop != nullptr ? (*loop)->outbound : nullptr;
}

void Outbound::set_client_state(uint32_t id, std::unique_ptr<ClientState> state) {
    if (clients_.size() <= id) clients_.resize(id + 1);
    clients_[id] = std::move(state);
}

// ---- slots --------------------------------------------------------------------------------

Outbound::Sock* Outbound::find(uint32_t slot, uint32_t generation) const noexcept {
    if (dead_ || slot >= socks_.size()) return nullptr;
    Sock* s = socks_[slot].get();
    return s->generation == generation && s->fd >= 0 ? s : nullptr;
}

Outbound::Sock* Outbound::take_slot() {
    Sock* s;
    if (!free_.empty()) {
        s = socks_[free_.back()].get();
        free_.pop_back();
    } else {
        socks_.push_back(std::make_unique<Sock>());
        s = socks_.back().get();
        s->slot = static_cast<uint32_t>(socks_.size() - 1);
        s->owner = this;
        s->timer.set_callback(&Outbound::on_connect_deadline, s);
    }
    s->connecting = s->timed_out = s->recv_armed = s->send_in_flight = false;
    s->closing = s->in_flush_list = s->adopted = s->paused = false;
    s->sent = 0;
    ++live_;
    return s;
}

uint64_t Outbound::tag(uint8_t which, const Sock& s) const noexcept {
    return engine::make_tag(static_cast<uint8_t>(first_op_ + which), s.generation, s.slot);
}

// ---- connect ------------------------------------------------------------------------------

void Outbound::connect(const Endpoint& to, const TcpOptions& options,
                       UniqueFunction<void(Result<TcpSocket>)> done) {
    const int fd = ::socket(to.address.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
                            IPPROTO_TCP);
    if (fd < 0) {
        const int err = errno;
        deferred_.emplace_back([done = std::move(done), e = connect_error(err, to.text)]() mutable {
            done(Result<TcpSocket>(std::move(e)));
        });
        return;
    }
    if (options.no_delay) {
        const int one = 1;
        ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    }
    Sock& s = *take_slot();
    s.fd = fd;
    s.connecting = true;
    s.address = to.address;
    s.address_length = to.length;
    s.to = to.text;
    s.on_connect = std::move(done);
    io_uring_sqe* sqe = worker_.ring().get_sqe();
    io_uring_prep_connect(sqe, fd, reinterpret_cast<const sockaddr*>(&s.address),
                          s.address_length);
    io_uring_sqe_set_data64(sqe, tag(kConnectOp, s));
    if (options.connect_timeout_ms != 0) {
        worker_.timers().schedule(&s.timer,
                                  worker_.now_ns() + uint64_t{options.connect_timeout_ms} * 1'000'000);
    }
}

void Outbound::on_connect_deadline(void* arg) noexcept {
    auto* s = static_cast<Sock*>(arg);
    if (!s->connecting || s->timed_out) return;
    s->timed_out = true;
    io_uring_sqe* sqe = s->owner->worker_.ring().get_sqe();
    io_uring_prep_cancel64(sqe, s->owner->tag(kConnectOp, *s), 0);
    io_uring_sqe_set_data64(sqe, kIgnoreTag);
}

template <typename Fn>
bool Outbound::guarded(std::string_view what, Fn&& fn) noexcept {
    try {
        fn();
        return true;
    } catch (const std::exception& ex) {
        report(what, ex.what());
    } catch (...) {
        report(what, "a non-standard exception");
    }
    return false;
}

void Outbound::on_connect(Sock& s, int res) noexcept {
    s.connecting = false;
    worker_.timers().cancel(&s.timer);
    auto done = std::move(s.on_connect);
    if (res < 0 || s.closing) {
        const int err = s.timed_out ? ETIMEDOUT : (res < 0 ? -res : ESHUTDOWN);
        Error e = connect_error(err, s.to);
        s.closing = true;
        maybe_release(s);
        if (done) guarded("a connect callback threw: ", [&] { done(Result<TcpSocket>(std::move(e))); });
        return;
    }
    arm_recv(s);
    guarded("a connect callback threw: ", [&] {
        done(Result<TcpSocket>(TcpSocket(shared_from_this(), s.slot, s.generation)));
    });
}

TcpSocket Outbound::adopt(int fd) {
    Sock& s = *take_slot();
    s.fd = fd;
    s.adopted = true;
    ++adopted_;
    s.to = "an adopted connection";
    arm_recv(s);
    return TcpSocket(shared_from_this(), s.slot, s.generation);
}

// ---- receive ------------------------------------------------------------------------------

alloc::BufferRing& Outbound::ring_of(const Sock& s) noexcept {
    return s.adopted && adopted_buffers_ != nullptr ? *adopted_buffers_ : buffers_;
}

void Outbound::arm_recv(Sock& s) noexcept {
    const bool own_ring = s.adopted && adopted_buffers_ != nullptr;
    io_uring_sqe* sqe = worker_.ring().get_sqe();
    io_uring_prep_recv_multishot(sqe, s.fd, nullptr, 0, 0);
    sqe->flags |= IOSQE_BUFFER_SELECT;
    sqe->buf_group = own_ring ? adopted_group_ : buffer_group_;
    // (Its own op: a stale completion still says which ring its buffer goes back to.)
    io_uring_sqe_set_data64(sqe, tag(own_ring ? kAdoptedRecvOp : kRecvOp, s));
    s.recv_armed = true;
}

void Outbound::on_recv(Sock& s, const io_uring_cqe& cqe) noexcept {
    const bool more = (cqe.flags & IORING_CQE_F_MORE) != 0;
    if (!more) s.recv_armed = false;
    const bool has_buffer = (cqe.flags & IORING_CQE_F_BUFFER) != 0;
    const auto bid = static_cast<uint16_t>(cqe.flags >> IORING_CQE_BUFFER_SHIFT);
    alloc::BufferRing& buffers = ring_of(s);
    if (cqe.res > 0) {
        const uint32_t generation = s.generation;
        if (!s.closing && s.on_data) {
            const bool ok = guarded("a socket's on_data threw (the socket is closed): ", [&] {
                call_kept(s.on_data,
                          [&s, generation] { return s.generation == generation && !s.closing; },
                          std::string_view(buffers.buffer(bid), static_cast<size_t>(cqe.res)));
            });
            if (!ok && s.generation == generation) begin_close(s);
        }
        buffers.recycle(bid);
        if (s.generation != generation) return;  // closed and released inside the callback
        if (!more && !s.closing && !s.paused) rearm_list_.emplace_back(&s, s.generation);
    } else {
        if (has_buffer) buffers.recycle(bid);
        if (cqe.res == -ECANCELED && !s.closing) {
            // pause_reading()'s cancel: resume_reading() arms it again (or, resumed before the
            // cancel arrived, it is armed again now).
            if (!s.paused) rearm_list_.emplace_back(&s, s.generation);
        } else if (cqe.res == -ENOBUFS && !s.closing) {
            rearm_list_.emplace_back(&s, s.generation);  // buffers come back this turn
        } else if (!s.closing) {
            ended(s, cqe.res);  // 0: the peer closed; else the error
        }
    }
    if (s.closing) maybe_release(s);
}

void Outbound::rearm() noexcept {
    for (auto [s, generation] : rearm_list_) {
        if (s->generation == generation && s->fd >= 0 && !s->closing && !s->recv_armed &&
            !s->paused)
            arm_recv(*s);
    }
    rearm_list_.clear();
}

// ---- send ---------------------------------------------------------------------------------

alloc::ByteBuffer* Outbound::output(uint32_t slot, uint32_t generation) noexcept {
    Sock* s = find(slot, generation);
    if (s == nullptr || s->closing || s->connecting) return nullptr;
    if (!s->in_flush_list) {
        s->in_flush_list = true;
        flush_list_.push_back(s);
    }
    return &s->out;
}

size_t Outbound::buffered(uint32_t slot, uint32_t generation) const noexcept {
    const Sock* s = find(slot, generation);
    return s == nullptr ? 0 : s->out.size() + (s->sending.size() - s->sent);
}

void Outbound::flush() noexcept {
    // Callbacks that could not run inline (a connect that failed before it began) first: they
    // may write.
    while (!deferred_.empty()) {
        std::vector<UniqueFunction<void()>> run;
        run.swap(deferred_);
        for (auto& fn : run)
            guarded("a client callback threw: ", fn);
    }
    for (Sock* s : flush_list_) {
        s->in_flush_list = false;
        if (s->fd >= 0 && !s->closing && !s->send_in_flight && !s->out.empty()) send(*s);
    }
    flush_list_.clear();
}

void Outbound::send(Sock& s) noexcept {
    s.sending.clear();
    s.sending.swap(s.out);
    s.sent = 0;
    io_uring_sqe* sqe = worker_.ring().get_sqe();
    io_uring_prep_send(sqe, s.fd, s.sending.data(), s.sending.size(), MSG_NOSIGNAL);
    io_uring_sqe_set_data64(sqe, tag(kSendOp, s));
    s.send_in_flight = true;
}

void Outbound::on_send(Sock& s, int res) noexcept {
    s.send_in_flight = false;
    if (s.closing) {
        maybe_release(s);
        return;
    }
    if (res < 0) {
        ended(s, res);
        return;
    }
    s.sent += static_cast<size_t>(res);
    if (s.sent < s.sending.size()) {
        // A short send: the rest goes from where the kernel stopped.
        io_uring_sqe* sqe = worker_.ring().get_sqe();
        io_uring_prep_send(sqe, s.fd, s.sending.data() + s.sent, s.sending.size() - s.sent,
                           MSG_NOSIGNAL);
        io_uring_sqe_set_data64(sqe, tag(kSendOp, s));
        s.send_in_flight = true;
        return;
    }
    s.sending.clear();
    s.sent = 0;  // (buffered() counts sending.size() - sent)
    if (!s.out.empty()) send(s);
    if (s.on_sent) {
        const uint32_t generation = s.generation;
        const size_t left = s.out.size() + (s.sending.size() - s.sent);
        const bool ok = guarded("a socket's on_sent threw (the socket is closed): ", [&] {
            call_kept(s.on_sent,
                      [&s, generation] { return s.generation == generation && !s.closing; }, left);
        });
        if (!ok && s.generation == generation) begin_close(s);
        if (s.generation == generation && s.closing) maybe_release(s);
    }
}

// ---- close --------------------------------------------------------------------------------

void Outbound::ended(Sock& s, int err) noexcept {
    auto fn = std::move(s.on_close);
    s.on_data = nullptr;
    begin_close(s);
    if (fn) guarded("a socket's on_close threw: ", [&] { fn(err); });
}

void Outbound::begin_close(Sock& s) noexcept {
    if (s.closing) return;
    s.closing = true;
    worker_.timers().cancel(&s.timer);
    if (s.recv_armed || s.send_in_flight || s.connecting) {
        io_uring_sqe* sqe = worker_.ring().get_sqe();
        io_uring_prep_cancel_fd(sqe, s.fd, IORING_ASYNC_CANCEL_ALL);
        io_uring_sqe_set_data64(sqe, kIgnoreTag);
    }
}

void Outbound::maybe_release(Sock& s) noexcept {
    if (!s.closing || s.recv_armed || s.send_in_flight || s.connecting || s.fd < 0) return;
    io_uring_sqe* sqe = worker_.ring().get_sqe();
    io_uring_prep_close(sqe, s.fd);
    io_uring_sqe_set_data64(sqe, kIgnoreTag);
    s.fd = -1;
    s.generation = (s.generation + 1) & engine::OpTag::kGenerationMask;
    if (s.generation == 0) s.generation = 1;
    // Callbacks are destroyed at release, never while they run (closing from inside one keeps
    // the socket until its completions are in, after the callback returned).
    s.on_data = nullptr;
    s.on_close = nullptr;
    s.on_sent = nullptr;
    if (s.adopted) {
        s.adopted = false;
        --adopted_;
    }
    s.out.release();
    s.sending.release();
    free_.push_back(s.slot);
    --live_;
}

void Outbound::close(uint32_t slot, uint32_t generation) noexcept {
    Sock* s = find(slot, generation);
    if (s == nullptr) return;
    // Nothing of the socket runs after close(): its callbacks are dropped with its slot.
    begin_close(*s);
    maybe_release(*s);
}

bool Outbound::is_open(uint32_t slot, uint32_t generation) const noexcept {
    const Sock* s = find(slot, generation);
    return s != nullptr && !s->closing && !s->connecting;
}

void Outbound::set_on_data(uint32_t slot, uint32_t generation,
                           UniqueFunction<void(std::string_view)> fn) {
    if (Sock* s = find(slot, generation); s != nullptr && !s->closing) s->on_data = std::move(fn);
}

void Outbound::set_on_close(uint32_t slot, uint32_t generation, UniqueFunction<void(int)> fn) {
    if (Sock* s = find(slot, generation); s != nullptr && !s->closing) s->on_close = std::move(fn);
}

size_t Outbound::write_now(uint32_t slot, uint32_t generation,
                           std::span<const iovec> parts) noexcept {
    Sock* s = find(slot, generation);
    if (s == nullptr || s->closing || s->connecting || s->send_in_flight || !s->out.empty())
        return 0;
    msghdr m{};
    m.msg_iov = const_cast<iovec*>(parts.data());
    m.msg_iovlen = parts.size();
    const ssize_t n = ::sendmsg(s->fd, &m, MSG_DONTWAIT | MSG_NOSIGNAL);
    // EAGAIN: the socket's buffer is full; an error (EPIPE, ECONNRESET) is left for the ring's
    // send of what the caller queues, which ends the socket the usual way.
    return n > 0 ? static_cast<size_t>(n) : 0;
}

void Outbound::pause_reading(uint32_t slot, uint32_t generation, bool paused) noexcept {
    Sock* s = find(slot, generation);
    if (s == nullptr || s->closing || s->connecting || s->paused == paused) return;
    s->paused = paused;
    if (paused) {
        if (s->recv_armed) {
            io_uring_sqe* sqe = worker_.ring().get_sqe();
            io_uring_prep_cancel64(sqe, tag(s->adopted && adopted_buffers_ != nullptr ? kAdoptedRecvOp
                                                                                    : kRecvOp,
                                            *s),
                                   0);
            io_uring_sqe_set_data64(sqe, kIgnoreTag);
        }
    } else if (!s->recv_armed) {
        rearm_list_.emplace_back(s, s->generation);  // armed at the end of the turn
    }
}

void Outbound::set_on_sent(uint32_t slot, uint32_t generation, UniqueFunction<void(size_t)> fn) {
    if (Sock* s = find(slot, generation); s != nullptr && !s->closing) s->on_sent = std::move(fn);
}

// ---- the worker's hooks -------------------------------------------------------------------

void Outbound::on_completion(const io_uring_cqe& cqe) noexcept {
    const engine::OpTag t = engine::OpTag::unpack(cqe.user_data);
    Sock* s = t.slot < socks_.size() ? socks_[t.slot].get() : nullptr;
    if (s == nullptr || s->generation != t.generation || s->fd < 0) {
        // Stale: a receive's buffer still goes back, to the ring it came from.
        if ((cqe.flags & IORING_CQE_F_BUFFER) != 0) {
            alloc::BufferRing& ring = t.op - first_op_ == kAdoptedRecvOp && adopted_buffers_ != nullptr
                                          ? *adopted_buffers_
                                          : buffers_;
            ring.recycle(static_cast<uint16_t>(cqe.flags >> IORING_CQE_BUFFER_SHIFT));
        }
        return;
    }
    switch (t.op - first_op_) {
        case kConnectOp:
            on_connect(*s, cqe.res);
            break;
        case kRecvOp:
        case kAdoptedRecvOp:
            on_recv(*s, cqe);
            break;
        case kSendOp:
            on_send(*s, cqe.res);
            break;
        default:
            break;
    }
}

void Outbound::stop() noexcept {
    for (auto& c : clients_)
        if (c) c->stop();
}

void Outbound::close_all(bool teardown, bool adopted_too) noexcept {
    for (auto& p : socks_) {
        Sock& s = *p;
        if (s.fd < 0 || (!adopted_too && s.adopted && !teardown)) continue;
        if (teardown) {
            // The loop has ended: nothing more completes. Close synchronously, call nothing
            // (a callback destroyed here may hold handles: they find the socket gone).
            worker_.timers().cancel(&s.timer);
            ::close(s.fd);
            s.fd = -1;
            s.generation = (s.generation + 1) & engine::OpTag::kGenerationMask;
            auto on_connect = std::move(s.on_connect);
            auto on_data = std::move(s.on_data);
            auto on_close = std::move(s.on_close);
            auto on_sent = std::move(s.on_sent);
            s.adopted = false;
            continue;
        }
        if (s.closing) continue;
        if (s.connecting) {
            begin_close(s);  // the cancelled connect reports ESHUTDOWN
            continue;
        }
        ended(s, -ESHUTDOWN);
        maybe_release(s);
    }
    if (teardown) {
        deferred_.clear();
        live_ = 0;
        adopted_ = 0;
    }
}

void Outbound::report(std::string_view what, std::string_view detail) noexcept {
    std::fprintf(stderr, "nexure: worker %u: outbound: %.*s%.*s\n", worker_.index(),
                 static_cast<int>(what.size()), what.data(), static_cast<int>(detail.size()),
                 detail.data());
}

}  // namespace nexure::net::client::detail
