// Request size limits enforced while parsing. Plain values, copied into each worker.
#pragma once

#include <cstddef>

namespace nexure::net::http {

struct Limits {
    // Longest request-target; longer gets 414. (nginx: large_client_header_buffers 8k)
    size_t max_target_size = 8 * 1024;
    // Longest request head (request line + header fields); longer gets 431.
    size_t max_head_size = 32 * 1024;
    // Most header fields in one request; more gets 431. (h2o: 100)
    unsigned max_header_count = 100;
    // Largest request body, by Content-Length or de-chunked; larger gets 413 before the body is
    // read. (nginx: client_max_body_size 1m)
    size_t max_body_size = 1024 * 1024;
};

}  // namespace nexure::net::http
