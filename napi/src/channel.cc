#include "napi/src/channel.h"

#include <unistd.h>

#include <cstdint>
#include <cstdlib>
#include <new>

#include "napi/src/records.h"

namespace nexure::napi {

Result<Ref<Channel>> Channel::create(size_t request_capacity, size_t response_capacity,
                                     engine::Worker* worker, int js_doorbell_fd) noexcept {
    auto* raw = new (std::nothrow) Channel(worker, js_doorbell_fd);
    if (raw == nullptr) return Error{ENOMEM, "out of memory for a bridge channel"};
    Ref<Channel> channel = Ref<Channel>::adopt(raw);
    // The request ring is mapped by the worker thread that calls this (the handoff factory),
    // so it lands on the worker's NUMA node; the response ring too: the worker reads it.
    const int node = -1;  // the thread's preferred node already applies (Worker::init)
    if (Result<void> r = channel->requests_.init(request_capacity, node); !r) return r.error();
    if (Result<void> r = channel->responses_.init(response_capacity, node); !r) return r.error();
    return channel;
}

Channel::~Channel() {
    // Whoever drops the last reference is the only one left: it may act as the response ring's
    // consumer and free the bodies of answers that were never framed.
    engine::Mailbox::Record record;
    while (responses_.next(&record))
        free_stashed_body(record);
}

void Channel::ring_js() const noexcept {
    const uint64_t one = 1;
    // Fails only when the counter would overflow: a wake-up is pending anyway.
    (void)!write(js_doorbell_fd_, &one, sizeof(one));
}

void Channel::free_stash(void* body, uint32_t bytes) noexcept {
    if (body == nullptr) return;
    std::free(body);
    stashed_bytes.fetch_sub(bytes, std::memory_order_relaxed);
}

void free_stashed_body(const engine::Mailbox::Record& record) noexcept {
    using namespace response_record;
    if (record.size < kFixedBytes + kStashPointerBytes) return;
    if (load_u32(record.data + kBodyKind) != kBodyStashed) return;
    void* body;
    std::memcpy(&body, record.data + record.size - kStashPointerBytes, sizeof(body));
    std::free(body);
}

}  // namespace nexure::napi
