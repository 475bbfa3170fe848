#include "net/http/response_writer.h"

#include <charconv>
#include <cstring>

#include "net/http/status.h"

namespace nexure::net::http {

namespace {

constexpr std::string_view kServerLine = "Server: NexureJS\r\n";
constexpr std::string_view kChunkedLine = "Transfer-Encoding: chunked\r\n";

inline char* put(char* out, std::string_view s) noexcept {
    if (!s.empty()) std::memcpy(out, s.data(), s.size());  // memcpy(_, nullptr, 0) is UB
    return out + s.size();
}

std::string_view connection_line(Framing f) noexcept {
    if (f.upgrade) [[unlikely]] return "Connection: Upgrade\r\n";
    return !f.keep_alive ? std::string_view("Connection: close\r\n")
           : f.http10    ? std::string_view("Connection: keep-alive\r\n")
                         : std::string_view{};
}

// Writes everything up to the framing field: status line, Server, Date, Content-Type and the
// handler's fields. `framing_line` (Content-Length: n, or chunked) and `connection` follow, then
// the blank line and `body`. One prepare() for the whole response.
size_t write_message(alloc::ByteBuffer& out, const Response& res, std::string_view extra,
                     std::string_view date, std::string_view framing_name,
                     std::string_view framing_value, std::string_view connection,
                     std::string_view body) noexcept {
    const std::string_view first_line = status_line(res.status_code());
    const std::string_view type = res.content_type();
    const size_t total = first_line.size() + kServerLine.size() + date.size() +
                         (type.empty() ? 0 : type.size() + 16) + extra.size() +
                         framing_name.size() +
                         (framing_value.empty() ? 0 : framing_value.size() + 2) +
                         connection.size() + 2 + body.size();
    char* start = out.prepare(total);
    char* p = start;
    p = put(p, first_line);
    p = put(p, kServerLine);
    p = put(p, date);
    if (!type.empty()) {
        p = put(p, "Content-Type: ");
        p = put(p, type);
        p = put(p, "\r\n");
    }
    p = put(p, extra);
    p = put(p, framing_name);
    if (!framing_value.empty()) {
        p = put(p, framing_value);
        p = put(p, "\r\n");
    }
    p = put(p, connection);
    const size_t head_end = out.size() + static_cast<size_t>(p - start);
    p = put(p, "\r\n");
    p = put(p, body);
    out.commit(static_cast<size_t>(p - start));
    return head_end;
}

}  // namespace

size_t ResponseWriter::write(alloc::ByteBuffer& out, const Response& res,
                             Framing framing) const noexcept {
    return write(out, res, framing, res.header_lines(), res.body_view());
}

size_t ResponseWriter::write(alloc::ByteBuffer& out, const Response& res, Framing framing,
                             std::string_view extra, std::string_view body) const noexcept {
    // The hot path (every complete response): one size computation, one prepare(), straight
    // copies; write_message() below serves the streamed heads.
    const int status = res.status_code();
    const bool no_body = bodiless(status);
    if (no_body) body = {};
    const std::string_view first_line = status_line(status);
    const std::string_view date = date_->line();
    const std::string_view type = res.content_type();
    const std::string_view connection = connection_line(framing);
    char length[24];
    const auto [end, ec] = std::to_chars(length, length + sizeof(length), body.size());
    (void)ec;
    const std::string_view length_digits(length, static_cast<size_t>(end - length));

    const size_t total = first_line.size() + kServerLine.size() + date.size() +
                         (type.empty() ? 0 : type.size() + 16) + extra.size() +
                         (no_body ? 0 : 18 + length_digits.size()) + connection.size() + 2 +
                         (framing.head_only ? 0 : body.size());
    char* const start = out.prepare(total);
    char* p = start;
    p = put(p, first_line);
    p = put(p, kServerLine);
    p = put(p, date);
    if (!type.empty()) {
        p = put(p, "Content-Type: ");
        p = put(p, type);
        p = put(p, "\r\n");
    }
    p = put(p, extra);
    if (!no_body) {
        p = put(p, "Content-Length: ");
        p = put(p, length_digits);
        p = put(p, "\r\n");
    }
    p = put(p, connection);
    const size_t head_end = out.size() + static_cast<size_t>(p - start);
    p = put(p, "\r\n");
    if (!framing.head_only) p = put(p, body);
    out.commit(static_cast<size_t>(p - start));
    return head_end;
}

BodyFraming ResponseWriter::write_head(alloc::ByteBuffer& out, const Response& head,
                                       Framing framing, BodyFraming body, uint64_t length,
                                       std::string_view header_lines) const noexcept {
    if (bodiless(head.status_code())) body = BodyFraming::kNone;
    if (body == BodyFraming::kChunked && framing.http10) body = BodyFraming::kUntilClose;
    if (body == BodyFraming::kUntilClose) framing.keep_alive = false;
    char digits[24];
    std::string_view name;
    std::string_view value;
    if (body == BodyFraming::kLength) {
        const auto [end, ec] = std::to_chars(digits, digits + sizeof(digits), length);
        (void)ec;
        name = "Content-Length: ";
        value = std::string_view(digits, static_cast<size_t>(end - digits));
    } else if (body == BodyFraming::kChunked) {
        name = kChunkedLine;
    }
    (void)write_message(out, head, header_lines, date_->line(), name, value,
                        connection_line(framing), {});
    return framing.head_only ? BodyFraming::kNone : body;
}

void ResponseWriter::write_body(alloc::ByteBuffer& out, BodyFraming body,
                                std::string_view bytes) noexcept {
    if (bytes.empty() || body == BodyFraming::kNone) return;
    if (body != BodyFraming::kChunked) {
        out.append(bytes);
        return;
    }
    char size_line[24];
    const auto [end, ec] = std::to_chars(size_line, size_line + 16, bytes.size(), 16);
    (void)ec;
    char* p = out.prepare(static_cast<size_t>(end - size_line) + 4 + bytes.size());
    char* const start = p;
    p = put(p, std::string_view(size_line, static_cast<size_t>(end - size_line)));
    p = put(p, "\r\n");
    p = put(p, bytes);
    p = put(p, "\r\n");
    out.commit(static_cast<size_t>(p - start));
}

void ResponseWriter::write_end(alloc::ByteBuffer& out, BodyFraming body,
                               std::string_view trailer_lines) noexcept {
    if (body != BodyFraming::kChunked) return;
    out.append("0\r\n");
    out.append(trailer_lines);
    out.append("\r\n");
}

void ResponseWriter::insert_close(alloc::ByteBuffer& out, size_t head_end) noexcept {
    constexpr std::string_view kClose = "Connection: close\r\n";
    const size_t tail = out.size() - head_end;
    out.prepare(kClose.size());
    char* at = out.data() + head_end;
    std::memmove(at + kClose.size(), at, tail);
    std::memcpy(at, kClose.data(), kClose.size());
    out.commit(kClose.size());
}

}  // namespace nexure::net::http
