// Which threads may call N-API: a thread-local mark set on every engine worker thread that
// builds a WorkerBridge. addon.cc's NAPI() macro aborts when a napi call is made on a marked
// thread, so a mistake that would corrupt V8 from another thread fails loudly instead
// (napi/GROUNDWORK.md section 3). No node headers: engine-thread code includes this.
#pragma once

namespace nexure::napi {

// Marks the calling thread as an engine thread (for the rest of its life).
void mark_engine_thread() noexcept;
bool on_engine_thread() noexcept;

}  // namespace nexure::napi
