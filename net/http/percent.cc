#include "net/http/percent.h"

namespace nexure::net::http {

namespace {

int hex(char ch) noexcept {
    if (ch >= '0' && ch <= '9') return ch - '0';
    if (ch >= 'a' && ch <= 'f') return ch - 'a' + 10;
    if (ch >= 'A' && ch <= 'F') return ch - 'A' + 10;
    return -1;
}

}  // namespace

size_t percent_decode_to(std::string_view in, char* out) noexcept {
    size_t n = 0;
    for (size_t i = 0; i < in.size(); ++i) {
        if (in[i] != '%') {
            out[n++] = in[i];
            continue;
        }
        const int hi = i + 1 < in.size() ? hex(in[i + 1]) : -1;
        const int lo = i + 2 < in.size() ? hex(in[i + 2]) : -1;
        if (hi < 0 || lo < 0) return kMalformed;
        out[n++] = static_cast<char>(hi * 16 + lo);
        i += 2;
    }
    return n;
}

size_t form_decode_to(std::string_view in, char* out) noexcept {
    size_t n = 0;
    for (size_t i = 0; i < in.size(); ++i) {
        const char ch = in[i];
        if (ch == '+') {
            out[n++] = ' ';
            continue;
        }
        const int hi = ch == '%' && i + 1 < in.size() ? hex(in[i + 1]) : -1;
        const int lo = hi >= 0 && i + 2 < in.size() ? hex(in[i + 2]) : -1;
        if (lo < 0) {
            out[n++] = ch;
            continue;
        }
        out[n++] = static_cast<char>(hi * 16 + lo);
        i += 2;
    }
    return n;
}

bool percent_decode(std::string_view in, std::string* out) {
    out->resize(in.size());
    const size_t n = percent_decode_to(in, out->data());
    if (n == kMalformed) return false;
    out->resize(n);
    return true;
}

}  // namespace nexure::net::http
