// send_file_body(): the bytes [offset, offset + length) of an open file sent as a streamed
// response body (net/stream.h) on the worker's ring — never a blocking read. From 64 KiB, when the
// stream is first in its connection's order, the body is spliced from the page cache to the socket
// (Stream::splice: no copy through user memory, one 1 MiB pipe per transfer). Otherwise it is read
// in chunks (net/io.h) and written to the stream: memory per transfer is then one chunk buffer
// plus the connection's output, which the stream's high-water mark
// (ServerConfig::max_pending_output) bounds — when a write says the output is full, the next read
// waits for on_writable(); the next chunk is read while the last one is being sent. Worker thread
// only.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>

#include "net/stream.h"

namespace nexure::files {

// Takes `fd` (closed when the transfer ends, however it ends) and `stream` (opened with a
// Content-Length of `length`). A file that ends early (truncated meanwhile) or fails to read
// ends the stream short, which closes the connection (the client sees the body was cut); a
// client that leaves stops the reading.
void send_file_body(net::Stream stream, int fd, uint64_t offset, uint64_t length,
                    size_t chunk_size);

}  // namespace nexure::files
