#include "net/http/response.h"

#include <cstring>
#include <utility>

#include "net/http/field_syntax.h"
#include "net/http/request.h"
#include "net/later.h"
#include "net/stream.h"
#include "net/upgrade.h"

namespace nexure::net::http {


void Response::reset() noexcept {
    status_ = 200;
    close_ = false;
    compression_ = Compression::kAuto;
    content_type_ = {};
    headers_.clear();
    body_.clear();
    if (!error_.empty()) error_.clear();
}

void Response::swap(Response& other) noexcept {
    std::swap(status_, other.status_);
    std::swap(close_, other.close_);
    std::swap(compression_, other.compression_);
    headers_.swap(other.headers_);
    body_.swap(other.body_);
    if (!error_.empty() || !other.error_.empty()) error_.swap(other.error_);
    // The content types may live in each one's inline storage: only their bytes move (a few
    // dozen, not the whole storage), then each view is aimed at its new owner's copy.
    const std::string_view mine = content_type_;
    const std::string_view theirs = other.content_type_;
    const bool mine_inline = !mine.empty() && mine.data() == content_type_storage_;
    const bool theirs_inline = !theirs.empty() && theirs.data() == other.content_type_storage_;
    char saved[sizeof content_type_storage_];
    if (mine_inline) std::memcpy(saved, mine.data(), mine.size());
    if (theirs_inline) std::memcpy(content_type_storage_, theirs.data(), theirs.size());
    if (mine_inline) std::memcpy(other.content_type_storage_, saved, mine.size());
    if (!long_content_type_.empty() || !other.long_content_type_.empty()) {
        long_content_type_.swap(other.long_content_type_);
    }
    auto aim = [](Response& r, std::string_view was, bool was_inline) {
        if (was.empty()) {
            r.content_type_ = {};
        } else if (was_inline) {
            r.content_type_ = std::string_view(r.content_type_storage_, was.size());
        } else {
            r.content_type_ = r.long_content_type_;
        }
    };
    aim(*this, theirs, theirs_inline);
    aim(other, mine, mine_inline);
}

Response& Response::status(int code) noexcept {
    if (code < 100 || code > 599) {
        error_ = "handler set status " + std::to_string(code) + ", which is not in 100..599";
    } else {
        status_ = code;
    }
    return *this;
}

void Response::set_content_type(std::string_view v) noexcept {
    if (v.size() <= sizeof(content_type_storage_)) {
        std::memcpy(content_type_storage_, v.data(), v.size());
        content_type_ = std::string_view(content_type_storage_, v.size());
    } else {
        long_content_type_.assign(v);
        content_type_ = long_content_type_;
    }
}

Response& Response::header(std::string_view name, std::string_view value) noexcept {
    if (!is_token(name) || !valid_field_value(value)) {
        error_ = "handler set an invalid header field '";
        error_.append(name.substr(0, 64));
        error_ += "' (names are tokens; values may not contain CR, LF or NUL)";
        return *this;
    }
    if (iequals(name, "content-length") || iequals(name, "transfer-encoding")) {
        error_ = "handler set '";
        error_.append(name);
        error_ += "', which the engine computes from the body; remove it";
        return *this;
    }
    if (iequals(name, "content-type")) {
        set_content_type(value);
        return *this;
    }
    if (iequals(name, "connection")) {
        if (iequals(value, "close")) close_ = true;
        return *this;  // the engine writes Connection itself
    }
    char* out = headers_.prepare(name.size() + value.size() + 4);
    std::memcpy(out, name.data(), name.size());
    out += name.size();
    *out++ = ':';
    *out++ = ' ';
    std::memcpy(out, value.data(), value.size());
    out += value.size();
    *out++ = '\r';
    *out++ = '\n';
    headers_.commit(name.size() + value.size() + 4);
    return *this;
}

Response& Response::type(std::string_view content_type) noexcept {
    if (!valid_field_value(content_type))
        return header("Content-Type", content_type);  // records the error
    set_content_type(content_type);
    return *this;
}

Response& Response::body(std::string_view bytes) noexcept {
    body_.clear();
    body_.append(bytes);
    return *this;
}

Response& Response::append(std::string_view bytes) noexcept {
    body_.append(bytes);
    return *this;
}

Response& Response::close() noexcept {
    close_ = true;
    return *this;
}

Response& Response::fail(std::string_view why) noexcept {
    if (error_.empty()) error_.assign(why.empty() ? std::string_view("the handler failed") : why);
    return *this;
}

Later Response::defer() noexcept {
    if (responder_ == nullptr) {
        error_ = "defer() was called outside a handler (or twice)";
        return {};
    }
    Later later = responder_->defer();
    if (!later.pending()) error_ = "defer() could not hold the request's place (out of memory)";
    return later;
}

Stream Response::stream() noexcept {
    return stream_with(BodyFraming::kChunked, 0);
}

Stream Response::stream(uint64_t content_length) noexcept {
    return stream_with(BodyFraming::kLength, content_length);
}

Stream Response::stream_with(BodyFraming body, uint64_t length) noexcept {
    if (responder_ == nullptr) {
        if (error_.empty()) error_ = "stream() was called outside a handler (or twice)";
        return {};
    }
    Stream s = responder_->stream(*this, body, length);
    if (!s.open() && error_.empty()) {
        error_ = "stream() could not hold the request's place (out of memory)";
    }
    return s;
}

bool Response::upgrade(UniqueFunction<void(Upgraded)> take) noexcept {
    if (status_ != 101) {
        error_ = "upgrade() needs status(101) first";
        return false;
    }
    if (responder_ == nullptr || !take) {
        if (error_.empty()) error_ = "upgrade() was called outside a handler (or twice)";
        return false;
    }
    return responder_->upgrade(*this, std::move(take));
}

}  // namespace nexure::net::http
