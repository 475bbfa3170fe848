// WsClient: a blocking WebSocket client for the integration tests — the handshake over an
// HttpClient, then frames built and read with net/ws/frame.h (client frames masked unless a test
// asks otherwise). Every wait has a deadline. One thread per client.
#pragma once

#include <gtest/gtest.h>

#include <cstdint>
#include <string>
#include <string_view>

#include "net/ws/frame.h"
#include "tests/support/http_client.h"

namespace nexure::test {

struct WsFrame {
    net::ws::Opcode opcode = net::ws::Opcode::kContinuation;
    bool fin = false;
    bool rsv1 = false;
    std::string payload;
    // For a close frame: its code (0 when it had none) and reason.
    uint16_t close_code() const;
    std::string close_reason() const;
};

class WsClient {
  public:
    // Connects and sends the opening handshake for `path` (with `extra_headers`, each line ended
    // by CRLF); `response` gets the server's answer. Succeeds only on a 101.
    ::testing::AssertionResult open(uint16_t port, std::string_view path,
                                    std::string_view extra_headers = {},
                                    Response* response = nullptr);
    // The handshake request for `path` (the RFC's sample key), for tests that send it themselves.
    static std::string handshake(std::string_view path, std::string_view extra_headers = {});

    ::testing::AssertionResult send_frame(net::ws::Opcode opcode, std::string_view payload,
                                          bool fin = true, bool rsv1 = false, bool masked = true);
    ::testing::AssertionResult send_text(std::string_view text) {
        return send_frame(net::ws::Opcode::kText, text);
    }
    ::testing::AssertionResult send_close(uint16_t code, std::string_view reason = {});
    ::testing::AssertionResult send_raw(std::string_view bytes) { return http_.send_all(bytes); }

    // Reads the next frame (control frames included).
    ::testing::AssertionResult read_frame(WsFrame* out, Deadline deadline = deadline_in(kIoTimeout));
    // True when the server closes TCP before the deadline (frames arriving meanwhile are dropped).
    bool wait_closed(Deadline deadline = deadline_in(kIoTimeout));

    HttpClient& http() { return http_; }
    void close() { http_.close(); }

  private:
    HttpClient http_;
    std::string in_;  // received bytes not yet returned as frames
};

}  // namespace nexure::test
