#include "napi/src/hub.h"

#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <new>
#include <unordered_set>

#include "napi/src/js_side.h"
#include "napi/src/records.h"

namespace nexure::napi {

namespace {

void ring(int fd) noexcept {
    const uint64_t one = 1;
    (void)!write(fd, &one, sizeof(one));
}

void report(const char* what, const std::string& why) noexcept {
    std::fprintf(stderr, "nexurejs: %s: %s\n", what, why.c_str());
}

}  // namespace

Hub::Hub(uint32_t lanes, int main_fd, uint32_t worker_count, size_t largest_record) noexcept
    : workers(worker_count), record_bytes(largest_record), lanes_(lanes), main_fd_(main_fd) {}

Hub::Key Hub::key_of(uint16_t worker, const char* ticket) noexcept {
    return Key{worker, load_u32(ticket), load_u32(ticket + 4), load_u32(ticket + 8)};
}

// ---- a JavaScript thread -----------------------------------------------------------------------

bool Hub::attach(uint32_t lane, int fd) noexcept {
    std::lock_guard lock(mutex_);
    if (lane >= lanes_.size() || lanes_[lane].attached) return false;
    Lane& l = lanes_[lane];
    l.attached = true;
    l.fd = fd;
    l.armed = false;
    return true;
}

void Hub::detach(uint32_t lane) noexcept {
    std::lock_guard lock(mutex_);
    if (lane >= lanes_.size() || !lanes_[lane].attached) return;
    Lane& l = lanes_[lane];
    l.attached = false;
    l.fd = -1;
    l.armed = false;
    if (finished_) return;
    // Its waiting requests go to the other threads, with their events. Without another thread
    // they wait here for a thread that attaches to this lane again.
    const bool others = std::any_of(lanes_.begin(), lanes_.end(),
                                    [](const Lane& x) { return x.attached; });
    std::unordered_set<Key, KeyHash> waiting;
    for (size_t i = 0; i < l.queue.size();) {
        if (!l.queue[i].request) {
            ++i;
        } else if (others) {
            move_request(lane, i, pick_lane());
        } else {
            waiting.insert(l.queue[i].key);
            ++i;
        }
    }
    if (others) {
        // What is left are events of requests it had taken: nobody reads them any more.
        for (const Parcel& p : l.queue)
            queued_bytes_ -= p.size;
        l.queue.clear();
    }
    // The requests it had taken cannot be answered by anyone else: 500, and the connection
    // closes (a streamed answer already begun is cut).
    for (auto it = owners_.begin(); it != owners_.end();) {
        if (it->second.lane != lane || waiting.count(it->first) != 0) {
            ++it;
            continue;
        }
        if (!it->second.answered) {
            answer_500(it->first, it->second);
            l.load -= 1;
        }
        it = owners_.erase(it);
    }
    ring_main();
}

void Hub::post(uint32_t lane, const char* bytes, uint32_t size,
               const std::vector<Stashed>& stashed) noexcept {
    std::lock_guard lock(mutex_);
    if (finished_ || lane >= lanes_.size()) {
        for (const Stashed& s : stashed)
            std::free(s.data);
        return;
    }
    const size_t base = outbox_.size();
    try {
        outbox_.insert(outbox_.end(), bytes, bytes + size);
        for (Stashed s : stashed) {
            s.at += static_cast<uint32_t>(base);
            outbox_stashed_.push_back(s);
        }
    } catch (const std::bad_alloc&) {
        outbox_.resize(base);
        while (!outbox_stashed_.empty() && outbox_stashed_.back().at >= base)
            outbox_stashed_.pop_back();
        for (const Stashed& s : stashed)
            std::free(s.data);
        report("a JavaScript thread's answers were dropped", "out of memory");
        return;
    }
    for (uint32_t at = 0; at < size; at += load_u32(bytes + at))
        account_answer(bytes + at);
    ring_main();
}

uint32_t Hub::take(uint32_t lane, char* inbox, size_t capacity, uint32_t* index,
                   uint32_t max) noexcept {
    std::lock_guard lock(mutex_);
    if (lane >= lanes_.size() || finished_) return 0;
    Lane& l = lanes_[lane];
    if (l.queue.empty()) steal_for(lane);
    uint32_t n = 0;
    size_t used = 0;
    bool took_request = false;
    while (n < max && !l.queue.empty()) {
        Parcel& p = l.queue.front();
        // One request at a time: the next one stays where an idle thread can steal it.
        if (p.request && took_request) break;
        if (used + p.size > capacity) break;
        std::memcpy(inbox + used, p.bytes.get(), p.size);
        index[3 * n] = p.worker;
        index[3 * n + 1] = static_cast<uint32_t>(used);
        index[3 * n + 2] = p.size;
        used += align8(p.size);
        queued_bytes_ -= p.size;
        took_request = took_request || p.request;
        l.queue.pop_front();
        ++n;
    }
    if (n == 0) l.armed = true;
    if (throttled_ && queued_bytes_ < kQueueBytes / 2) {
        throttled_ = false;
        ring_main();
    }
    return n;
}

bool Hub::finished() const noexcept {
    std::lock_guard lock(mutex_);
    return finished_;
}

// ---- the server's JS thread ----------------------------------------------------------------

bool Hub::pump(JsSide& js, uint32_t rounds) noexcept {
    {
        std::lock_guard lock(mutex_);
        main_armed_ = false;
        if (finished_) return false;
    }
    for (uint32_t round = 0; round < rounds; ++round) {
        const uint32_t staged = stage_answers(js);
        bool room;
        {
            std::lock_guard lock(mutex_);
            room = queued_bytes_ < kQueueBytes;
            throttled_ = !room;
        }
        Result<uint32_t> n = js.pull(staged, room ? JsSide::kMaxPull : 0);
        if (!n) {
            report("a JavaScript thread's answer was refused", n.error().message);
            continue;
        }
        if (n.value() != 0) {
            const auto* index = reinterpret_cast<const uint32_t*>(js.index()->data());
            std::lock_guard lock(mutex_);
            for (uint32_t i = 0; i < n.value(); ++i) {
                const uint32_t w = index[3 * i];
                const char* record = js.channels()[w]->requests().buffer() + index[3 * i + 1];
                route(static_cast<uint16_t>(w), record, index[3 * i + 2]);
            }
            ring_lanes();
            continue;
        }
        // Nothing came (the engine's doorbell is armed unless the lanes are full): sleep
        // unless a thread posted meanwhile.
        std::lock_guard lock(mutex_);
        if (outbox_.empty()) {
            main_armed_ = true;
            return false;
        }
    }
    return true;
}

uint32_t Hub::stage_answers(JsSide& js) noexcept {
    {
        std::lock_guard lock(mutex_);
        answers_.swap(outbox_);
        answers_stashed_.swap(outbox_stashed_);
    }
    char* staging = js.staging()->data();
    const size_t capacity = js.staging()->size();
    uint32_t pos = 0;
    size_t s = 0;
    for (size_t at = 0; at < answers_.size();) {
        const uint32_t length = load_u32(answers_.data() + at);
        if (pos + length > capacity) {
            if (Result<void> r = js.flush(pos); !r) {
                report("a JavaScript thread's answer was refused", r.error().message);
            }
            pos = 0;
        }
        std::memcpy(staging + pos, answers_.data() + at, length);
        bool keep = true;
        if (s < answers_stashed_.size() && answers_stashed_[s].at == at) {
            const Stashed& body = answers_stashed_[s++];
            Result<uint32_t> id = js.adopt_stash(body.data, body.size);
            if (id) {
                store_u32(staging + pos + response_record::kStashId, id.value());
            } else {
                report("a JavaScript thread's answer was dropped", id.error().message);
                keep = false;
            }
        }
        if (keep) pos += length;
        at += length;
    }
    answers_.clear();
    answers_stashed_.clear();
    return pos;
}

void Hub::route(uint16_t worker, const char* record, uint32_t size) noexcept {
    const bool request = load_u32(record + request_record::kHandler) != event_record::kHandlerId;
    const Key key = key_of(worker, record);
    uint32_t lane;
    auto it = owners_.end();
    if (request) {
        lane = pick_lane();
    } else {
        it = owners_.find(key);
        if (it == owners_.end()) return;  // its request has ended: nobody waits for it
        lane = it->second.lane;
    }
    Parcel p;
    p.bytes.reset(new (std::nothrow) char[size]);
    if (!p.bytes) {
        report("a request could not be handed to a JavaScript thread", "out of memory");
        return;  // the request is never answered: the engine's handler timeout answers it
    }
    std::memcpy(p.bytes.get(), record, size);
    p.size = size;
    p.worker = worker;
    p.request = request;
    p.key = key;
    try {
        lanes_[lane].queue.push_back(std::move(p));
        if (request) {
            Owner o;
            o.lane = lane;
            o.ticket_flags = load_u32(record + 12);
            o.body_open = (static_cast<uint8_t>(record[request_record::kRequestFlags]) &
                           request_record::kFlagBodyStreams) != 0;
            owners_[key] = o;
        }
    } catch (const std::bad_alloc&) {
        report("a request could not be handed to a JavaScript thread", "out of memory");
        return;
    }
    queued_bytes_ += size;
    lanes_[lane].ring = true;
    if (request) {
        lanes_[lane].load += 1;
        return;
    }
    const auto type = static_cast<uint8_t>(record[event_record::kType]);
    if (type == event_record::kAbort) {
        settle(it, true);
    } else if (type == event_record::kBodyEnd || type == event_record::kBodyError) {
        it->second.body_open = false;
        if (it->second.answered) owners_.erase(it);
    }
}

uint32_t Hub::pick_lane() noexcept {
    const auto count = static_cast<uint32_t>(lanes_.size());
    const bool any = std::any_of(lanes_.begin(), lanes_.end(),
                                 [](const Lane& x) { return x.attached; });
    uint32_t best = UINT32_MAX;
    for (uint32_t k = 0; k < count; ++k) {
        const uint32_t i = (next_lane_ + k) % count;
        if (any && !lanes_[i].attached) continue;
        if (best == UINT32_MAX || lanes_[i].load < lanes_[best].load) best = i;
    }
    next_lane_ = (best + 1) % count;
    return best;
}

void Hub::ring_lanes() noexcept {
    for (Lane& l : lanes_) {
        if (l.ring && l.armed && l.fd >= 0) {
            l.armed = false;
            ring(l.fd);
        }
        l.ring = false;
    }
}

void Hub::settle(std::unordered_map<Key, Owner, KeyHash>::iterator it, bool aborted) noexcept {
    Owner& o = it->second;
    if (!o.answered) {
        o.answered = true;
        lanes_[o.lane].load -= 1;
    }
    if (aborted || !o.body_open) owners_.erase(it);
}

void Hub::account_answer(const char* r) noexcept {
    using namespace response_record;
    const uint32_t flags = load_u32(r + kFlags);
    if (flags & (kFlagWebSocket | kFlagBodyControl)) return;
    auto it = owners_.find(key_of(load_u16(r + kWorker), r + kTicket));
    if (it == owners_.end() || it->second.answered) return;
    if (flags & (kFlagStreamOpen | kFlagStreamData)) {
        const bool ends = (flags & kFlagStreamEnd) ||
                          ((flags & kFlagStreamData) && (flags & kFlagClose));  // cut
        if (!ends) {
            it->second.streaming = true;
            return;
        }
    }
    settle(it, false);
}

bool Hub::steal_for(uint32_t lane) noexcept {
    // The most loaded lane with a request waiting gives its oldest one.
    uint32_t victim = UINT32_MAX;
    size_t at = 0;
    for (uint32_t i = 0; i < lanes_.size(); ++i) {
        if (i == lane) continue;
        const std::deque<Parcel>& q = lanes_[i].queue;
        const auto first = std::find_if(q.begin(), q.end(), [](const Parcel& p) { return p.request; });
        if (first == q.end()) continue;
        if (victim == UINT32_MAX || lanes_[i].load > lanes_[victim].load) {
            victim = i;
            at = static_cast<size_t>(first - q.begin());
        }
    }
    if (victim == UINT32_MAX) return false;
    move_request(victim, at, lane);
    return true;
}

void Hub::move_request(uint32_t from, size_t at, uint32_t to) noexcept {
    std::deque<Parcel>& source = lanes_[from].queue;
    std::deque<Parcel>& target = lanes_[to].queue;
    const Key key = source[at].key;
    // The request, then the events queued behind it, in their order.
    target.push_back(std::move(source[at]));
    source.erase(source.begin() + static_cast<std::ptrdiff_t>(at));
    for (size_t i = at; i < source.size();) {
        if (!source[i].request && source[i].key == key) {
            target.push_back(std::move(source[i]));
            source.erase(source.begin() + static_cast<std::ptrdiff_t>(i));
        } else {
            ++i;
        }
    }
    if (auto it = owners_.find(key); it != owners_.end()) {
        it->second.lane = to;
        if (!it->second.answered) {
            lanes_[from].load -= 1;
            lanes_[to].load += 1;
        }
    }
    lanes_[to].ring = true;
    ring_lanes();
}

void Hub::answer_500(const Key& key, const Owner& owner) noexcept {
    using namespace response_record;
    char r[kFixedBytes] = {};
    store_u32(r + kLength, kFixedBytes);
    store_u16(r + kWorker, static_cast<uint16_t>(key.worker));
    store_u16(r + kStatus, 500);
    store_u32(r + kTicket, key.slot);
    store_u32(r + kTicket + 4, key.generation);
    store_u32(r + kTicket + 8, key.seq);
    store_u32(r + kTicket + 12, owner.ticket_flags);
    // A streamed answer already begun is cut (data + close, no end); any other gets the 500.
    store_u32(r + kFlags, owner.streaming ? (kFlagStreamData | kFlagClose) : kFlagClose);
    try {
        outbox_.insert(outbox_.end(), r, r + kFixedBytes);
    } catch (const std::bad_alloc&) {
        report("a request of a JavaScript thread that ended was not answered", "out of memory");
    }
}

void Hub::ring_main() noexcept {
    if (main_armed_ && main_fd_ >= 0) {
        main_armed_ = false;
        ring(main_fd_);
    }
}

void Hub::finish() noexcept {
    std::lock_guard lock(mutex_);
    finish_locked();
}

void Hub::forget_main() noexcept {
    std::lock_guard lock(mutex_);
    main_fd_ = -1;
    finish_locked();
}

void Hub::finish_locked() noexcept {
    finished_ = true;
    for (Lane& l : lanes_) {
        l.queue.clear();
        l.load = 0;
        if (l.fd >= 0) {
            l.armed = false;
            ring(l.fd);  // the thread looks again and sees finished()
        }
    }
    queued_bytes_ = 0;
    owners_.clear();
    drop_outbox();
}

void Hub::drop_outbox() noexcept {
    for (const Stashed& s : outbox_stashed_)
        std::free(s.data);
    outbox_stashed_.clear();
    outbox_.clear();
}

}  // namespace nexure::napi
