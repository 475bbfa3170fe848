#include "net/http/json_writer.h"

#include <charconv>
#include <cmath>

#include "net/http/utf8.h"

namespace nexure::net::http {

namespace {

constexpr char kHex[] = "0123456789abcdef";

}  // namespace

bool is_json_number(std::string_view t) noexcept {
    // number = [ "-" ] int [ frac ] [ exp ]; int = "0" / digit1-9 *DIGIT; frac = "." 1*DIGIT;
    // exp = ("e" / "E") [ "-" / "+" ] 1*DIGIT (RFC 8259 6).
    size_t i = 0;
    const auto digit = [&](size_t k) { return k < t.size() && t[k] >= '0' && t[k] <= '9'; };
    const auto digits = [&] {
        const size_t from = i;
        while (digit(i))
            ++i;
        return i > from;
    };
    if (i < t.size() && t[i] == '-') ++i;
    if (i < t.size() && t[i] == '0') {
        ++i;
    } else if (!digits()) {
        return false;
    }
    if (i < t.size() && t[i] == '.') {
        ++i;
        if (!digits()) return false;
    }
    if (i < t.size() && (t[i] == 'e' || t[i] == 'E')) {
        ++i;
        if (i < t.size() && (t[i] == '+' || t[i] == '-')) ++i;
        if (!digits()) return false;
    }
    return i == t.size();
}

JsonWriter::JsonWriter(Response& res) noexcept : res_(res) {
    res_.type("application/json");
}

void JsonWriter::fail(const char* why) noexcept {
    if (error_ == nullptr) error_ = why;
}

bool JsonWriter::before_value() noexcept {
    if (error_ != nullptr) return false;
    if (done_) {
        fail("JsonWriter: a second top-level value");
        return false;
    }
    if (depth_ > 0 && frames_[depth_ - 1] == Frame::kObject) {
        if (!after_key_) {
            fail("JsonWriter: a value where a key is due");
            return false;
        }
        after_key_ = false;
    } else if (!first_) {
        res_.append(",");
    }
    first_ = false;
    return true;
}

JsonWriter& JsonWriter::begin_object() noexcept {
    if (!before_value()) return *this;
    if (depth_ == kMaxDepth) {
        fail("JsonWriter: nested deeper than kMaxDepth");
        return *this;
    }
    frames_[depth_++] = Frame::kObject;
    first_ = true;
    res_.append("{");
    return *this;
}

JsonWriter& JsonWriter::begin_array() noexcept {
    if (!before_value()) return *this;
    if (depth_ == kMaxDepth) {
        fail("JsonWriter: nested deeper than kMaxDepth");
        return *this;
    }
    frames_[depth_++] = Frame::kArray;
    first_ = true;
    res_.append("[");
    return *this;
}

JsonWriter& JsonWriter::end_object() noexcept {
    if (error_ != nullptr) return *this;
    if (depth_ == 0 || frames_[depth_ - 1] != Frame::kObject || after_key_) {
        fail("JsonWriter: end_object() without an open object (or after a key)");
        return *this;
    }
    res_.append("}");
    first_ = false;
    if (--depth_ == 0) done_ = true;
    return *this;
}

JsonWriter& JsonWriter::end_array() noexcept {
    if (error_ != nullptr) return *this;
    if (depth_ == 0 || frames_[depth_ - 1] != Frame::kArray) {
        fail("JsonWriter: end_array() without an open array");
        return *this;
    }
    res_.append("]");
    first_ = false;
    if (--depth_ == 0) done_ = true;
    return *this;
}

JsonWriter& JsonWriter::key(std::string_view name) noexcept {
    if (error_ != nullptr) return *this;
    if (depth_ == 0 || frames_[depth_ - 1] != Frame::kObject || after_key_) {
        fail("JsonWriter: a key outside an object (or two keys in a row)");
        return *this;
    }
    if (!first_) res_.append(",");
    first_ = false;
    write_string(name);
    res_.append(":");
    after_key_ = true;
    return *this;
}

void JsonWriter::write_string(std::string_view s) noexcept {
    res_.append("\"");
    size_t run = 0;  // start of the bytes not yet copied
    for (size_t i = 0; i < s.size();) {
        const auto c = static_cast<unsigned char>(s[i]);
        if (c >= 0x20 && c != '"' && c != '\\' && c < 0x80) {
            ++i;
            continue;
        }
        if (c >= 0x80) {
            if (const size_t n = utf8_sequence_length(s, i); n != 0) {
                i += n;
                continue;
            }
        }
        res_.append(s.substr(run, i - run));
        if (c == '"') {
            res_.append("\\\"");
        } else if (c == '\\') {
            res_.append("\\\\");
        } else if (c == '\n') {
            res_.append("\\n");
        } else if (c == '\r') {
            res_.append("\\r");
        } else if (c == '\t') {
            res_.append("\\t");
        } else if (c < 0x20) {
            const char esc[6] = {'\\', 'u', '0', '0', kHex[c >> 4], kHex[c & 15]};
            res_.append(std::string_view(esc, 6));
        } else {
            res_.append("\xEF\xBF\xBD");  // invalid UTF-8: U+FFFD
        }
        run = ++i;
    }
    res_.append(s.substr(run));
    res_.append("\"");
}

JsonWriter& JsonWriter::value(std::string_view s) noexcept {
    if (before_value()) {
        write_string(s);
        if (depth_ == 0) done_ = true;
    }
    return *this;
}

JsonWriter& JsonWriter::scalar(std::string_view text) noexcept {
    if (before_value()) {
        res_.append(text);
        if (depth_ == 0) done_ = true;
    }
    return *this;
}

template <typename Number>
JsonWriter& JsonWriter::number(Number n) noexcept {
    char buf[32];
    const auto [end, ec] = std::to_chars(buf, buf + sizeof buf, n);  // doubles: shortest round-trip
    (void)ec;
    return scalar(std::string_view(buf, static_cast<size_t>(end - buf)));
}

JsonWriter& JsonWriter::raw_number(std::string_view text) noexcept {
    if (!is_json_number(text)) {
        fail("JsonWriter: raw_number() given text that is not a JSON number");
        return *this;
    }
    return scalar(text);
}

JsonWriter& JsonWriter::value(int64_t n) noexcept {
    return number(n);
}

JsonWriter& JsonWriter::value(uint64_t n) noexcept {
    return number(n);
}

JsonWriter& JsonWriter::value(double d) noexcept {
    return std::isfinite(d) ? number(d) : null();
}

JsonWriter& JsonWriter::value(bool b) noexcept {
    return scalar(b ? "true" : "false");
}

JsonWriter& JsonWriter::null() noexcept {
    return scalar("null");
}

void JsonWriter::abandon() noexcept {
    fail("JsonWriter: abandoned");
    finished_ = true;
}

void JsonWriter::finish() noexcept {
    if (finished_) return;
    finished_ = true;
    if (error_ == nullptr && (!done_ || depth_ != 0))
        fail("JsonWriter: the document is not complete");
    if (error_ == nullptr) return;
    // A handler bug: the half-written document must not go out as if it were fine.
    res_.fail(error_);
}

}  // namespace nexure::net::http
