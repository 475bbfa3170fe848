// The worker's ready list: coroutines (net/coro.h) to resume at the end of the current loop turn,
// in the order they became ready. Intrusive (a node lives in the awaiter or the state that
// waits), so scheduling a resumption allocates nothing; a frame destroyed while it waits unlinks
// its node. Worker thread only; one list per worker, in its LoopState (net/detail/loop_state.h).
#pragma once

#include <coroutine>

namespace nexure::net::detail {

struct ReadyNode {
    ReadyNode* prev = nullptr;  // null: not linked
    ReadyNode* next = nullptr;
    std::coroutine_handle<> handle;

    bool linked() const noexcept { return prev != nullptr; }
    void unlink() noexcept {
        if (prev == nullptr) return;
        prev->next = next;
        next->prev = prev;
        prev = next = nullptr;
    }
};

class ReadyList {
  public:
    ReadyList() noexcept { head_.prev = head_.next = &head_; }
    ReadyList(const ReadyList&) = delete;
    ReadyList& operator=(const ReadyList&) = delete;

    bool empty() const noexcept { return head_.next == &head_; }
    // Links `node` last (a node already linked stays where it is).
    void push(ReadyNode& node) noexcept {
        if (node.linked()) return;
        node.prev = head_.prev;
        node.next = &head_;
        head_.prev->next = &node;
        head_.prev = &node;
    }
    // Resumes the coroutines that were ready when it was called, oldest first. Those that become
    // ready meanwhile run at the next call (the next turn), so a coroutine that keeps making
    // itself ready cannot starve the loop. Defined in net/coro.cc.
    void run() noexcept;
    // Unlinks every node without resuming it (the worker is going away).
    void clear() noexcept {
        while (!empty())
            head_.next->unlink();
    }

  private:
    ReadyNode head_;  // sentinel: the list is circular through it
};

}  // namespace nexure::net::detail
