#include "bench/load/report.h"

#include <simdjson.h>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <iterator>
#include <utility>

namespace nexure::load {

namespace {

constexpr std::array<const char*, 5> kClasses = {"1xx", "2xx", "3xx", "4xx", "5xx"};

class JsonWriter {
  public:
    std::string take() { return std::move(out_); }

    void open(std::string_view key = {}) {
        item(key);
        out_ += '{';
        first_ = true;
        ++depth_;
    }
    void close() {
        --depth_;
        newline();
        out_ += '}';
        first_ = false;
    }
    void number(std::string_view key, uint64_t v) {
        item(key);
        char buf[24];
        out_.append(buf, std::to_chars(buf, buf + sizeof buf, v).ptr);
    }
    void number(std::string_view key, double v) {
        item(key);
        if (!std::isfinite(v)) v = 0;
        char buf[32];
        out_.append(buf, std::to_chars(buf, buf + sizeof buf, v).ptr);
    }
    // A string value, escaped as JSON requires.
    void text(std::string_view key, std::string_view v) {
        item(key);
        out_ += '"';
        for (const char c : v) {
            if (c == '"' || c == '\\') {
                out_ += '\\';
                out_ += c;
            } else if (static_cast<unsigned char>(c) < 0x20) {
                char buf[8];
                std::snprintf(buf, sizeof buf, "\\u%04x", static_cast<unsigned>(c));
                out_ += buf;
            } else {
                out_ += c;
            }
        }
        out_ += '"';
    }
    // [[index, count], ...] on one line.
    void pairs(std::string_view key, const std::vector<std::pair<uint32_t, uint64_t>>& pairs) {
        item(key);
        out_ += '[';
        char buf[24];
        for (size_t i = 0; i < pairs.size(); ++i) {
            if (i != 0) out_ += ',';
            out_ += '[';
            out_.append(buf, std::to_chars(buf, buf + sizeof buf, pairs[i].first).ptr);
            out_ += ',';
            out_.append(buf, std::to_chars(buf, buf + sizeof buf, pairs[i].second).ptr);
            out_ += ']';
        }
        out_ += ']';
    }

  private:
    void item(std::string_view key) {
        if (depth_ > 0) {
            if (!first_) out_ += ',';
            newline();
        }
        first_ = false;
        if (!key.empty()) {
            out_ += '"';
            out_ += key;  // keys are ours: no escaping needed
            out_ += "\": ";
        }
    }
    void newline() {
        out_ += '\n';
        out_.append(2 * static_cast<size_t>(depth_), ' ');
    }

    std::string out_;
    int depth_ = 0;
    bool first_ = true;
};

void write_latency(JsonWriter& w, std::string_view key, const LatencyHistogram& h) {
    w.open(key);
    w.number("p50", h.percentile(50));
    w.number("p90", h.percentile(90));
    w.number("p99", h.percentile(99));
    w.number("p999", h.percentile(99.9));
    w.number("p9999", h.percentile(99.99));
    w.number("max", h.max());
    w.number("min", h.min());
    w.number("mean", h.mean());
    w.number("count", h.count());
    w.open("histogram");
    w.number("min", h.min());
    w.number("max", h.max());
    w.number("saturated", h.saturated());
    w.pairs("counts", h.counts());
    w.close();
    w.close();
}

double per_second(uint64_t n, double seconds) {
    return seconds > 0 ? static_cast<double>(n) / seconds : 0;
}

void write_ws(JsonWriter& w, const Report& r) {
    const WsStats& ws = *r.ws;
    w.open("ws");
    w.text("mode", ws.fanout ? "fanout" : "echo");
    w.number("messages", r.requests);
    w.number("messages_per_s", r.rps());
    w.number("sent", ws.sent);
    w.number("bytes_received_per_s", per_second(r.bytes, r.duration_s));
    w.number("bytes_sent", ws.bytes_sent);
    w.number("bytes_sent_per_s", per_second(ws.bytes_sent, r.duration_s));
    w.number("handshakes", ws.handshakes);
    if (ws.fanout) {
        w.number("subscribers", ws.subscribers);
        w.number("own", ws.own);
        w.number("gaps", ws.gaps);
        w.number("min_per_subscriber", ws.min_per_subscriber);
        w.number("max_per_subscriber", ws.max_per_subscriber);
    }
    w.open("close_codes");
    for (const auto& [code, count] : ws.close_codes) w.number(std::to_string(code), count);
    w.close();
    w.close();
}

Error bad(std::string_view field, std::string_view what) {
    return Error{EINVAL, "report: \"" + std::string(field) + "\" " + std::string(what)};
}

Result<uint64_t> get_uint(simdjson::dom::object o, std::string_view field) {
    uint64_t v = 0;
    if (o[field].get_uint64().get(v) != simdjson::SUCCESS) {
        return bad(field, "is missing or not a non-negative integer");
    }
    return v;
}

Result<std::unique_ptr<LatencyHistogram>> read_latency(simdjson::dom::object root,
                                                       std::string_view field) {
    simdjson::dom::object latency;
    if (root[field].get_object().get(latency) != simdjson::SUCCESS) {
        return bad(field, "is missing or not an object");
    }
    simdjson::dom::object hist;
    if (latency["histogram"].get_object().get(hist) != simdjson::SUCCESS) {
        return bad(std::string(field) + ".histogram", "is missing or not an object");
    }
    const std::string where = std::string(field) + ".histogram.";
    Result<uint64_t> min = get_uint(hist, "min");
    Result<uint64_t> max = get_uint(hist, "max");
    Result<uint64_t> saturated = get_uint(hist, "saturated");
    if (!min || !max || !saturated) {
        return bad(where + "min/max/saturated", "are missing or not non-negative integers");
    }
    simdjson::dom::array counts;
    if (hist["counts"].get_array().get(counts) != simdjson::SUCCESS) {
        return bad(where + "counts", "is missing or not an array");
    }
    std::vector<std::pair<uint32_t, uint64_t>> pairs;
    for (simdjson::dom::element e : counts) {
        simdjson::dom::array pair;
        uint64_t index = 0;
        uint64_t count = 0;
        if (e.get_array().get(pair) != simdjson::SUCCESS || pair.size() != 2 ||
            pair.at(0).get_uint64().get(index) != simdjson::SUCCESS ||
            pair.at(1).get_uint64().get(count) != simdjson::SUCCESS || index > UINT32_MAX) {
            return bad(where + "counts", "must hold [index, count] pairs of integers");
        }
        pairs.emplace_back(static_cast<uint32_t>(index), count);
    }
    auto h = std::make_unique<LatencyHistogram>();
    if (!LatencyHistogram::from_counts(pairs, min.value(), max.value(), saturated.value(),
                                       h.get())) {
        return bad(where + "counts",
                   "do not fit together (order, range, or min/max outside the first/last counter)");
    }
    return h;
}

Result<WsStats> read_ws(simdjson::dom::object root) {
    simdjson::dom::object o;
    if (root["ws"].get_object().get(o) != simdjson::SUCCESS) return bad("ws", "is not an object");
    WsStats ws;
    std::string_view mode;
    if (o["mode"].get_string().get(mode) != simdjson::SUCCESS ||
        (mode != "echo" && mode != "fanout")) {
        return bad("ws.mode", "is missing or not \"echo\" or \"fanout\"");
    }
    ws.fanout = mode == "fanout";
    struct Field {
        const char* name;
        uint64_t* value;
    };
    std::vector<Field> fields = {
        {"sent", &ws.sent}, {"bytes_sent", &ws.bytes_sent}, {"handshakes", &ws.handshakes}};
    if (ws.fanout) {
        fields.insert(fields.end(), {{"subscribers", &ws.subscribers},
                                     {"own", &ws.own},
                                     {"gaps", &ws.gaps},
                                     {"min_per_subscriber", &ws.min_per_subscriber},
                                     {"max_per_subscriber", &ws.max_per_subscriber}});
    }
    for (const Field& f : fields) {
        Result<uint64_t> v = get_uint(o, f.name);
        if (!v) return bad(std::string("ws.") + f.name, "is missing or invalid");
        *f.value = v.value();
    }
    simdjson::dom::object codes;
    if (o["close_codes"].get_object().get(codes) != simdjson::SUCCESS) {
        return bad("ws.close_codes", "is missing or not an object");
    }
    for (auto [key, value] : codes) {
        unsigned code = 0;
        uint64_t count = 0;
        auto [end, ec] = std::from_chars(key.data(), key.data() + key.size(), code);
        if (ec != std::errc() || end != key.data() + key.size() || code > 0xFFFF ||
            value.get_uint64().get(count) != simdjson::SUCCESS) {
            return bad("ws.close_codes", "must map close codes to counts");
        }
        ws.close_codes[static_cast<uint16_t>(code)] = count;
    }
    return ws;
}

// 1234567 -> "1,234,567".
std::string grouped(uint64_t v) {
    std::string digits = std::to_string(v);
    std::string out;
    for (size_t i = 0; i < digits.size(); ++i) {
        if (i != 0 && (digits.size() - i) % 3 == 0) out += ',';
        out += digits[i];
    }
    return out;
}

std::string micros_text(double us) {
    char buf[32];
    if (us < 1000) {
        std::snprintf(buf, sizeof buf, "%.0f us", us);
    } else if (us < 1e6) {
        std::snprintf(buf, sizeof buf, "%.2f ms", us / 1e3);
    } else {
        std::snprintf(buf, sizeof buf, "%.2f s", us / 1e6);
    }
    return buf;
}

std::string bytes_text(double bytes) {
    char buf[32];
    const char* const units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
    size_t u = 0;
    while (bytes >= 1024 && u + 1 < std::size(units)) {
        bytes /= 1024;
        ++u;
    }
    std::snprintf(buf, sizeof buf, u == 0 ? "%.0f %s" : "%.1f %s", bytes, units[u]);
    return buf;
}

}  // namespace

std::string to_json(const Report& r) {
    JsonWriter w;
    w.open();
    w.number("requests", r.requests);
    w.number("duration_s", r.duration_s);
    w.number("rps", r.rps());
    w.number("bytes", r.bytes);
    w.open("errors");
    w.number("connect", r.errors.connect);
    w.number("read", r.errors.read);
    w.number("write", r.errors.write);
    w.number("timeout", r.errors.timeout);
    w.number("parse", r.errors.parse);
    if (r.ws) {
        w.number("handshake", r.errors.handshake);
        w.number("closed", r.errors.closed);
    }
    w.number("total", r.errors.total());
    w.close();
    if (r.ws) write_ws(w, r);
    w.open("status");
    for (size_t i = 0; i < kClasses.size(); ++i)
        w.number(kClasses[i], r.status[i]);
    w.close();
    write_latency(w, "latency_us", *r.latency);
    if (r.corrected) write_latency(w, "corrected_latency_us", *r.corrected);
    if (!r.first_error.empty()) w.text("first_error", r.first_error);
    w.close();
    std::string out = w.take();
    out += '\n';
    return out;
}

std::string to_text(const Report& r, bool distribution) {
    std::string out;
    char line[256];
    const char* const count_label = !r.ws ? "requests  " : r.ws->fanout ? "deliveries" : "messages  ";
    std::snprintf(line, sizeof line, "  %s %s in %.2f s: %s %s\n", count_label,
                  grouped(r.requests).c_str(), r.duration_s,
                  grouped(static_cast<uint64_t>(r.rps() + 0.5)).c_str(), r.ws ? "msg/s" : "req/s");
    out += line;
    const double rate = per_second(r.bytes, r.duration_s);
    if (r.ws) {
        std::snprintf(line, sizeof line, "  transfer   received %s (%s/s), sent %s (%s/s)\n",
                      bytes_text(static_cast<double>(r.bytes)).c_str(), bytes_text(rate).c_str(),
                      bytes_text(static_cast<double>(r.ws->bytes_sent)).c_str(),
                      bytes_text(per_second(r.ws->bytes_sent, r.duration_s)).c_str());
        out += line;
        out += "  websocket  " + grouped(r.ws->handshakes) + " handshakes, " +
               grouped(r.ws->sent) + (r.ws->fanout ? " published" : " sent");
        if (r.ws->fanout) {
            out += ", " + grouped(r.ws->subscribers) + " subscribers (each got " +
                   grouped(r.ws->min_per_subscriber) + " to " + grouped(r.ws->max_per_subscriber) +
                   "), " + grouped(r.ws->gaps) + " missed, " + grouped(r.ws->own) +
                   " back to the publisher";
        }
        out += "\n";
        if (!r.ws->close_codes.empty()) {
            out += "  closes    ";
            for (const auto& [code, count] : r.ws->close_codes) {
                out += " " + std::to_string(code) + " x" + grouped(count);
            }
            out += "\n";
        }
    } else {
        std::snprintf(line, sizeof line, "  transfer   %s (%s/s)\n",
                      bytes_text(static_cast<double>(r.bytes)).c_str(), bytes_text(rate).c_str());
        out += line;
    }
    out += "  status    ";
    bool any = false;
    for (size_t i = 0; i < kClasses.size(); ++i) {
        if (r.status[i] == 0) continue;
        out += ' ';
        out += kClasses[i];
        out += ' ';
        out += grouped(r.status[i]);
        any = true;
    }
    out += any ? "\n" : " none\n";
    if (r.errors.total() == 0) {
        out += "  errors     none\n";
    } else {
        out += "  errors     connect " + grouped(r.errors.connect) + ", read " +
               grouped(r.errors.read) + ", write " + grouped(r.errors.write) + ", timeout " +
               grouped(r.errors.timeout) + ", parse " + grouped(r.errors.parse);
        if (r.ws) {
            out += ", handshake " + grouped(r.errors.handshake) + ", closed " +
                   grouped(r.errors.closed);
        }
        out += "\n";
        if (!r.first_error.empty()) out += "             first: " + r.first_error + "\n";
    }
    const auto summary = [&](const char* label, const LatencyHistogram& h) {
        if (h.count() == 0) {
            std::snprintf(line, sizeof line, "  %-10s none (no %s)\n", label,
                          r.ws ? "messages" : "responses");
            out += line;
            return;
        }
        std::snprintf(line, sizeof line, "  %-10s p50 %s, p90 %s, p99 %s, p99.9 %s, max %s\n",
                      label, micros_text(static_cast<double>(h.percentile(50))).c_str(),
                      micros_text(static_cast<double>(h.percentile(90))).c_str(),
                      micros_text(static_cast<double>(h.percentile(99))).c_str(),
                      micros_text(static_cast<double>(h.percentile(99.9))).c_str(),
                      micros_text(static_cast<double>(h.max())).c_str());
        out += line;
    };
    if (r.corrected) {
        summary("latency", *r.corrected);
        summary("service", *r.latency);
    } else {
        summary("latency", *r.latency);
    }
    if (distribution && r.latency->count() != 0) {
        out += r.corrected ? "  latency distribution (corrected for coordinated omission | service "
                             "time):\n"
                           : "  latency distribution:\n";
        for (const double p : {50.0, 75.0, 90.0, 99.0, 99.9, 99.99, 100.0}) {
            const LatencyHistogram& first = r.corrected ? *r.corrected : *r.latency;
            std::snprintf(line, sizeof line, "    %8.3f%%  %12s", p,
                          micros_text(static_cast<double>(first.percentile(p))).c_str());
            out += line;
            if (r.corrected) {
                std::snprintf(line, sizeof line, "  | %12s",
                              micros_text(static_cast<double>(r.latency->percentile(p))).c_str());
                out += line;
            }
            out += '\n';
        }
        std::snprintf(line, sizeof line, "    mean %s over %s %s\n",
                      micros_text(r.latency->mean()).c_str(), grouped(r.latency->count()).c_str(),
                      r.ws ? "messages" : "responses");
        out += line;
    }
    return out;
}

Result<Report> report_from_json(std::string_view json) {
    simdjson::dom::parser parser;
    simdjson::dom::element doc;
    const simdjson::padded_string padded(json);
    if (const auto error = parser.parse(padded).get(doc); error != simdjson::SUCCESS) {
        return Error{EINVAL,
                     std::string("report: not valid JSON: ") + simdjson::error_message(error)};
    }
    simdjson::dom::object root;
    if (doc.get_object().get(root) != simdjson::SUCCESS) {
        return Error{EINVAL, "report: the top level is not an object"};
    }
    Report r;
    Result<uint64_t> requests = get_uint(root, "requests");
    if (!requests) return requests.error();
    r.requests = requests.value();
    if (root["duration_s"].get_double().get(r.duration_s) != simdjson::SUCCESS ||
        !(r.duration_s >= 0)) {
        return bad("duration_s", "is missing or not a non-negative number");
    }
    Result<uint64_t> bytes = get_uint(root, "bytes");
    if (!bytes) return bytes.error();
    r.bytes = bytes.value();

    simdjson::dom::object errors;
    if (root["errors"].get_object().get(errors) != simdjson::SUCCESS) {
        return bad("errors", "is missing or not an object");
    }
    uint64_t* const error_fields[] = {&r.errors.connect, &r.errors.read, &r.errors.write,
                                      &r.errors.timeout, &r.errors.parse};
    const char* const error_names[] = {"connect", "read", "write", "timeout", "parse"};
    for (size_t i = 0; i < std::size(error_fields); ++i) {
        Result<uint64_t> v = get_uint(errors, error_names[i]);
        if (!v) return bad(std::string("errors.") + error_names[i], "is missing or invalid");
        *error_fields[i] = v.value();
    }
    for (const char* name : {"handshake", "closed"}) {  // WebSocket runs only
        if (errors[name].error() == simdjson::SUCCESS) {
            Result<uint64_t> v = get_uint(errors, name);
            if (!v) return bad(std::string("errors.") + name, "is invalid");
            (std::string_view(name) == "handshake" ? r.errors.handshake : r.errors.closed) =
                v.value();
        }
    }
    if (root["ws"].error() == simdjson::SUCCESS) {
        Result<WsStats> ws = read_ws(root);
        if (!ws) return ws.error();
        r.ws = std::move(ws).value();
    }
    simdjson::dom::object status;
    if (root["status"].get_object().get(status) != simdjson::SUCCESS) {
        return bad("status", "is missing or not an object");
    }
    for (size_t i = 0; i < kClasses.size(); ++i) {
        Result<uint64_t> v = get_uint(status, kClasses[i]);
        if (!v) return bad(std::string("status.") + kClasses[i], "is missing or invalid");
        r.status[i] = v.value();
    }
    Result<std::unique_ptr<LatencyHistogram>> latency = read_latency(root, "latency_us");
    if (!latency) return latency.error();
    r.latency = std::move(latency).value();
    if (root["corrected_latency_us"].error() == simdjson::SUCCESS) {
        Result<std::unique_ptr<LatencyHistogram>> corrected =
            read_latency(root, "corrected_latency_us");
        if (!corrected) return corrected.error();
        r.corrected = std::move(corrected).value();
    }
    if (root["first_error"].error() == simdjson::SUCCESS) {
        std::string_view first_error;
        if (root["first_error"].get_string().get(first_error) != simdjson::SUCCESS) {
            return bad("first_error", "is not a string");
        }
        r.first_error = first_error;
    }
    return r;
}

Result<Report> merge_reports(const std::vector<Report>& reports) {
    if (reports.empty()) return Error{EINVAL, "merge: no reports given"};
    const bool corrected = reports.front().corrected != nullptr;
    Report out;
    if (corrected) out.corrected = std::make_unique<LatencyHistogram>();
    for (const Report& r : reports) {
        if ((r.corrected != nullptr) != corrected) {
            return Error{EINVAL,
                         "merge: some reports are constant-rate runs (-R, with corrected "
                         "latency) and some are not; merge runs of one kind"};
        }
        out.requests += r.requests;
        out.bytes += r.bytes;
        out.duration_s = std::max(out.duration_s, r.duration_s);
        out.errors.connect += r.errors.connect;
        out.errors.read += r.errors.read;
        out.errors.write += r.errors.write;
        out.errors.timeout += r.errors.timeout;
        out.errors.parse += r.errors.parse;
        for (size_t i = 0; i < out.status.size(); ++i)
            out.status[i] += r.status[i];
        out.latency->merge(*r.latency);
        if (corrected) out.corrected->merge(*r.corrected);
        if (out.first_error.empty()) out.first_error = r.first_error;
        out.errors.handshake += r.errors.handshake;
        out.errors.closed += r.errors.closed;
        if (r.ws.has_value() != reports.front().ws.has_value() ||
            (r.ws && r.ws->fanout != reports.front().ws->fanout)) {
            return Error{EINVAL, "merge: the reports are of different kinds (HTTP, WebSocket "
                                 "echo, WebSocket fan-out); merge runs of one kind"};
        }
        if (r.ws) {
            const bool first = !out.ws.has_value();
            if (first) {
                out.ws.emplace();
                out.ws->fanout = r.ws->fanout;
                out.ws->min_per_subscriber = r.ws->min_per_subscriber;
            }
            WsStats& o = *out.ws;
            o.handshakes += r.ws->handshakes;
            o.sent += r.ws->sent;
            o.bytes_sent += r.ws->bytes_sent;
            o.subscribers += r.ws->subscribers;
            o.own += r.ws->own;
            o.gaps += r.ws->gaps;
            o.min_per_subscriber = std::min(o.min_per_subscriber, r.ws->min_per_subscriber);
            o.max_per_subscriber = std::max(o.max_per_subscriber, r.ws->max_per_subscriber);
            for (const auto& [code, count] : r.ws->close_codes) o.close_codes[code] += count;
        }
    }
    return out;
}

}  // namespace nexure::load
