#include "bench/load/client.h"

#include <liburing.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <memory>
#include <vector>

#include "bench/load/loop_thread.h"
#include "bench/load/response_parser.h"
#include "engine/cpu_topology.h"

namespace nexure::load {

namespace {

struct Conn {
    explicit Conn(bool head_requests) : parser(head_requests) {}

    Socket sock;
    ResponseParser parser;
    bool sending = false;
    bool closing = false;  // the server said it closes after a response: no more requests here
    uint32_t outstanding = 0;  // requests sent (or being sent) whose response has not arrived
    uint32_t head = 0;         // the oldest outstanding request's slot in the time FIFOs
    size_t send_off = 0;       // the current send: bytes of the batch buffer written so far
    size_t send_len = 0;       //   and in all
    uint64_t next_index = 0;  // constant rate: this connection's next request number
};

class HttpThread final : public LoopThread, public ResponseSink {
  public:
    HttpThread(const LoadOptions& options, unsigned index, int cpu, unsigned connections,
               uint64_t budget, const std::string& request, Progress* progress)
        : LoopThread(options, index, cpu, progress),
          schedule_(options, index),
          budget_(budget),
          to_send_(budget),
          rate_mode_(options.rate > 0),
          head_requests_(options.method == "HEAD"),
          pipeline_(options.pipeline),
          request_len_(request.size()) {
        batch_.reserve(request.size() * pipeline_);
        for (unsigned i = 0; i < pipeline_; ++i) batch_ += request;
        conns_.reserve(connections);
        for (unsigned i = 0; i < connections; ++i) conns_.emplace_back(head_requests_);
        sent_at_.assign(static_cast<size_t>(connections) * pipeline_, 0);
        if (rate_mode_) {
            intended_at_.assign(sent_at_.size(), 0);
            report_.corrected = std::make_unique<LatencyHistogram>();
        }
    }

  private:
    uint32_t socket_count() const noexcept override {
        return static_cast<uint32_t>(conns_.size());
    }
    Socket& socket(uint32_t slot) noexcept override { return conns_[slot].sock; }

    void begin(uint64_t now) override {
        for (Conn& c : conns_) open(c, now);
        if (budget_ == 0) {  // -n smaller than -t: nothing for this thread to do
            finished_ = true;
            last_response_ns_ = start_ns_;
        }
    }

    uint32_t slot_of(const Conn& c) const noexcept {
        return static_cast<uint32_t>(&c - conns_.data());
    }

    void open(Conn& c, uint64_t now) { open_socket(c.sock, slot_of(c), now); }

    // Closes the connection; requests outstanding on it go back to the -n budget. It is opened
    // again at `reopen_at`.
    void close(Conn& c, uint64_t reopen_at) {
        close_socket(c.sock);
        if (budget_ != kNoLimit) to_send_ += c.outstanding;
        c.outstanding = 0;
        c.head = 0;
        c.sending = false;
        c.closing = false;
        c.send_off = c.send_len = 0;
        c.parser = ResponseParser(head_requests_);
        c.sock.reconnect_at = reopen_at;
        if (reopen_at <= now_) open(c, now_);
    }

    void submit_send(Conn& c) {
        send_bytes(c.sock, slot_of(c), batch_.data() + c.send_off, c.send_len - c.send_off);
    }

    // Writes `count` requests (a prefix of the batch buffer) and notes their times.
    void send(Conn& c, uint32_t count, uint64_t now) {
        const size_t base = static_cast<size_t>(slot_of(c)) * pipeline_;
        for (uint32_t i = 0; i < count; ++i) {
            const size_t slot = base + (c.head + c.outstanding + i) % pipeline_;
            sent_at_[slot] = now;
            if (rate_mode_) {
                intended_at_[slot] = intended(c, c.next_index + i);
            }
        }
        if (rate_mode_) c.next_index += count;
        c.outstanding += count;
        to_send_ -= count;
        c.sending = true;
        c.send_off = 0;
        c.send_len = request_len_ * count;
        submit_send(c);
    }

    // Closed loop: the next batch once the last one is answered and written.
    void send_batch(Conn& c, uint64_t now) {
        if (c.sock.state != Socket::State::kOpen || c.sending || c.closing || c.outstanding != 0)
            return;
        const auto count = static_cast<uint32_t>(std::min<uint64_t>(pipeline_, to_send_));
        if (count != 0) send(c, count, now);
    }

    // Constant rate: the time request `m` of connection `c` is due.
    uint64_t intended(const Conn& c, uint64_t m) const noexcept {
        return start_ns_ + schedule_.due_ns(slot_of(c), m);
    }

    // Constant rate: every connection sends what is due; returns when the next request is due.
    uint64_t after_turn(uint64_t now) override {
        if (!rate_mode_) return UINT64_MAX;
        uint64_t next = UINT64_MAX;
        for (Conn& c : conns_) {
            if (c.sock.state != Socket::State::kOpen || c.sending || c.closing ||
                c.outstanding >= pipeline_) {
                continue;
            }
            uint32_t count = 0;
            while (c.outstanding + count < pipeline_ && count < to_send_ &&
                   intended(c, c.next_index + count) <= now) {
                ++count;
            }
            if (count != 0) send(c, count, now);
            if (!c.sending) next = std::min(next, intended(c, c.next_index));
        }
        return next;
    }

    void on_connect(uint32_t slot, int res) override {
        Conn& c = conns_[slot];
        const uint64_t now = now_;
        if (res < 0) {
            ++report_.errors.connect;
            note_error(res == -ECANCELED ? "connect: no answer within --timeout"
                                         : std::string("connect: ") + std::strerror(-res));
            close(c, now + kReconnectDelayNs);
            return;
        }
        c.sock.state = Socket::State::kOpen;
        arm_recv(c.sock, slot);
        if (!rate_mode_) send_batch(c, now);
    }

    void on_send(uint32_t slot, int res) override {
        Conn& c = conns_[slot];
        if (res < 0) {
            ++report_.errors.write;
            note_error(std::string("write: ") + std::strerror(-res));
            close(c, now_);
            return;
        }
        c.send_off += static_cast<size_t>(res);
        if (c.send_off < c.send_len) {
            submit_send(c);  // a short send: write the rest
            return;
        }
        c.sending = false;
        if (!rate_mode_) send_batch(c, now_);
    }

    void on_recv(uint32_t slot, int res, unsigned flags, bool has_buffer, uint16_t bid) override {
        Conn& c = conns_[slot];
        if (res > 0) {
            const uint64_t now = now_ns();
            now_ = now;
            report_.bytes += static_cast<uint64_t>(res);
            current_ = &c;
            unexpected_ = false;
            const bool ok = c.parser.feed(buffers_.buffer(bid), static_cast<size_t>(res), *this);
            buffers_.recycle(bid);
            if (!ok || unexpected_) {
                ++report_.errors.parse;
                note_error(unexpected_ ? "parse: a response arrived without a request"
                                       : "parse: " + c.parser.error());
                close(c, now);
                return;
            }
            if (finished_) return;
            if (c.closing) {
                // The server announced its close: requests written after that response will not
                // be answered (with -n they are sent again); open a new connection now.
                close(c, now);
                return;
            }
            if ((flags & IORING_CQE_F_MORE) == 0) arm_recv(c.sock, slot);
            if (!rate_mode_) send_batch(c, now);
            return;
        }
        if (has_buffer) buffers_.recycle(bid);
        if (res == -ENOBUFS) {  // every buffer was in use: they are handed back this turn
            arm_recv(c.sock, slot);
            return;
        }
        // End of stream or an error: a close that leaves requests unanswered is a read error.
        bool complete = res == 0;
        if (res == 0) {
            current_ = &c;
            unexpected_ = false;
            complete = c.parser.finish(*this) && !unexpected_;
        }
        if (c.outstanding != 0 || !complete) {
            ++report_.errors.read;
            note_error(res == 0 ? "read: the server closed the connection with " +
                                      std::to_string(c.outstanding) + " request(s) unanswered"
                                : std::string("read: ") + std::strerror(-res));
        }
        close(c, now_);
    }

    // ResponseSink: one complete response on the connection being fed.
    void on_response(int status, uint64_t bytes) noexcept override {
        (void)bytes;
        Conn& c = *current_;
        if (status < 200 && status != 101) {  // interim: the final response is still to come
            ++report_.status[0];
            return;
        }
        if (c.outstanding == 0) {
            unexpected_ = true;
            return;
        }
        if (c.parser.closes()) c.closing = true;
        const size_t slot = static_cast<size_t>(slot_of(c)) * pipeline_ + c.head;
        c.head = (c.head + 1) % pipeline_;
        --c.outstanding;
        const uint64_t now = now_;
        report_.latency->record((now - sent_at_[slot]) / 1000);
        if (rate_mode_) {
            const uint64_t due = intended_at_[slot];
            report_.corrected->record(now > due ? (now - due) / 1000 : 0);
        }
        ++report_.requests;
        ++report_.status[static_cast<size_t>(std::clamp(status / 100, 1, 5) - 1)];
        if (report_.requests >= budget_) {
            finished_ = true;
            last_response_ns_ = now;
        }
    }

    // Every 10 ms: responses overdue, connects to retry.
    void on_tick(uint64_t now) override {
        const auto timeout = static_cast<uint64_t>(options_.timeout_s * 1e9);
        for (Conn& c : conns_) {
            if (c.sock.state == Socket::State::kOpen && c.outstanding != 0) {
                const size_t slot = static_cast<size_t>(slot_of(c)) * pipeline_ + c.head;
                if (now - sent_at_[slot] > timeout) {
                    report_.errors.timeout += c.outstanding;
                    note_error("timeout: no response within --timeout");
                    c.outstanding = 0;  // given up, not sent again
                    close(c, now);
                }
            }
            if (c.sock.state == Socket::State::kClosed && now >= c.sock.reconnect_at) open(c, now);
        }
    }

    void end() override {
        for (Conn& c : conns_) close_socket(c.sock);
    }

    const RateSchedule schedule_;  // constant rate only
    static constexpr uint64_t kNoLimit = UINT64_MAX;
    const uint64_t budget_;  // responses this thread waits for (kNoLimit: no limit)
    uint64_t to_send_;       // requests this thread may still write
    const bool rate_mode_;
    const bool head_requests_;  // responses carry no body (ResponseParser's HEAD mode)
    const uint32_t pipeline_;
    const size_t request_len_;

    std::string batch_;  // the request, --pipeline times
    std::vector<Conn> conns_;
    std::vector<uint64_t> sent_at_;      // per connection, --pipeline slots: when each was sent
    std::vector<uint64_t> intended_at_;  //   and (constant rate) when it was due

    Conn* current_ = nullptr;
    bool unexpected_ = false;
};

}  // namespace

unsigned connections_of_thread(const LoadOptions& options, unsigned thread) noexcept {
    return options.connections / options.threads +
           (thread < options.connections % options.threads ? 1 : 0);
}

RateSchedule::RateSchedule(const LoadOptions& options, unsigned thread) noexcept
    : connections_(connections_of_thread(options, thread)),
      interval_ns_(options.rate > 0 ? 1e9 * options.threads / options.rate : 0) {}

Result<Report> run_load(const LoadOptions& options, Progress* progress) {
    if (options.threads == 0 || options.connections < options.threads || options.pipeline == 0) {
        return Error{EINVAL, "need at least one thread, one connection per thread and a pipeline "
                             "depth of at least 1"};
    }
    const std::string request = build_request(options);
    const engine::CpuTopology topology = engine::CpuTopology::detect();
    std::vector<std::unique_ptr<LoopThread>> threads;
    threads.reserve(options.threads);
    for (unsigned i = 0; i < options.threads; ++i) {
        const unsigned conns = connections_of_thread(options, i);
        uint64_t budget = UINT64_MAX;
        if (options.max_requests != 0) {
            budget = options.max_requests / options.threads +
                     (i < options.max_requests % options.threads ? 1 : 0);
        }
        threads.push_back(std::make_unique<HttpThread>(
            options, i, options.pin ? topology.cpu_for_worker(i) : -1, conns, budget, request,
            progress));
    }
    return run_threads(options, threads);
}

}  // namespace nexure::load
