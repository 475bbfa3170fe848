#include "napi/src/response_streams.h"

#include <new>

#include "napi/src/records.h"

namespace nexure::napi {

void ResponseStreams::open(const net::Ticket& ticket, net::Completions& done, uint64_t length,
                           std::string_view bytes, bool end, bool failed) noexcept {
    if (!done.open_stream(ticket, length)) {
        // The place was gone (its abort was told then) or the head was refused (answered 500):
        // either way JavaScript must stop its source.
        sink_.post_event(ticket, event_record::kAbort, {});
        return;
    }
    if (!end && !failed) {
        try {
            Entry& e = streams_[key(ticket)];
            e.ticket = ticket;
        } catch (const std::bad_alloc&) {
            // Without an entry there is no credit: cut the stream rather than stall it.
            done.end(ticket, true);
            sink_.post_event(ticket, event_record::kAbort, {});
            return;
        }
    }
    data(ticket, done, bytes, end, failed);
}

void ResponseStreams::data(const net::Ticket& ticket, net::Completions& done,
                           std::string_view bytes, bool end, bool failed) noexcept {
    auto it = streams_.find(key(ticket));
    if (!bytes.empty()) {
        const net::Completions::Write w = done.write(ticket, bytes);
        if (w == net::Completions::Write::kGone) {
            if (it != streams_.end()) gone(ticket);
            return;
        }
        if (it != streams_.end() && !end && !failed) {
            Entry& e = it->second;
            e.unacked += bytes.size();
            if (w == net::Completions::Write::kFull) e.blocked = true;
            if (!e.listed && !e.blocked) {
                e.listed = true;
                credited_.push_back(it->first);
            }
        }
    }
    if (end || failed) {
        done.end(ticket, failed);
        if (it != streams_.end()) streams_.erase(it);
    }
}

void ResponseStreams::gone(const net::Ticket& ticket) noexcept {
    streams_.erase(key(ticket));
    sink_.post_event(ticket, event_record::kAbort, {});
}

void ResponseStreams::aborted(const net::Ticket& ticket) noexcept {
    streams_.erase(key(ticket));
    // Every handed-off request is told, open stream or not (req.signal).
    sink_.post_event(ticket, event_record::kAbort, {});
}

void ResponseStreams::writable(const net::Ticket& ticket) noexcept {
    auto it = streams_.find(key(ticket));
    if (it == streams_.end()) return;
    it->second.blocked = false;
    post_credit(it->second);
}

void ResponseStreams::post_credit(Entry& e) noexcept {
    if (e.unacked == 0) return;
    // The window is far below 4 GiB; a larger count is given in several events.
    while (e.unacked != 0) {
        const uint32_t n = e.unacked > UINT32_MAX ? UINT32_MAX : static_cast<uint32_t>(e.unacked);
        char data[4];
        store_u32(data, n);
        sink_.post_event(e.ticket, event_record::kWritable, std::string_view(data, sizeof(data)));
        e.unacked -= n;
    }
}

void ResponseStreams::turn_end() noexcept {
    for (const Key& k : credited_) {
        auto it = streams_.find(k);
        if (it == streams_.end()) continue;
        Entry& e = it->second;
        e.listed = false;
        if (!e.blocked) post_credit(e);
    }
    credited_.clear();
}

}  // namespace nexure::napi
