#include "net/json/body.h"

#include <algorithm>
#include <bit>
#include <cstring>
#include <memory>
#include <new>

#include "net/http/utf8.h"

namespace nexure::net::json {

using simdjson::error_code;
using simdjson::ondemand::json_type;

// The parser keeps this much room after stitched and de-chunked bodies: enough for simdjson.
static_assert(simdjson::SIMDJSON_PADDING <= http::Request::kBodyReadAhead,
              "a stitched or de-chunked body must be readable in place by simdjson");

namespace {

// What a thread keeps between bodies: room for this much JSON (the parser's buffers take about
// 5.9 bytes per byte of it: 375 KiB), so that a worker answering ordinary requests allocates
// nothing once warm. A larger body gets room of its own, given back when its Body ends.
constexpr size_t kRetainedBytes = 64 * 1024;
// Up to kRetainedBytes, room grows in powers of two from this (few re-allocations for bodies of
// growing sizes); beyond, it is exactly what the body needs.
constexpr size_t kMinBytes = 4 * 1024;

// One per thread, made on first use: simdjson's parser (its buffers sized for the largest body
// seen, up to kRetainedBytes between bodies) and the padded copy for bodies without room.
struct ThreadParser {
    simdjson::ondemand::parser parser;
    std::unique_ptr<char[]> copy;
    size_t copy_capacity = 0;
    bool busy = false;  // a Body holds it
};

ThreadParser& thread_parser() noexcept {
    static thread_local ThreadParser t;
    return t;
}

// The room for `n` bytes of JSON.
size_t room_for(size_t n) noexcept {
    return n <= kRetainedBytes ? std::bit_ceil(std::max(n, kMinBytes)) : n;
}

bool is_space(char c) noexcept {
    return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

// simdjson's first pass reports what is wrong but not where: the position of the first invalid
// UTF-8 sequence, of a raw control character in a string, or of the quote that opens a string
// never closed (the text's size when nothing was found, e.g. for EMPTY). A second scan, on the
// error path only.
[[gnu::cold, gnu::noinline]] size_t first_pass_position(std::string_view text,
                                                        error_code code) noexcept {
    if (code == simdjson::UTF8_ERROR) {
        for (size_t i = 0; i < text.size();) {
            const size_t n = http::utf8_sequence_length(text, i);
            if (n == 0) return i;
            i += n;
        }
        return text.size();
    }
    if (code != simdjson::UNESCAPED_CHARS && code != simdjson::UNCLOSED_STRING) {
        return code == simdjson::EMPTY ? text.size() : 0;
    }
    bool in_string = false;
    size_t opened = 0;
    for (size_t i = 0; i < text.size(); ++i) {
        const auto c = static_cast<unsigned char>(text[i]);
        if (!in_string) {
            if (c == '"') {
                in_string = true;
                opened = i;
            }
            continue;
        }
        if (c < 0x20 && code == simdjson::UNESCAPED_CHARS) return i;
        if (c == '"') {
            in_string = false;
        } else if (c == '\\' && i + 1 < text.size()) {
            // The escaped byte is in the string too (a raw control character after '\' is one).
            if (static_cast<unsigned char>(text[i + 1]) < 0x20 &&
                code == simdjson::UNESCAPED_CHARS) {
                return i + 1;
            }
            ++i;
        }
    }
    return in_string && code == simdjson::UNCLOSED_STRING ? opened : text.size();
}

// validate()'s output: nowhere.
struct Discard {
    void begin_object() noexcept {}
    void end_object() noexcept {}
    void begin_array() noexcept {}
    void end_array() noexcept {}
    void key(std::string_view) noexcept {}
    void value(std::string_view) noexcept {}
    void value(bool) noexcept {}
    void raw_number(std::string_view) noexcept {}
    void null() noexcept {}
};

}  // namespace

namespace detail {

// Reads a whole document, in order, handing each part to `out` (JsonWriter's calls). Recursion is
// bounded by Body::kMaxDepth. Scalars are checked from their token's text (simdjson's raw token,
// which never reaches past the body): numbers by the JSON grammar, so that no magnitude is refused
// and none is rounded; true, false and null exactly.
template <typename Out>
class Walk {
  public:
    Walk(Body& body, Out& out) noexcept : body_(body), out_(out) {}

    Error run() noexcept {
        simdjson::ondemand::document& doc = body_.doc_;
        std::string_view token;
        if (const error_code e = doc.raw_json_token().get(token)) return body_.locate(e);
        json_type type;
        if (const error_code e = doc.type().get(type)) return at(e, token.data());
        if (type == json_type::object || type == json_type::array) {
            simdjson::ondemand::value root;
            if (const error_code e = doc.get_value().get(root)) return at(e, token.data());
            if (!value(root, 0)) return error_;
            // Nothing may follow the value.
            const char* next = nullptr;
            if (doc.current_location().get(next) == simdjson::SUCCESS) {
                return at(simdjson::TRAILING_CONTENT, next);
            }
            return {};
        }
        if (!scalar(type, token, doc)) return error_;
        // A scalar's token runs up to the next token (spaces included): there must be none.
        const char* next = token.data() + token.size();
        if (next < body_.text_.data() + body_.text_.size()) {
            return at(simdjson::TRAILING_CONTENT, next);
        }
        return {};
    }

  private:
    Error at(error_code code, const char* where) noexcept {
        return {code, static_cast<size_t>(where - body_.text_.data())};
    }
    bool fail(error_code code, const char* where) noexcept {
        error_ = at(code, where);
        return false;
    }
    bool fail_here(error_code code) noexcept {
        error_ = body_.locate(code);
        return false;
    }

    // `depth`: the objects and arrays around `v`.
    bool value(simdjson::ondemand::value v, unsigned depth) noexcept {
        const std::string_view token = v.raw_json_token();
        json_type type;
        if (const error_code e = v.type().get(type)) return fail(e, token.data());
        if (type != json_type::object && type != json_type::array) return scalar(type, token, v);
        if (depth == Body::kMaxDepth) return fail(simdjson::DEPTH_ERROR, token.data());
        return type == json_type::object ? object(v, token, depth + 1) : array(v, token, depth + 1);
    }

    // `depth`: the objects and arrays around the members, this one included.
    bool object(simdjson::ondemand::value v, std::string_view token, unsigned depth) noexcept {
        simdjson::ondemand::object object;
        if (const error_code e = v.get_object().get(object)) return fail(e, token.data());
        out_.begin_object();
        for (auto item : object) {
            simdjson::ondemand::field field;
            if (const error_code e = std::move(item).get(field)) return fail_here(e);
            const char* quote = field.key().raw() - 1;  // (unescaping consumes the key)
            std::string_view key;
            if (const error_code e = field.unescaped_key().get(key)) return fail(e, quote);
            out_.key(key);
            if (!value(field.value(), depth)) return false;
        }
        out_.end_object();
        return true;
    }

    bool array(simdjson::ondemand::value v, std::string_view token, unsigned depth) noexcept {
        simdjson::ondemand::array array;
        if (const error_code e = v.get_array().get(array)) return fail(e, token.data());
        out_.begin_array();
        for (auto item : array) {
            simdjson::ondemand::value element;
            if (const error_code e = std::move(item).get(element)) return fail_here(e);
            if (!value(element, depth)) return false;
        }
        out_.end_array();
        return true;
    }

    // `v`: the value or the document (a scalar at the root).
    template <typename Value>
    bool scalar(json_type type, std::string_view token, Value& v) noexcept {
        std::string_view text = token;
        while (!text.empty() && is_space(text.back()))
            text.remove_suffix(1);
        switch (type) {
            case json_type::number:
                if (!http::is_json_number(text)) return fail(simdjson::NUMBER_ERROR, token.data());
                out_.raw_number(text);
                return true;
            case json_type::boolean:
                if (text == "true" || text == "false") {
                    out_.value(text == "true");
                    return true;
                }
                return fail(text[0] == 't' ? simdjson::T_ATOM_ERROR : simdjson::F_ATOM_ERROR,
                            token.data());
            case json_type::null:
                if (text != "null") return fail(simdjson::N_ATOM_ERROR, token.data());
                out_.null();
                return true;
            case json_type::string: {
                std::string_view s;
                if (const error_code e = v.get_string().get(s)) {
                    // (At the root, simdjson may find what follows the string first.)
                    return fail(e, e == simdjson::TRAILING_CONTENT ? token.data() + token.size()
                                                                   : token.data());
                }
                out_.value(s);
                return true;
            }
            default:
                return fail(simdjson::TAPE_ERROR, token.data());
        }
    }

    Body& body_;
    Out& out_;
    Error error_;
};

}  // namespace detail

Body::Body(std::string_view text, size_t readable_after) noexcept : source_(text), text_(text) {
    ThreadParser& t = thread_parser();
    if (t.busy) {
        error_ = {simdjson::PARSER_IN_USE, 0};
        return;
    }
    if (readable_after < simdjson::SIMDJSON_PADDING) {
        // No room to read past the end: a copy, with room. (A request's body gets here only when
        // it lies whole in one receive buffer, so it is small: one that spanned reads has room.)
        const size_t need = text.size() + simdjson::SIMDJSON_PADDING;
        if (t.copy_capacity < need) {
            const size_t capacity = room_for(text.size()) + simdjson::SIMDJSON_PADDING;
            t.copy.reset(new (std::nothrow) char[capacity]);
            t.copy_capacity = t.copy ? capacity : 0;
            if (!t.copy) {
                error_ = {simdjson::MEMALLOC, 0};
                return;
            }
        }
        if (!text.empty()) std::memcpy(t.copy.get(), text.data(), text.size());
        std::memset(t.copy.get() + text.size(), ' ', simdjson::SIMDJSON_PADDING);
        text_ = std::string_view(t.copy.get(), text.size());
        readable_after = t.copy_capacity - text.size();
    }
    if (t.parser.capacity() < text.size()) {
        if (const error_code e = t.parser.allocate(room_for(text.size()))) {
            error_ = {e, 0};
            return;
        }
    }
    t.busy = true;
    holds_parser_ = true;
    if (const error_code e =
            t.parser.iterate(text_.data(), text_.size(), text_.size() + readable_after).get(doc_)) {
        error_ = {e, first_pass_position(text_, e)};
        return;
    }
    iterated_ = true;
}

Body::~Body() {
    if (!holds_parser_) return;
    ThreadParser& t = thread_parser();
    // A body larger than what a thread keeps gave its parser and copy their size: give it back
    // (the document is no longer read).
    if (t.parser.capacity() > kRetainedBytes) t.parser = simdjson::ondemand::parser{};
    if (t.copy_capacity > kRetainedBytes + simdjson::SIMDJSON_PADDING) {
        t.copy.reset();
        t.copy_capacity = 0;
    }
    t.busy = false;
}

Error Body::locate(error_code code) noexcept {
    if (!iterated_) return {code, error_ ? error_.position : 0};
    const char* where = nullptr;
    // Out of bounds: the reading stopped at the end of the text.
    if (doc_.current_location().get(where) != simdjson::SUCCESS) return {code, text_.size()};
    return {code, static_cast<size_t>(where - text_.data())};
}

Error Body::validate() noexcept {
    if (!iterated_) return error_;
    Discard out;
    if (doc_.is_alive()) doc_.rewind();
    const Error e = detail::Walk<Discard>(*this, out).run();
    if (doc_.is_alive()) doc_.rewind();
    return e;
}

Error Body::write_to(http::JsonWriter& out) noexcept {
    if (!iterated_) {
        out.abandon();
        return error_;
    }
    if (doc_.is_alive()) doc_.rewind();
    const Error e = detail::Walk<http::JsonWriter>(*this, out).run();
    if (doc_.is_alive()) doc_.rewind();
    if (e) out.abandon();
    return e;
}

void write_error(http::Response& res, const Error& error) noexcept {
    if (!error.bad_document()) {
        res.fail(error.message());
        return;
    }
    res.status(400).body({});
    http::JsonWriter json(res);
    json.begin_object();
    json.key("error").value("invalid JSON");
    json.key("message").value(error.message());
    json.key("position").value(static_cast<uint64_t>(error.position));
    json.end_object();
}

bool has_json_content_type(const http::Request& req) noexcept {
    std::string_view type = req.header("content-type").value_or("");
    type = type.substr(0, type.find(';'));
    while (!type.empty() && (type.back() == ' ' || type.back() == '\t'))
        type.remove_suffix(1);
    const size_t slash = type.find('/');
    if (slash == std::string_view::npos) return false;
    const std::string_view subtype = type.substr(slash + 1);
    if (http::iequals(type, "application/json")) return true;
    return subtype.size() > 5 && http::iequals(subtype.substr(subtype.size() - 5), "+json");
}

}  // namespace nexure::net::json
