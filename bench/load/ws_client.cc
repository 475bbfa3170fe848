#include "bench/load/ws_client.h"

#include <liburing.h>
#include <sys/socket.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "alloc/byte_buffer.h"
#include "bench/load/loop_thread.h"
#include "bench/load/ws_handshake.h"
#include "bench/load/ws_reader.h"
#include "engine/cpu_topology.h"
#include "net/ws/frame.h"
#include "net/ws/handshake.h"

namespace nexure::load {

namespace {

using net::ws::Opcode;

// A fan-out message starts with its sequence number and its intended send time (CLOCK_MONOTONIC
// ns), 16 hex digits each, so that it is valid text too.
constexpr size_t kStampSize = 32;

void put_hex(char* out, uint64_t v) noexcept {
    static constexpr char kDigits[] = "0123456789abcdef";
    for (int i = 15; i >= 0; --i) {
        out[i] = kDigits[v & 15];
        v >>= 4;
    }
}

bool get_hex(const char* in, uint64_t* v) noexcept {
    uint64_t r = 0;
    for (int i = 0; i < 16; ++i) {
        const char c = in[i];
        unsigned d;
        if (c >= '0' && c <= '9') {
            d = static_cast<unsigned>(c - '0');
        } else if (c >= 'a' && c <= 'f') {
            d = static_cast<unsigned>(c - 'a' + 10);
        } else {
            return false;
        }
        r = (r << 4) | d;
    }
    *v = r;
    return true;
}

struct WsConn {
    enum class Phase : uint8_t { kHandshake, kOpen };

    Socket sock;
    Phase phase = Phase::kHandshake;
    bool publisher = false;  // fan-out: the connection that publishes
    std::string request;     // its handshake, with its own key
    std::string accept;      //   and the Sec-WebSocket-Accept that key calls for
    std::string reply;       // the handshake's answer until its head is complete
    WsReader reader;
    bool sending = false;
    const char* send_base = nullptr;  // the current send's bytes
    size_t send_off = 0;
    size_t send_len = 0;
    alloc::ByteBuffer queued;    // this connection's own frames (pongs, published messages)
    alloc::ByteBuffer inflight;  //   and those being written
    uint32_t outstanding = 0;    // echo: messages sent whose echo has not arrived
    uint32_t head = 0;           // echo: the oldest outstanding message's slot in the time FIFOs
    uint64_t next_index = 0;     // echo at -R: this connection's next message number
    bool mismatch = false;       // echo: the message being read differs from the one sent
    uint64_t delivered = 0;      // fan-out: messages that reached this subscriber
    uint64_t next_seq = 0;       // fan-out: the sequence number expected next
    bool seq_known = false;      //   once one arrived on this connection
};

class WsThread final : public LoopThread, public WsReaderSink {
  public:
    WsThread(const LoadOptions& options, unsigned index, int cpu, unsigned connections,
             uint64_t budget, Progress* progress)
        : LoopThread(options, index, cpu, progress),
          schedule_(options, index),
          fanout_(options.ws.mode == WsMode::kFanout),
          rate_mode_(options.rate > 0 && !fanout_),
          budget_(budget),
          to_send_(budget),
          depth_(options.pipeline),
          opcode_(options.ws.binary ? Opcode::kBinary : Opcode::kText),
          rng_(now_ns() ^ (uint64_t{index} << 48) ^ 0x6e65786c6f6164ull) {
        payload_.resize(options.ws.size);
        for (size_t i = 0; i < payload_.size(); ++i) {
            payload_[i] = options.ws.binary ? static_cast<char>(i * 131 + 7)
                                            : static_cast<char>('a' + i % 26);
        }
        const std::string key = random_ws_key(rng_);  // 16 random bytes; 4 make the mask
        std::memcpy(&mask_, key.data(), sizeof mask_);
        if (!fanout_) {
            for (unsigned i = 0; i < depth_; ++i) {
                net::ws::append_frame(batch_, opcode_, true, false, payload_, &mask_);
            }
            frame_len_ = batch_.size() / depth_;
        }
        const unsigned sockets = fanout_ ? connections + 1 : connections;
        conns_.resize(sockets);
        if (fanout_) conns_[0].publisher = true;
        sent_at_.assign(static_cast<size_t>(sockets) * depth_, 0);
        if (rate_mode_) {
            intended_at_.assign(sent_at_.size(), 0);
            report_.corrected = std::make_unique<LatencyHistogram>();
        }
        report_.ws.emplace();
        report_.ws->fanout = fanout_;
        if (fanout_) {
            report_.ws->subscribers = connections;
            publish_interval_ns_ = 1e9 / options.rate;
        }
    }

  private:
    uint32_t socket_count() const noexcept override {
        return static_cast<uint32_t>(conns_.size());
    }
    Socket& socket(uint32_t slot) noexcept override { return conns_[slot].sock; }
    uint32_t slot_of(const WsConn& c) const noexcept {
        return static_cast<uint32_t>(&c - conns_.data());
    }
    size_t subscribers() const noexcept { return fanout_ ? conns_.size() - 1 : 0; }

    void begin(uint64_t now) override {
        for (WsConn& c : conns_) open(c, now);
        if (budget_ == 0) {  // -n smaller than -t: nothing for this thread to do
            finished_ = true;
            last_response_ns_ = start_ns_;
        }
    }

    void open(WsConn& c, uint64_t now) {
        const std::string key = random_ws_key(rng_);
        c.request = build_ws_handshake(options_, key);
        c.accept = net::ws::accept_key(key);
        c.reply.clear();
        c.reader = WsReader();
        c.phase = WsConn::Phase::kHandshake;
        c.mismatch = false;
        c.seq_known = false;
        open_socket(c.sock, slot_of(c), now);
    }

    // Closes the connection; echoes outstanding on it go back to the -n budget. It is opened
    // again at `reopen_at`.
    void close(WsConn& c, uint64_t reopen_at) {
        close_socket(c.sock);
        if (budget_ != kNoLimit) to_send_ += c.outstanding;
        if (fanout_ && !c.publisher && c.phase == WsConn::Phase::kOpen) --subscribers_open_;
        c.phase = WsConn::Phase::kHandshake;
        c.outstanding = 0;
        c.head = 0;
        c.sending = false;
        c.queued.clear();
        c.inflight.clear();
        c.sock.reconnect_at = reopen_at;
        if (reopen_at <= now_) open(c, now_);
    }

    void start_send(WsConn& c, const char* base, size_t len) {
        c.sending = true;
        c.send_base = base;
        c.send_off = 0;
        c.send_len = len;
        report_.ws->bytes_sent += len;
        send_bytes(c.sock, slot_of(c), base, len);
    }

    // Writes what the connection has to write, when it is not writing already: its own frames
    // first, then (closed-loop echo) messages up to --depth in flight.
    void flush(WsConn& c, uint64_t now) {
        if (c.sock.state != Socket::State::kOpen || c.sending || c.phase != WsConn::Phase::kOpen)
            return;
        if (!c.queued.empty()) {
            c.inflight.swap(c.queued);
            c.queued.clear();
            start_send(c, c.inflight.data(), c.inflight.size());
            return;
        }
        if (fanout_ || rate_mode_) return;
        const auto count = static_cast<uint32_t>(std::min<uint64_t>(depth_ - c.outstanding, to_send_));
        if (count != 0) send_messages(c, count, now);
    }

    // Writes `count` echo messages (a prefix of the batch) and notes their times.
    void send_messages(WsConn& c, uint32_t count, uint64_t now) {
        const size_t base = static_cast<size_t>(slot_of(c)) * depth_;
        for (uint32_t i = 0; i < count; ++i) {
            const size_t slot = base + (c.head + c.outstanding + i) % depth_;
            sent_at_[slot] = now;
            if (rate_mode_) intended_at_[slot] = intended(c, c.next_index + i);
        }
        if (rate_mode_) c.next_index += count;
        c.outstanding += count;
        to_send_ -= count;
        report_.ws->sent += count;
        start_send(c, batch_.data(), frame_len_ * count);
    }

    // Echo at -R: the time message `m` of connection `c` is due.
    uint64_t intended(const WsConn& c, uint64_t m) const noexcept {
        return start_ns_ + schedule_.due_ns(slot_of(c), m);
    }

    uint64_t after_turn(uint64_t now) override {
        if (fanout_) return publish_due(now);
        if (!rate_mode_) return UINT64_MAX;
        uint64_t next = UINT64_MAX;
        for (WsConn& c : conns_) {
            if (c.sock.state != Socket::State::kOpen || c.phase != WsConn::Phase::kOpen ||
                c.sending || c.outstanding >= depth_) {
                continue;
            }
            uint32_t count = 0;
            while (c.outstanding + count < depth_ && count < to_send_ &&
                   intended(c, c.next_index + count) <= now) {
                ++count;
            }
            if (count != 0) send_messages(c, count, now);
            if (!c.sending) next = std::min(next, intended(c, c.next_index));
        }
        return next;
    }

    // Fan-out: publishing starts once every subscriber is in (or --timeout after the start, with
    // those that are); then the publisher writes what is due. Returns when the next one is due.
    uint64_t publish_due(uint64_t now) {
        WsConn& pub = conns_[0];
        if (!publishing_) {
            const bool all_in = subscribers_open_ == subscribers();
            const bool late =
                now - start_ns_ > static_cast<uint64_t>(options_.timeout_s * 1e9);
            if (pub.phase != WsConn::Phase::kOpen || (!all_in && !late)) return UINT64_MAX;
            publishing_ = true;
            publish_start_ns_ = now;
            measure_from(now);
        }
        const auto due = [&](uint64_t k) {
            return publish_start_ns_ + static_cast<uint64_t>(static_cast<double>(k) *
                                                             publish_interval_ns_);
        };
        if (pub.phase != WsConn::Phase::kOpen) return UINT64_MAX;  // reconnecting: ticks look
        {
            for (uint64_t at = due(published_); at <= now; at = due(published_)) {
                put_hex(payload_.data(), published_);
                put_hex(payload_.data() + 16, at);
                net::ws::append_frame(pub.queued, opcode_, true, false, payload_, &mask_);
                ++published_;
                ++report_.ws->sent;
            }
            flush(pub, now);
        }
        return due(published_);
    }

    void on_connect(uint32_t slot, int res) override {
        WsConn& c = conns_[slot];
        if (res < 0) {
            ++report_.errors.connect;
            note_error(res == -ECANCELED ? "connect: no answer within --timeout"
                                         : std::string("connect: ") + std::strerror(-res));
            close(c, now_ + kReconnectDelayNs);
            return;
        }
        c.sock.state = Socket::State::kOpen;
        arm_recv(c.sock, slot);
        start_send(c, c.request.data(), c.request.size());
    }

    void on_send(uint32_t slot, int res) override {
        WsConn& c = conns_[slot];
        if (res < 0) {
            ++report_.errors.write;
            note_error(std::string("write: ") + std::strerror(-res));
            close(c, now_);
            return;
        }
        c.send_off += static_cast<size_t>(res);
        if (c.send_off < c.send_len) {  // a short send: write the rest
            send_bytes(c.sock, slot, c.send_base + c.send_off, c.send_len - c.send_off);
            return;
        }
        c.sending = false;
        c.inflight.clear();
        flush(c, now_);
    }

    void on_recv(uint32_t slot, int res, unsigned flags, bool has_buffer, uint16_t bid) override {
        WsConn& c = conns_[slot];
        if (res <= 0) {
            if (has_buffer) buffers_.recycle(bid);
            if (res == -ENOBUFS) {  // every buffer was in use: they are handed back this turn
                arm_recv(c.sock, slot);
                return;
            }
            // A WebSocket ends with a close frame (handled in on_control): anything else is an
            // abnormal end (1006).
            if (c.phase == WsConn::Phase::kHandshake) {
                ++report_.errors.handshake;
                note_error(res == 0 ? "handshake: the server closed the connection without an "
                                      "answer"
                                    : std::string("handshake: ") + std::strerror(-res));
                close(c, now_ + kReconnectDelayNs);
                return;
            }
            ++report_.errors.read;
            note_error(res == 0 ? "read: the server closed the connection without a close frame"
                                : std::string("read: ") + std::strerror(-res));
            close(c, now_);
            return;
        }
        const uint64_t now = now_ns();
        now_ = now;
        report_.bytes += static_cast<uint64_t>(res);
        const char* data = buffers_.buffer(bid);
        size_t n = static_cast<size_t>(res);
        bool ok = true;
        feed_error_.clear();
        server_closed_ = false;
        current_ = &c;
        if (c.phase == WsConn::Phase::kHandshake) {
            c.reply.append(data, n);
            buffers_.recycle(bid);
            const WsHandshakeReply reply = check_ws_handshake_reply(c.reply, c.accept);
            if (reply.status != 0) {
                ++report_.status[static_cast<size_t>(std::clamp(reply.status / 100, 1, 5) - 1)];
            }
            if (reply.outcome == WsHandshakeReply::Outcome::kRefused) {
                ++report_.errors.handshake;
                note_error(reply.why);
                close(c, now + kReconnectDelayNs);
                return;
            }
            if (reply.outcome == WsHandshakeReply::Outcome::kAccepted) {
                c.phase = WsConn::Phase::kOpen;
                ++report_.ws->handshakes;
                if (fanout_ && !c.publisher) ++subscribers_open_;
                if (c.reply.size() > reply.head_size) {  // frames right behind the head
                    ok = c.reader.feed(c.reply.data() + reply.head_size,
                                       c.reply.size() - reply.head_size, *this);
                }
                c.reply.clear();
            }
        } else {
            ok = c.reader.feed(data, n, *this);
            buffers_.recycle(bid);
        }
        if (!ok || !feed_error_.empty()) {
            ++report_.errors.parse;
            note_error(!ok ? c.reader.error() : feed_error_);
            close(c, now);
            return;
        }
        if (server_closed_) {
            close(c, now + kReconnectDelayNs);
            return;
        }
        if (finished_) return;
        if ((flags & IORING_CQE_F_MORE) == 0) arm_recv(c.sock, slot);
        flush(c, now);
    }

    // ---- WsReaderSink: frames of the connection being fed (current_) ----

    void on_data(std::string_view piece, uint64_t offset) noexcept override {
        if (fanout_) return;
        WsConn& c = *current_;
        if (offset + piece.size() > payload_.size() ||
            std::memcmp(piece.data(), payload_.data() + offset, piece.size()) != 0) {
            c.mismatch = true;
        }
    }

    void on_message(Opcode opcode, uint64_t length, std::string_view prefix) noexcept override {
        WsConn& c = *current_;
        const uint64_t now = now_;
        if (fanout_) {
            if (c.publisher) {
                ++report_.ws->own;
                return;
            }
            uint64_t seq = 0;
            uint64_t stamp = 0;
            if (prefix.size() < kStampSize || !get_hex(prefix.data(), &seq) ||
                !get_hex(prefix.data() + 16, &stamp)) {
                if (feed_error_.empty()) {
                    feed_error_ = "parse: a message that nexload's publisher did not send";
                }
                return;
            }
            if (c.seq_known && seq > c.next_seq) report_.ws->gaps += seq - c.next_seq;
            c.seq_known = true;
            c.next_seq = std::max(c.next_seq, seq + 1);
            ++c.delivered;
            ++report_.requests;
            report_.latency->record(now > stamp ? (now - stamp) / 1000 : 0);
            return;
        }
        const bool same = opcode == opcode_ && length == payload_.size() && !c.mismatch;
        c.mismatch = false;
        if (c.outstanding == 0) {
            if (feed_error_.empty()) feed_error_ = "parse: a message arrived that nexload did not send";
            return;
        }
        if (!same) {
            if (feed_error_.empty()) {
                feed_error_ = "parse: an echo that differs from the message sent (" +
                              std::string(opcode == Opcode::kBinary ? "binary" : "text") + ", " +
                              std::to_string(length) + " bytes; sent " +
                              (opcode_ == Opcode::kBinary ? "binary" : "text") + ", " +
                              std::to_string(payload_.size()) + " bytes)";
            }
            return;
        }
        const size_t slot = static_cast<size_t>(slot_of(c)) * depth_ + c.head;
        c.head = (c.head + 1) % depth_;
        --c.outstanding;
        report_.latency->record((now - sent_at_[slot]) / 1000);
        if (rate_mode_) {
            const uint64_t due = intended_at_[slot];
            report_.corrected->record(now > due ? (now - due) / 1000 : 0);
        }
        ++report_.requests;
        if (report_.requests >= budget_) {
            finished_ = true;
            last_response_ns_ = now;
        }
    }

    void on_control(Opcode opcode, std::string_view payload) noexcept override {
        WsConn& c = *current_;
        if (opcode == Opcode::kPing) {
            net::ws::append_frame(c.queued, Opcode::kPong, true, false, payload, &mask_);
            return;
        }
        if (opcode != Opcode::kClose || server_closed_) return;
        server_closed_ = true;
        uint16_t code = net::ws::close_code::kNoStatus;
        std::string_view reason;
        if (payload.size() >= 2) {
            code = static_cast<uint16_t>((static_cast<uint8_t>(payload[0]) << 8) |
                                         static_cast<uint8_t>(payload[1]));
            reason = payload.substr(2);
        }
        ++report_.ws->close_codes[code];
        ++report_.errors.closed;
        note_error("closed: the server closed the WebSocket with code " + std::to_string(code) +
                   (reason.empty() ? std::string() : " '" + std::string(reason) + "'"));
    }

    // Every 10 ms: handshakes and echoes overdue, connects to retry.
    void on_tick(uint64_t now) override {
        const auto timeout = static_cast<uint64_t>(options_.timeout_s * 1e9);
        for (WsConn& c : conns_) {
            if (c.sock.state == Socket::State::kOpen) {
                if (c.phase == WsConn::Phase::kHandshake) {
                    if (now - c.sock.connect_started > timeout) {
                        ++report_.errors.handshake;
                        note_error("handshake: no answer within --timeout");
                        close(c, now);
                    }
                } else if (c.outstanding != 0) {
                    const size_t slot = static_cast<size_t>(slot_of(c)) * depth_ + c.head;
                    if (now - sent_at_[slot] > timeout) {
                        report_.errors.timeout += c.outstanding;
                        note_error("timeout: no echo within --timeout");
                        c.outstanding = 0;  // given up, not sent again
                        close(c, now);
                    }
                }
            }
            if (c.sock.state == Socket::State::kClosed && now >= c.sock.reconnect_at) open(c, now);
        }
    }

    // The end: a close frame (1000) where nothing is being written, then the sockets close.
    void end() override {
        char frame[net::ws::kMaxHeaderSize + 2];
        for (WsConn& c : conns_) {
            if (c.sock.state == Socket::State::kOpen && c.phase == WsConn::Phase::kOpen &&
                !c.sending) {
                char code[2] = {static_cast<char>(net::ws::close_code::kNormal >> 8),
                                static_cast<char>(net::ws::close_code::kNormal & 0xFF)};
                uint32_t mask = mask_;
                const size_t h = net::ws::write_frame_header(frame, Opcode::kClose, true, false, 2,
                                                             &mask);
                std::memcpy(frame + h, code, 2);
                net::ws::apply_mask(frame + h, 2, mask, 0);
                (void)::send(c.sock.fd, frame, h + 2, MSG_DONTWAIT | MSG_NOSIGNAL);
            }
            close_socket(c.sock);
        }
        if (fanout_) {
            WsStats& ws = *report_.ws;
            ws.min_per_subscriber = UINT64_MAX;
            for (size_t i = 1; i < conns_.size(); ++i) {
                ws.min_per_subscriber = std::min(ws.min_per_subscriber, conns_[i].delivered);
                ws.max_per_subscriber = std::max(ws.max_per_subscriber, conns_[i].delivered);
            }
            if (conns_.size() == 1) ws.min_per_subscriber = 0;
        }
    }

    const RateSchedule schedule_;  // echo at -R only
    const bool fanout_;
    const bool rate_mode_;  // echo at -R
    static constexpr uint64_t kNoLimit = UINT64_MAX;
    const uint64_t budget_;  // echoes this thread waits for (kNoLimit: no limit)
    uint64_t to_send_;       // messages this thread may still write
    const uint32_t depth_;
    const Opcode opcode_;
    uint64_t rng_;
    uint32_t mask_ = 0;  // the masking key of this thread's frames
    std::string payload_;
    alloc::ByteBuffer batch_;  // echo: --depth copies of the message's frame
    size_t frame_len_ = 0;
    std::vector<WsConn> conns_;
    std::vector<uint64_t> sent_at_;      // echo: per connection, --depth slots: when sent
    std::vector<uint64_t> intended_at_;  //   and (at -R) when due

    // Fan-out.
    size_t subscribers_open_ = 0;
    bool publishing_ = false;
    uint64_t publish_start_ns_ = 0;
    uint64_t published_ = 0;
    double publish_interval_ns_ = 0;

    // The connection being fed and what its frames said.
    WsConn* current_ = nullptr;
    std::string feed_error_;
    bool server_closed_ = false;
};

}  // namespace

Result<Report> run_ws_load(const LoadOptions& options, Progress* progress) {
    if (options.threads == 0 || options.connections < options.threads || options.pipeline == 0 ||
        options.ws.mode == WsMode::kOff) {
        return Error{EINVAL, "need a WebSocket mode, at least one thread, one connection per "
                             "thread and a depth of at least 1"};
    }
    if (options.ws.mode == WsMode::kFanout &&
        (options.threads != 1 || options.rate <= 0 || options.ws.size < kStampSize)) {
        return Error{EINVAL, "--ws-fanout needs -t 1, -R and --size of at least 32"};
    }
    const engine::CpuTopology topology = engine::CpuTopology::detect();
    std::vector<std::unique_ptr<LoopThread>> threads;
    threads.reserve(options.threads);
    for (unsigned i = 0; i < options.threads; ++i) {
        uint64_t budget = UINT64_MAX;
        if (options.max_requests != 0) {
            budget = options.max_requests / options.threads +
                     (i < options.max_requests % options.threads ? 1 : 0);
        }
        threads.push_back(std::make_unique<WsThread>(
            options, i, options.pin ? topology.cpu_for_worker(i) : -1,
            connections_of_thread(options, i), budget, progress));
    }
    return run_threads(options, threads);
}

}  // namespace nexure::load
