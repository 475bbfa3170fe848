// Report: what one nexload run measured, its JSON form (`--json FILE`), and the merge of several
// runs into one (`nexload merge a.json b.json ...`, e.g. runs taken on several machines at once).
//
// WebSocket runs add "ws" (messages, rates, handshakes, close codes; fan-out counts) and the
// errors "handshake" and "closed".
//
// The JSON holds the summary a reader wants (requests, duration_s, rps, errors, status counts per
// class, latency percentiles in µs) and, under "histogram", the non-zero counters of each latency
// histogram with its exact min, max and saturated count, which is what makes a later merge exact
// rather than an average of percentiles. Reading checks every field it uses and names the one that
// is missing or wrong.
#pragma once

#include <array>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "alloc/result.h"
#include "bench/load/histogram.h"

namespace nexure::load {

struct Errors {
    uint64_t connect = 0;  // connections refused, reset or timed out while connecting
    uint64_t read = 0;     // the server closed or reset a connection with requests outstanding
    uint64_t write = 0;    // a send failed
    uint64_t timeout = 0;  // a response did not arrive within --timeout
    uint64_t parse = 0;    // bytes that are not a valid HTTP/1.1 response (WebSocket: a bad frame,
                           // or an echo that differs from the message sent)
    uint64_t handshake = 0;  // WebSocket: an upgrade refused (no 101, a wrong Accept, no answer)
    uint64_t closed = 0;     // WebSocket: the server sent a close frame (codes in WsStats)
    uint64_t total() const noexcept {
        return connect + read + write + timeout + parse + handshake + closed;
    }
};

// What a WebSocket run (--ws, --ws-fanout) measured beyond the common fields. In these runs
// Report::requests counts messages received (echoes, or fan-out deliveries to subscribers) and
// Report::bytes the bytes received.
struct WsStats {
    bool fanout = false;
    uint64_t handshakes = 0;  // upgrades accepted (101 with the Sec-WebSocket-Accept the key wants)
    uint64_t sent = 0;        // messages written (echo: by every connection; fan-out: published)
    uint64_t bytes_sent = 0;  // bytes written: handshakes and frames
    // Fan-out only:
    uint64_t subscribers = 0;         // connections counting deliveries
    uint64_t own = 0;                 // the publisher's own messages that came back to it
    uint64_t gaps = 0;                // messages a subscriber missed (a later one reached it)
    uint64_t min_per_subscriber = 0;  // deliveries to the subscriber that got the fewest
    uint64_t max_per_subscriber = 0;  //   and the most
    // Close frames from the server, by code (1005: a close frame without one).
    std::map<uint16_t, uint64_t> close_codes;
};

struct Report {
    uint64_t requests = 0;  // complete, valid responses
    double duration_s = 0;  // wall-clock time of the measured interval
    uint64_t bytes = 0;     // response bytes received
    Errors errors;
    std::array<uint64_t, 5> status{};  // responses per class: 1xx .. 5xx
    // Service time: from the moment a request was written to its response's last byte.
    std::unique_ptr<LatencyHistogram> latency = std::make_unique<LatencyHistogram>();
    // Constant-rate runs (-R) only: from each request's intended send time, which corrects for
    // coordinated omission. Null otherwise.
    std::unique_ptr<LatencyHistogram> corrected;
    // What the first connect, read, write or parse error was, in words ("" when none): counts
    // say how often, this says why.
    std::string first_error;
    // WebSocket runs only.
    std::optional<WsStats> ws;

    double rps() const noexcept { return duration_s > 0 ? requests / duration_s : 0; }
};

// The run as JSON (one object, two-space indented, ending in a newline).
std::string to_json(const Report& report);

// The run for a reader, as nexload prints it: requests and rate, transfer, status classes,
// errors, latency percentiles (with --latency, the whole distribution and, for constant-rate runs,
// corrected and uncorrected side by side).
std::string to_text(const Report& report, bool distribution);

// A report from JSON written by to_json(). Errors name the field and what is wrong with it.
Result<Report> report_from_json(std::string_view json);

// One report for runs made at the same time (on several threads or machines): counts and
// histograms add up, the duration is the longest. Fails for an empty list or when some runs have a
// corrected histogram and others do not.
Result<Report> merge_reports(const std::vector<Report>& reports);

}  // namespace nexure::load
