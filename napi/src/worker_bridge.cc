#include "napi/src/worker_bridge.h"

#include <atomic>
#include <charconv>
#include <cstdlib>
#include <cstring>
#include <new>
#include <optional>
#include <string>
#include <utility>

#include "engine/worker.h"
#include "napi/src/file_answers.h"
#include "napi/src/records.h"
#include "napi/src/thread_role.h"

namespace nexure::napi {

namespace {

using net::http::Request;

// Whether `inner` lies inside `outer`: then the record points into the copy of `outer` instead
// of copying `inner` again (path, query and parameter values are views into the target).
bool within(std::string_view inner, std::string_view outer) noexcept {
    return !inner.empty() && !outer.empty() && inner.data() >= outer.data() &&
           inner.data() + inner.size() <= outer.data() + outer.size();
}

// Bytes of the fixed part, the entries and the strings, before the body's alignment.
uint64_t head_bytes(const Request& request) noexcept {
    using namespace request_record;
    const std::string_view target = request.target();
    uint64_t n = kFixedBytes +
                 uint64_t{kEntryBytes} * (request.params().size() + request.headers().size()) +
                 target.size();
    if (request.method() == net::http::Method::kOther) n += request.method_name().size();
    if (!within(request.path(), target)) n += request.path().size();
    if (!within(request.query(), target)) n += request.query().size();
    for (const net::http::Param& p : request.params()) {
        n += p.name.size();
        if (!within(p.value, target)) n += p.value.size();
    }
    for (const net::http::Header& h : request.headers())
        n += h.name.size() + h.value.size();
    return n;
}

uint64_t total_bytes(const Request& request) noexcept {
    return ((head_bytes(request) + 7) & ~uint64_t{7}) + request.body().size();
}

bool is_content_length(std::string_view name) noexcept {
    constexpr std::string_view kName = "content-length";
    if (name.size() != kName.size()) return false;
    for (size_t i = 0; i < name.size(); ++i) {
        char c = name[i];
        if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
        if (c != kName[i]) return false;
    }
    return true;
}

// A response record's body: inline after the header block (which ends at `block_end`), or
// stashed (the malloc'd pointer after the record, returned in `stashed` for the caller to free).
std::string_view record_body(const engine::Mailbox::Record& record, uint32_t kind,
                             uint32_t body_length, const char* block_end, void** stashed) noexcept {
    using namespace response_record;
    const char* record_end = record.data + record.size;
    if (kind == kBodyStashed && record.size >= kFixedBytes + kStashPointerBytes) {
        std::memcpy(stashed, record_end - kStashPointerBytes, sizeof(*stashed));
        if (*stashed != nullptr) return {static_cast<const char*>(*stashed), body_length};
    } else if (kind == kBodyInline && block_end + body_length <= record_end) {
        return {block_end, body_length};
    }
    return {};
}

// Writes the record for `request` to `out` (room for `size` bytes, 8-byte aligned).
void put_endpoint(char* out, uint32_t port_at, uint32_t address_at,
                  const net::http::Endpoint& e) noexcept {
    store_u16(out + port_at, e.port);
    std::memcpy(out + address_at, e.bytes.data(), e.bytes.size());
}

// `engine_status`: 0, or the status of an answer the engine handed over (submit_engine_answer,
// with kFlagEngineAnswer in `request_flags`).
void encode(char* out, const Request& request, uint32_t id, const net::Ticket& ticket,
            uint32_t size, uint8_t request_flags, uint16_t engine_status) noexcept {
    using namespace request_record;
    std::memcpy(out + kTicket, &ticket, sizeof(ticket));
    store_u32(out + kHandler, id);
    out[kMethod] = static_cast<char>(request.method());
    out[kMinorVersion] = static_cast<char>(request.version_minor());
    out[kParamCount] = static_cast<char>(request.params().size());
    out[kKeepAlive] = request.keep_alive() ? 1 : 0;
    store_u32(out + kHeaderCount, static_cast<uint32_t>(request.headers().size()));
    store_u32(out + kBodyLength, static_cast<uint32_t>(request.body().size()));
    net::http::Endpoint remote;
    net::http::Endpoint local;
    request.addresses(&remote, &local);
    put_endpoint(out, kRemotePort, kRemoteAddress, remote);
    put_endpoint(out, kLocalPort, kLocalAddress, local);
    out[kFamily] = static_cast<char>(remote.family);
    out[kRequestFlags] = static_cast<char>(request_flags);
    store_u16(out + kEngineStatus, engine_status);

    uint32_t pos = kFixedBytes + kEntryBytes * static_cast<uint32_t>(request.params().size() +
                                                                     request.headers().size());
    auto put = [out, &pos](std::string_view s) noexcept {
        const uint32_t at = pos;
        if (!s.empty()) std::memcpy(out + pos, s.data(), s.size());
        pos += static_cast<uint32_t>(s.size());
        return at;
    };
    if (request.method() == net::http::Method::kOther) {
        const std::string_view name = request.method_name();
        store_u32(out + kMethodNameOffset, put(name));
        store_u32(out + kMethodNameLength, static_cast<uint32_t>(name.size()));
    } else {
        store_u32(out + kMethodNameOffset, 0);
        store_u32(out + kMethodNameLength, 0);
    }
    const std::string_view target = request.target();
    const uint32_t target_at = put(target);
    auto place = [&](std::string_view s) noexcept {
        if (within(s, target)) return target_at + static_cast<uint32_t>(s.data() - target.data());
        return put(s);
    };
    store_u32(out + kTargetOffset, target_at);
    store_u32(out + kTargetLength, static_cast<uint32_t>(target.size()));
    store_u32(out + kPathOffset, place(request.path()));
    store_u32(out + kPathLength, static_cast<uint32_t>(request.path().size()));
    store_u32(out + kQueryOffset, place(request.query()));
    store_u32(out + kQueryLength, static_cast<uint32_t>(request.query().size()));

    char* entry = out + kFixedBytes;
    auto put_entry = [&entry](uint32_t a, size_t al, uint32_t b, size_t bl) noexcept {
        store_u32(entry, a);
        store_u32(entry + 4, static_cast<uint32_t>(al));
        store_u32(entry + 8, b);
        store_u32(entry + 12, static_cast<uint32_t>(bl));
        entry += kEntryBytes;
    };
    for (const net::http::Param& p : request.params()) {
        const uint32_t name_at = put(p.name);
        put_entry(name_at, p.name.size(), place(p.value), p.value.size());
    }
    for (const net::http::Header& h : request.headers()) {
        const uint32_t name_at = put(h.name);
        put_entry(name_at, h.name.size(), put(h.value), h.value.size());
    }
    const uint32_t body_at = align8(pos);
    if (body_at != pos) std::memset(out + pos, 0, body_at - pos);
    const std::string_view body = request.body();
    if (!body.empty()) std::memcpy(out + body_at, body.data(), body.size());
    store_u32(out + kBodyOffset, body_at);
    store_u32(out + kTotalLength, size);
}

}  // namespace

WorkerBridge::WorkerBridge(Ref<Channel> channel, net::Server* server) noexcept
    : channel_(std::move(channel)),
      requests_(channel_->requests()),
      responses_(channel_->responses()),
      ws_(*this, server) {
    overflow_.reserve(64 * 1024);
    overflow_sizes_.reserve(256);
    rejected_.reserve(16);
    gather_.reserve(kGather);
}

WorkerBridge::~WorkerBridge() {
    // Requests still in the ring or the overflow belong to connections that are gone: the JS
    // side skips a finished channel. The release store pairs with JsSide's acquire load.
    channel_->finished.store(true, std::memory_order_release);
    channel_->ring_js();
}

uint32_t WorkerBridge::record_size(const Request& request) noexcept {
    const uint64_t n = total_bytes(request);
    return n > UINT32_MAX ? UINT32_MAX : static_cast<uint32_t>(n);
}

void WorkerBridge::submit(const Request& request, uint32_t id, const net::Ticket& ticket) noexcept {
    flush_gather();
    const uint32_t size = record_size(request);
    if (overflow_count_ == 0) [[likely]] {
        if (char* out = requests_.try_reserve(size)) [[likely]] {
            encode(out, request, id, ticket, size, 0, 0);
            return;
        }
    }
    submit_slow(request, id, ticket, size, 0, 0);
}

void WorkerBridge::submit_engine_answer(const Request& request, uint32_t id, uint16_t status,
                                        const net::Ticket& ticket) noexcept {
    // The head only: a 413's body was never read (the parser's view of it is empty).
    flush_gather();
    submit_slow(request, id, ticket, record_size(request), request_record::kFlagEngineAnswer,
                status);
}

void WorkerBridge::submit_slow(const Request& request, uint32_t id, const net::Ticket& ticket,
                               uint32_t size, uint8_t request_flags,
                               uint16_t engine_status) noexcept {
    char* out = room(size);
    if (out == nullptr) {
        // Cannot happen within the limits the ring was sized from (addon.cc); answered 500.
        rejected_.push_back(ticket);
        return;
    }
    encode(out, request, id, ticket, size, request_flags, engine_status);
}

bool WorkerBridge::submit_record(const Request& request, uint32_t id,
                                 const net::Ticket& ticket) noexcept {
    flush_gather();
    const uint32_t size = record_size(request);
    char* out = room(size);
    if (out == nullptr) return false;
    encode(out, request, id, ticket, size, 0, 0);
    return true;
}

bool WorkerBridge::submit_streaming(const Request& request, uint32_t id,
                                    const net::Ticket& ticket) noexcept {
    flush_gather();
    submit_slow(request, id, ticket, record_size(request), request_record::kFlagBodyStreams, 0);
    return true;
}

void WorkerBridge::body_data(const net::Ticket& ticket, std::string_view bytes) noexcept {
    const bool same = gathering_ && std::memcmp(&gather_ticket_, &ticket, sizeof(ticket)) == 0;
    if (same && gather_.size() + bytes.size() <= kGather) {
        gather_.insert(gather_.end(), bytes.begin(), bytes.end());
        return;
    }
    flush_gather();
    if (bytes.size() >= kGather) {
        put_event(ticket, event_record::kBodyData, bytes, {});
        return;
    }
    gather_.assign(bytes.begin(), bytes.end());
    gather_ticket_ = ticket;
    gathering_ = true;
}

void WorkerBridge::flush_gather_slow() noexcept {
    gathering_ = false;
    put_event(gather_ticket_, event_record::kBodyData,
              std::string_view(gather_.data(), gather_.size()), {});
    gather_.clear();
}

void WorkerBridge::body_end(const net::Ticket& ticket) noexcept {
    submit_event(ticket, event_record::kBodyEnd, {});
}

void WorkerBridge::body_error(const net::Ticket& ticket, int status,
                              std::string_view reason) noexcept {
    char code[4];
    store_u32(code, static_cast<uint32_t>(status));
    submit_event(ticket, event_record::kBodyError, std::string_view(code, sizeof(code)),
                 reason.substr(0, 1024));
}

char* WorkerBridge::room(uint32_t size) noexcept {
    if (overflow_count_ == 0) {
        if (char* out = requests_.try_reserve(size)) return out;
    }
    if (size > requests_.max_record()) return nullptr;
    // The ring is full (or older records wait here): keep the order, and report saturated()
    // so that the worker stops reading until the JS side has caught up.
    const size_t at = overflow_.size();
    overflow_.resize(at + align8(size));
    overflow_sizes_.push_back(size);
    ++overflow_count_;
    return overflow_.data() + at;
}

void WorkerBridge::submit_event(const net::Ticket& ticket, uint8_t type, std::string_view a,
                                std::string_view b) noexcept {
    flush_gather();
    put_event(ticket, type, a, b);
}

void WorkerBridge::put_event(const net::Ticket& ticket, uint8_t type, std::string_view a,
                             std::string_view b) noexcept {
    const auto n = static_cast<uint32_t>(a.size() + b.size());
    char* out = room(event_record::size(n));
    if (out == nullptr) return;  // larger than half the ring: callers split their data
    event_record::encode(out, &ticket, type, a.data(), static_cast<uint32_t>(a.size()), b.data(),
                         static_cast<uint32_t>(b.size()));
}

uint32_t WorkerBridge::move_overflow() noexcept {
    uint32_t moved = 0;
    while (overflow_count_ != 0) {
        const uint32_t size = overflow_sizes_[overflow_first_];
        char* out = requests_.try_reserve(size);
        if (out == nullptr) break;
        std::memcpy(out, overflow_.data() + overflow_read_, size);
        overflow_read_ += align8(size);
        ++overflow_first_;
        --overflow_count_;
        ++moved;
    }
    if (overflow_count_ == 0 && !overflow_sizes_.empty()) {
        overflow_.clear();
        overflow_sizes_.clear();
        overflow_read_ = 0;
        overflow_first_ = 0;
    }
    return moved;
}

void WorkerBridge::deliver(const engine::Mailbox::Record& record, net::Completions& done) noexcept {
    using namespace response_record;
    // JsSide validated the record's structure before moving it into the ring (js_side.cc); the
    // bounds are checked again because a corrupt record must not make the worker read outside it.
    const char* r = record.data;
    if (record.size < kFixedBytes) return;
    net::Ticket ticket;
    std::memcpy(&ticket, r + kTicket, sizeof(ticket));
    if (load_u32(r + kFlags) & kFlagBodyControl) {
        // Not an answer: flow control of the request's streamed body (PROTOCOL.md).
        done.body_control(ticket, static_cast<net::BodyControl>(load_u16(r + kStatus)),
                          load_u32(r + kStashId));
        return;
    }
    if (load_u32(r + kFlags) & kFlagWebSocket) {
        // Not an answer: an operation on a WebSocket (ws_bridge.h); no header block.
        void* stashed = nullptr;
        const uint32_t body_length = load_u32(r + kBodyLength);
        ws_.apply(r, record_body(record, load_u32(r + kBodyKind), body_length, r + kFixedBytes,
                                 &stashed));
        channel_->free_stash(stashed, body_length);
        return;
    }
    net::http::Response& res = done.response();
    res.status(load_u16(r + kStatus));
    const uint32_t header_count = load_u32(r + kHeaderCount);
    const uint32_t block = load_u32(r + kHeaderBlockLength);
    const uint32_t body_length = load_u32(r + kBodyLength);
    const uint32_t kind = load_u32(r + kBodyKind);
    const uint32_t flags = load_u32(r + kFlags);
    // A stream's head may say its length (Content-Length, which a response may not set
    // otherwise): taken out here, sent by the framing.
    const bool stream_head = (flags & kFlagStreamOpen) != 0;
    std::optional<std::string_view> content_length;
    const char* h = r + kFixedBytes;
    const char* block_end = h + block;
    const char* record_end = r + record.size;
    if (block_end > record_end) block_end = h;  // not reachable after validation
    for (uint32_t i = 0; i < header_count && h + 4 <= block_end; ++i) {
        const uint16_t name_length = load_u16(h);
        const uint16_t value_length = load_u16(h + 2);
        h += 4;
        if (h + name_length + value_length > block_end) break;
        const std::string_view name(h, name_length);
        const std::string_view value(h + name_length, value_length);
        if (stream_head && is_content_length(name)) [[unlikely]] {
            content_length = value;
        } else {
            res.header(name, value);
        }
        h += name_length + value_length;
    }
    void* stashed = nullptr;
    const std::string_view body = record_body(record, kind, body_length, block_end, &stashed);
    if (flags & kFlagNoCompress) {
        res.compress(false);
    } else if (flags & kFlagForceCompress) {
        res.compress(true);
    }
    if ((flags & (kFlagStreamOpen | kFlagStreamData)) != 0) [[unlikely]] {
        deliver_stream(ticket, flags, content_length, body, res, done);
    } else {
        res.body(body);
        if (flags & kFlagClose) res.close();
        if (flags & kFlagFile) [[unlikely]] {
            deliver_file_answer(ticket, res);  // the body names a file the worker sends
        } else {
            (void)done.complete(ticket);  // false: the client went away or the request timed out
        }
    }
    channel_->free_stash(stashed, body_length);
}

void WorkerBridge::deliver_stream(const net::Ticket& ticket, uint32_t flags,
                                  std::optional<std::string_view> content_length,
                                  std::string_view body, net::http::Response& res,
                                  net::Completions& done) noexcept {
    using namespace response_record;
    const bool end = (flags & kFlagStreamEnd) != 0;
    if ((flags & kFlagStreamOpen) == 0) {
        // The close flag on a data record without the end flag: the source failed, cut it.
        streams_.data(ticket, done, body, end, !end && (flags & kFlagClose) != 0);
        return;
    }
    // The head is in `res` (done.response(), filled by deliver(): asking for it again would
    // reset it); on an open record the close flag is the usual "close the connection after
    // this response".
    uint64_t length = net::Completions::kUnknownLength;
    if (flags & kFlagStreamPreframed) {
        length = net::Completions::kPreframed;
    } else if (content_length) {
        const std::string_view v = *content_length;
        uint64_t n = 0;
        const auto [end_ptr, ec] = std::from_chars(v.data(), v.data() + v.size(), n);
        if (v.empty() || ec != std::errc{} || end_ptr != v.data() + v.size()) {
            res.fail("a streamed response's Content-Length is not a decimal number");
        } else {
            length = n;
        }
    }
    if (flags & kFlagClose) res.close();
    streams_.open(ticket, done, length, body, end, false);
}

void WorkerBridge::on_turn_end(net::Completions& done) noexcept {
    // Answers first: they free their connections' pipelines for this turn's sends.
    engine::Mailbox::Record record;
    bool took = false;
    while (responses_.next(&record)) {
        deliver(record, done);
        took = true;
    }
    if (took) {
        responses_.release();
        // Pairs with the fence in JsSide::retry_responses(): either it sees the room released
        // here, or this sees its flag.
        std::atomic_thread_fence(std::memory_order_seq_cst);
        if (channel_->js_wants_room.load(std::memory_order_relaxed) &&
            channel_->js_wants_room.exchange(false, std::memory_order_acq_rel)) {
            channel_->ring_js();
        }
    }
    if (took) streams_.turn_end();
    if (!rejected_.empty()) [[unlikely]] {
        for (const net::Ticket& ticket : rejected_) {
            net::http::Response& res = done.response();
            res.status(500).body("request too large for the JavaScript bridge\n");
            (void)done.complete(ticket);
        }
        rejected_.clear();
    }
    flush_gather();
    if (overflow_count_ != 0) move_overflow();
    if (requests_.has_unpublished() && requests_.publish()) channel_->ring_js();
}

bool WorkerBridge::prepare_to_sleep() noexcept {
    if (overflow_count_ != 0) {
        // Ask the JS side for a wake-up once it releases records, then look again: pairs with
        // the fence in JsSide after Mailbox::release().
        channel_->worker_wants_room.store(true, std::memory_order_seq_cst);
        std::atomic_thread_fence(std::memory_order_seq_cst);
        if (move_overflow() != 0) {
            channel_->worker_wants_room.store(false, std::memory_order_relaxed);
            return false;  // on_turn_end() publishes them
        }
    }
    if (requests_.has_unpublished() || gathering_) return false;
    return responses_.prepare_to_sleep();
}

void WorkerBridge::awake() noexcept {
    responses_.awake();
    channel_->worker_wants_room.store(false, std::memory_order_relaxed);
}

Result<std::unique_ptr<net::Handoff>> make_worker_bridge(engine::Worker& worker,
                                                         BridgeRegistry& registry) noexcept {
    mark_engine_thread();
    Result<Ref<Channel>> made = Channel::create(
        registry.request_capacity, registry.response_capacity, &worker, registry.js_doorbell_fd);
    if (!made) return made.error();
    Ref<Channel> channel = std::move(made).value();
    try {
        {
            std::lock_guard lock(registry.mutex);
            if (registry.channels.size() <= worker.index())
                registry.channels.resize(worker.index() + 1);
            registry.channels[worker.index()] = channel;
        }
        return std::unique_ptr<net::Handoff>(new WorkerBridge(std::move(channel), registry.server));
    } catch (const std::bad_alloc&) {
        return Error{ENOMEM, "out of memory for the JavaScript bridge of worker " +
                                 std::to_string(worker.index())};
    }
}

}  // namespace nexure::napi
