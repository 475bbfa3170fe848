// File answers through the bridge (napi/PROTOCOL.md, response flag bit 4): the JavaScript thread
// decided the head (status and fields, so the app's hooks saw them) and the record's body names
// the file; the worker re-opens it below its root and sends its bytes on its own ring
// (net/files/static_files.h, answer_with_file) — no file byte crosses into JavaScript.
// Engine-thread code: no N-API here.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "net/handoff.h"
#include "net/http/response.h"

namespace nexure::napi {

namespace file_record {
// The body of a file answer record, all integers little-endian:
inline constexpr uint32_t kOffset = 0;        // u64: the first byte to send
inline constexpr uint32_t kLength = 8;        // u64: how many
inline constexpr uint32_t kFlags = 16;        // u32: kHeadOnly, kNoSymlinks
inline constexpr uint32_t kRootLength = 20;   // u32
inline constexpr uint32_t kPathLength = 24;   // u32
inline constexpr uint32_t kEtagLength = 28;   // u32
inline constexpr uint32_t kFixedBytes = 32;   // then the root, the path and the ETag (UTF-8)
inline constexpr uint32_t kHeadOnly = 1;      // a HEAD request: the head, no body
inline constexpr uint32_t kNoSymlinks = 2;    // open with RESOLVE_NO_SYMLINKS
}  // namespace file_record

inline constexpr uint32_t kFlagFile = 16;  // response record flag bit 4

// Worker thread, from WorkerBridge::deliver: `res` holds the record's status and fields, and as
// its body the file spec above. Takes the request's place (net::Later::adopt) and answers it with
// the file; a malformed spec or a root that cannot be opened answers 500 (logged).
void deliver_file_answer(const net::Ticket& ticket, net::http::Response& res) noexcept;

}  // namespace nexure::napi
