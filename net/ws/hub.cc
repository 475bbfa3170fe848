#include "net/ws/hub.h"

#include <unistd.h>

#include <utility>

#include "net/ws/socket.h"

namespace nexure::net::ws::detail {

namespace {
thread_local Hub* current_hub = nullptr;
constexpr uint64_t kSweepMs = 1'000;
}  // namespace

// ---- Registry -----------------------------------------------------------------------------

void Registry::join(unsigned worker, Loop loop) {
    std::lock_guard lock(mutex_);
    loops_.emplace_back(worker, std::move(loop));
}

void Registry::leave(unsigned worker) noexcept {
    std::lock_guard lock(mutex_);
    std::erase_if(loops_, [worker](const auto& p) { return p.first == worker; });
}

bool Registry::others(unsigned worker) noexcept {
    std::lock_guard lock(mutex_);
    for (auto& p : loops_)
        if (p.first != worker) return true;
    return false;
}

namespace {

// A published message on its way to the other hubs: its bytes count in the registry's
// posted_bytes() until the last hub has let go of it.
struct Posting {
    Posting(std::shared_ptr<const Published> m, std::shared_ptr<std::atomic<uint64_t>> c) noexcept
        : message(std::move(m)),
          counter(std::move(c)),
          bytes(message->topic.size() + message->payload.size()) {
        counter->fetch_add(bytes, std::memory_order_relaxed);
    }
    ~Posting() { counter->fetch_sub(bytes, std::memory_order_relaxed); }
    Posting(const Posting&) = delete;
    Posting& operator=(const Posting&) = delete;

    std::shared_ptr<const Published> message;
    std::shared_ptr<std::atomic<uint64_t>> counter;
    uint64_t bytes;
};

}  // namespace

bool Registry::post(std::shared_ptr<const Published> message, unsigned from) {
    bool any = false;
    auto posting = std::make_shared<Posting>(std::move(message), posted_);
    std::lock_guard lock(mutex_);
    for (auto& [worker, loop] : loops_) {
        if (worker == from) continue;
        any |= loop.post([posting] {
            if (Hub* hub = Hub::current()) hub->deliver(*posting->message);
        });
    }
    return any;
}

// ---- Hub ----------------------------------------------------------------------------------

Hub::Hub(engine::Worker& worker, std::shared_ptr<Registry> registry)
    : worker_(worker), registry_(std::move(registry)), sweep_timer_(&Hub::on_sweep, this) {
    current_hub = this;
}

Hub::~Hub() {
    if (current_hub == this) current_hub = nullptr;
    worker_.timers().cancel(&sweep_timer_);
    // The worker is going away: sockets close without callbacks (their TCP handles close with
    // them).
    sockets_.clear();
}

Hub* Hub::current() noexcept { return current_hub; }

void Hub::adopt(Upgraded upgraded, Accepted accepted) {
    if (stopping_) {
        ::close(upgraded.fd);
        return;
    }
    Socket* s;
    if (!free_.empty()) {
        s = sockets_[free_.back()].get();
        free_.pop_back();
    } else {
        sockets_.push_back(std::make_unique<Socket>(*this, static_cast<uint32_t>(sockets_.size())));
        s = sockets_.back().get();
    }
    ++live_;
    arm_sweep();
    s->start(upgraded.fd, std::move(upgraded.received), accepted);
}

void Hub::release(Socket& s) noexcept {
    free_.push_back(s.slot());
    --live_;
}

Socket* Hub::find(uint64_t id) noexcept {
    const auto slot = static_cast<uint32_t>(id & 0xFFFFFFFF);
    if ((id >> 56) != (worker_.index() & 0xFF) || slot >= sockets_.size()) return nullptr;
    Socket* s = sockets_[slot].get();
    return s->in_use() && s->id() == id ? s : nullptr;
}

Deflater* Hub::shared_deflater(int level, uint8_t window_bits) noexcept {
    for (auto& d : deflaters_)
        if (d.level == level && d.window_bits == window_bits) return d.deflater.get();
    auto d = std::make_unique<Deflater>();
    if (!d->init(level, window_bits, true)) return nullptr;
    deflaters_.push_back(SharedDeflater{level, window_bits, std::move(d)});
    return deflaters_.back().deflater.get();
}

// ---- publish ------------------------------------------------------------------------------

bool Hub::publish(std::string_view topic, std::string_view payload, bool binary, bool compress,
                  uint64_t exclude) {
    deliver_to(topic, payload, binary, compress, exclude);
    if (registry_ == nullptr || !registry_->others(worker_.index())) return true;
    auto message = std::make_shared<Published>(Published{
        std::string(topic), std::string(payload), binary, compress, exclude});
    registry_->post(std::move(message), worker_.index());
    return true;
}

void Hub::deliver(const Published& m) noexcept {
    deliver_to(m.topic, m.payload, m.binary, m.compress, m.exclude);
}

void Hub::deliver_to(std::string_view topic, std::string_view payload, bool binary, bool compress,
                     uint64_t exclude) noexcept {
    const Topic* t = topics_.find(topic);
    if (t == nullptr) return;
    // A snapshot: a send may close a socket (overflow), which leaves its topics.
    snapshot_.assign(t->subscribers.begin(), t->subscribers.end());
    const Opcode opcode = binary ? Opcode::kBinary : Opcode::kText;
    // The frame is encoded once for every subscriber that takes it as is; a compressed one once
    // for all that share the worker's compressor.
    frame_.clear();
    append_frame(frame_, opcode, true, false, payload);
    Deflater* shared = nullptr;
    uint8_t shared_bits = 0;
    bool compressed_ready = false;
    for (Socket* s : snapshot_) {
        if (!s->in_use() || s->id() == exclude) continue;
        const bool deflate = compress && s->deflates() &&
                             payload.size() >= s->behaviour().compression.min_size;
        if (!deflate) {
            s->send_encoded(frame_.view());
            continue;
        }
        const WsBehaviour& b = s->behaviour();
        if (!compressed_ready && s->shares_compressed(b.compression.server_max_window_bits)) {
            shared_bits = b.compression.server_max_window_bits;
            shared = shared_deflater(b.compression.level, shared_bits);
            compressed_.clear();
            payload_scratch_.clear();
            if (shared != nullptr && shared->compress(payload, payload_scratch_)) {
                append_frame(compressed_, opcode, true, true, payload_scratch_.view());
                compressed_ready = true;
            }
        }
        if (compressed_ready && s->shares_compressed(shared_bits)) {
            s->send_encoded(compressed_.view());
        } else {
            s->send(payload, opcode, true);  // its own compressor (context takeover)
        }
    }
    snapshot_.clear();
}

// ---- backpressure from the consumer ------------------------------------------------------

void Hub::after_delivery(Socket& s) noexcept {
    if (!consumer_full_ || s.reading_paused() || !consumer_full_()) return;
    s.pause_reading();
    paused_.emplace_back(&s, s.id());
}

void Hub::resume_paused() noexcept {
    if (paused_.empty() || (consumer_full_ && consumer_full_())) return;
    for (auto [s, id] : paused_)
        if (s->in_use() && s->id() == id) s->resume_reading();
    paused_.clear();
}

// ---- stop and sweep -----------------------------------------------------------------------

void Hub::stop() noexcept {
    stopping_ = true;
    for (auto& s : sockets_)
        if (s->in_use()) s->end(close_code::kGoingAway, "server stopping");
}

void Hub::arm_sweep() noexcept {
    if (sweep_armed_) return;
    sweep_armed_ = true;
    worker_.timers().schedule(&sweep_timer_, worker_.now_ns() + kSweepMs * 1'000'000);
}

void Hub::on_sweep(void* arg) noexcept { static_cast<Hub*>(arg)->sweep(); }

void Hub::sweep() noexcept {
    sweep_armed_ = false;
    const uint64_t now = now_ms();
    for (size_t i = 0; i < sockets_.size(); ++i)
        sockets_[i]->sweep(now);
    if (live_ > 0) arm_sweep();
}

}  // namespace nexure::net::ws::detail
