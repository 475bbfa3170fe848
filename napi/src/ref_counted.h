// RefCounted: memory shared by the engine side, the JS-thread side and JavaScript itself.
//
// The rings and buffers the addon exposes as external ArrayBuffers are reachable from three
// owners whose lifetimes are not nested: the worker's handoff (destroyed on its worker thread
// when the worker ends), the server object on the JS thread, and every ArrayBuffer (whose
// finalizer runs whenever V8 decides — during a worker_threads teardown, before the engine
// threads are even stopped; napi/GROUNDWORK.md section 4). Each holds one reference; the last
// one out frees the block. Any thread.
#pragma once

#include <atomic>
#include <cstdint>
#include <utility>

namespace nexure::napi {

class RefCounted {
  public:
    RefCounted() noexcept { live_count.fetch_add(1, std::memory_order_relaxed); }
    RefCounted(const RefCounted&) = delete;
    RefCounted& operator=(const RefCounted&) = delete;

    void ref() noexcept { refs_.fetch_add(1, std::memory_order_relaxed); }
    // acq_rel: every owner's writes happen before the destructor, which may run on any thread.
    void unref() noexcept {
        if (refs_.fetch_sub(1, std::memory_order_acq_rel) == 1) delete this;
    }

    // Blocks alive in the process (tests check that teardown frees every one).
    static int64_t live() noexcept { return live_count.load(std::memory_order_relaxed); }

  protected:
    virtual ~RefCounted() { live_count.fetch_sub(1, std::memory_order_relaxed); }

  private:
    static inline std::atomic<int64_t> live_count{0};
    std::atomic<uint32_t> refs_{1};  // the creator's reference
};

// An owning reference (the creator's reference is adopted, not added).
template <typename T>
class Ref {
  public:
    Ref() = default;
    static Ref adopt(T* p) noexcept {
        Ref r;
        r.p_ = p;
        return r;
    }
    Ref(const Ref& other) noexcept : p_(other.p_) {
        if (p_) p_->ref();
    }
    Ref(Ref&& other) noexcept : p_(std::exchange(other.p_, nullptr)) {}
    Ref& operator=(Ref other) noexcept {
        std::swap(p_, other.p_);
        return *this;
    }
    ~Ref() {
        if (p_) p_->unref();
    }

    T* get() const noexcept { return p_; }
    T* operator->() const noexcept { return p_; }
    T& operator*() const noexcept { return *p_; }
    explicit operator bool() const noexcept { return p_ != nullptr; }
    // Hands the reference to a raw owner (an ArrayBuffer finalizer hint), which unref()s it.
    T* release() noexcept { return std::exchange(p_, nullptr); }

  private:
    T* p_ = nullptr;
};

}  // namespace nexure::napi
