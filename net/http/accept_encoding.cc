#include "net/http/accept_encoding.h"

#include <array>

#include "net/http/field_syntax.h"

namespace nexure::net::http {

namespace {

constexpr size_t kCodings = 4;

// What the field said: the qvalue (0..1000) of each coding it named, -1 when it did not.
struct Weights {
    std::array<int, kCodings> named{-1, -1, -1, -1};
    int star = -1;
};

// qvalue = ( "0" [ "." 0*3DIGIT ] ) / ( "1" [ "." 0*3("0") ] ), in thousandths; -1 if malformed.
int parse_qvalue(std::string_view s) noexcept {
    if (s.empty() || (s[0] != '0' && s[0] != '1')) return -1;
    int value = (s[0] - '0') * 1000;
    if (s.size() == 1) return value;
    if (s[1] != '.' || s.size() > 5) return -1;
    int scale = 100;
    for (size_t i = 2; i < s.size(); ++i, scale /= 10) {
        if (s[i] < '0' || s[i] > '9') return -1;
        value += (s[i] - '0') * scale;
    }
    return value > 1000 ? -1 : value;
}

// The weight of one list element ("gzip", "br;q=0.5"): 1000 without a q parameter, -1 when the
// element is malformed. Parameters other than q are ignored.
int element_weight(std::string_view params) noexcept {
    int weight = 1000;
    while (!params.empty()) {
        const size_t semi = params.find(';', 1);
        std::string_view param = trim_ows(
            params.substr(1, semi == std::string_view::npos ? std::string_view::npos : semi - 1));
        params = semi == std::string_view::npos ? std::string_view{} : params.substr(semi);
        const size_t eq = param.find('=');
        if (eq == std::string_view::npos) return -1;
        if (iequals(trim_ows(param.substr(0, eq)), "q")) {
            weight = parse_qvalue(trim_ows(param.substr(eq + 1)));
            if (weight < 0) return -1;
        }
    }
    return weight;
}

int coding_index(std::string_view token) noexcept {
    if (iequals(token, "gzip") || iequals(token, "x-gzip"))
        return static_cast<int>(ContentCoding::kGzip);
    if (iequals(token, "br")) return static_cast<int>(ContentCoding::kBrotli);
    if (iequals(token, "zstd")) return static_cast<int>(ContentCoding::kZstd);
    if (iequals(token, "identity")) return static_cast<int>(ContentCoding::kIdentity);
    return -1;
}

void read_list(std::string_view list, Weights& w) noexcept {
    while (!list.empty()) {
        const size_t comma = list.find(',');
        std::string_view element = list.substr(0, comma);
        list = comma == std::string_view::npos ? std::string_view{} : list.substr(comma + 1);
        element = trim_ows(element);
        if (element.empty()) continue;  // "a, , b" has empty elements (RFC 9110 5.6.1)
        const size_t semi = element.find(';');
        const std::string_view token = trim_ows(element.substr(0, semi));
        const int weight =
            semi == std::string_view::npos ? 1000 : element_weight(element.substr(semi));
        if (weight < 0 || token.empty()) continue;
        int* slot = nullptr;
        if (token == "*") {
            slot = &w.star;
        } else if (const int i = coding_index(token); i >= 0) {
            slot = &w.named[static_cast<size_t>(i)];
        }
        if (slot != nullptr && weight > *slot) *slot = weight;
    }
}

ContentCoding decide(const Weights& w, std::span<const ContentCoding> offered) noexcept {
    ContentCoding best = ContentCoding::kIdentity;
    int best_weight = 0;
    for (const ContentCoding c : offered) {
        const size_t i = static_cast<size_t>(c);
        int weight = w.named[i] >= 0 ? w.named[i] : w.star;
        if (weight < 0) weight = c == ContentCoding::kIdentity ? 1 : 0;  // identity: least wanted
        if (weight > best_weight) {
            best = c;
            best_weight = weight;
        }
    }
    return best;
}

}  // namespace

std::string_view coding_token(ContentCoding coding) noexcept {
    switch (coding) {
        case ContentCoding::kGzip:
            return "gzip";
        case ContentCoding::kBrotli:
            return "br";
        case ContentCoding::kZstd:
            return "zstd";
        case ContentCoding::kIdentity:
            break;
    }
    return "identity";
}

ContentCoding choose_coding(std::string_view values,
                            std::span<const ContentCoding> offered) noexcept {
    Weights w;
    read_list(values, w);
    return decide(w, offered);
}

ContentCoding choose_coding(const Request& req, std::span<const ContentCoding> offered) noexcept {
    Weights w;
    bool present = false;
    for (const Header& h : req.headers()) {
        if (!iequals(h.name, "accept-encoding")) continue;
        present = true;
        read_list(h.value, w);
    }
    return present ? decide(w, offered) : ContentCoding::kIdentity;
}

}  // namespace nexure::net::http
