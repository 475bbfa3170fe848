#include "net/client/response_parser.h"

#include <utility>

#include "net/http/request.h"  // iequals

namespace nexure::net::client {

std::optional<std::string_view> ClientResponse::header(std::string_view name) const noexcept {
    for (const Field& f : fields_)
        if (http::iequals(view(f.name), name)) return view(f.value);
    return std::nullopt;
}

ResponseParser::ResponseParser(size_t max_response_size) noexcept : max_size_(max_response_size) {
    llhttp_init(&parser_, HTTP_RESPONSE, &settings());
    parser_.data = this;
}

ResponseParser& ResponseParser::self(llhttp_t* p) noexcept {
    return *static_cast<ResponseParser*>(p->data);
}

void ResponseParser::reset_message() noexcept {
    current_.storage_.clear();
    current_.fields_.clear();
    current_.status_ = 0;
    current_.body_offset_ = 0;
    in_value_ = false;
    complete_ = false;
}

bool ResponseParser::add(std::string_view bytes) noexcept {
    if (current_.storage_.size() + bytes.size() > max_size_) {
        too_large_ = true;
        error_ = "the upstream's response is larger than the limit (HttpClientOptions::max_response_size)";
        return false;
    }
    current_.storage_.append(bytes);
    return true;
}

const llhttp_settings_t& ResponseParser::settings() noexcept {
    static const llhttp_settings_t s = [] {
        llhttp_settings_t v;
        llhttp_settings_init(&v);
        v.on_message_begin = [](llhttp_t* p) -> int {
            ResponseParser& r = self(p);
            r.reset_message();
            r.started_ = true;
            return 0;
        };
        v.on_header_field = [](llhttp_t* p, const char* at, size_t len) -> int {
            ResponseParser& r = self(p);
            auto& fields = r.current_.fields_;
            if (fields.empty() || r.in_value_) {
                fields.emplace_back();
                fields.back().name.offset = static_cast<uint32_t>(r.current_.storage_.size());
                r.in_value_ = false;
            }
            if (!r.add({at, len})) return -1;
            fields.back().name.length += static_cast<uint32_t>(len);
            return 0;
        };
        v.on_header_value = [](llhttp_t* p, const char* at, size_t len) -> int {
            ResponseParser& r = self(p);
            auto& fields = r.current_.fields_;
            if (!r.in_value_) {
                fields.back().value.offset = static_cast<uint32_t>(r.current_.storage_.size());
                r.in_value_ = true;
            }
            if (!r.add({at, len})) return -1;
            fields.back().value.length += static_cast<uint32_t>(len);
            return 0;
        };
        v.on_headers_complete = [](llhttp_t* p) -> int {
            ResponseParser& r = self(p);
            r.current_.status_ = p->status_code;
            r.current_.version_minor_ = p->http_minor;
            r.current_.body_offset_ = static_cast<uint32_t>(r.current_.storage_.size());
            if (p->status_code == 101) {
                r.error_ = "the upstream switched protocols (101), which the HTTP client does not do";
                return -1;
            }
            // A response to HEAD has no body, whatever its Content-Length says.
            return r.head_ && p->status_code >= 200 ? 1 : 0;
        };
        v.on_body = [](llhttp_t* p, const char* at, size_t len) -> int {
            return self(p).add({at, len}) ? 0 : -1;
        };
        v.on_message_complete = [](llhttp_t* p) -> int {
            ResponseParser& r = self(p);
            if (r.current_.status_ < 200) {
                // 100 Continue, 103 Early Hints: the real response follows.
                r.reset_message();
                return 0;
            }
            r.current_.keep_alive_ = llhttp_should_keep_alive(p) != 0;
            r.complete_ = true;
            return HPE_PAUSED;
        };
        return v;
    }();
    return s;
}

ResponseParser::Outcome ResponseParser::feed(const char* data, size_t len,
                                             size_t* consumed) noexcept {
    const llhttp_errno_t err = llhttp_execute(&parser_, data, len);
    if (err == HPE_OK) {
        *consumed = len;
        return Outcome::kNeedMore;
    }
    if (err == HPE_PAUSED && complete_) {
        *consumed = static_cast<size_t>(llhttp_get_error_pos(&parser_) - data);
        llhttp_resume(&parser_);
        return Outcome::kComplete;
    }
    if (error_.empty()) {
        error_ = "malformed response from the upstream: ";
        error_ += llhttp_get_error_reason(&parser_) != nullptr ? llhttp_get_error_reason(&parser_)
                                                               : llhttp_errno_name(err);
    }
    *consumed = len;
    return Outcome::kError;
}

ResponseParser::Outcome ResponseParser::finish() noexcept {
    if (!started_ || complete_) return Outcome::kNeedMore;
    const llhttp_errno_t err = llhttp_finish(&parser_);
    if (complete_ && (err == HPE_OK || err == HPE_PAUSED)) return Outcome::kComplete;
    error_ = "the upstream closed the connection in the middle of a response";
    return Outcome::kError;
}

ClientResponse ResponseParser::take() noexcept {
    ClientResponse out = std::move(current_);
    current_ = ClientResponse();
    started_ = complete_ = false;
    in_value_ = false;
    return out;
}

}  // namespace nexure::net::client
