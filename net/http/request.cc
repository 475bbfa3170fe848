#include "net/http/request.h"

#include <new>

#include "net/http/percent.h"

namespace nexure::net::http {

std::optional<std::string_view> Request::header(std::string_view name) const noexcept {
    for (uint32_t i = 0; i < header_count_; ++i) {
        if (iequals(headers_[i].name, name)) return headers_[i].value;
    }
    return std::nullopt;
}

std::string_view Request::param(std::string_view name) const noexcept {
    for (uint32_t i = 0; i < param_count_; ++i) {
        if (params_[i].name == name) return params_[i].value;
    }
    return {};
}

std::optional<std::string_view> Request::param_decoded(std::string_view name) const noexcept {
    for (uint32_t i = 0; i < param_count_; ++i) {
        if (params_[i].name != name) continue;
        const std::string_view raw = params_[i].value;
        if (raw.find('%') == std::string_view::npos) return raw;  // nothing to decode
        auto* out = static_cast<char*>(scratch_->allocate(raw.size(), 1));
        const size_t n = percent_decode_to(raw, out);
        if (n == kMalformed) return std::nullopt;
        return std::string_view(out, n);
    }
    return std::nullopt;
}

FormFields Request::form_fields() const noexcept {
    // "application/x-www-form-urlencoded", maybe with parameters ("; charset=UTF-8").
    constexpr std::string_view kForm = "application/x-www-form-urlencoded";
    const std::optional<std::string_view> type = header("content-type");
    if (!type || type->size() < kForm.size() || !iequals(type->substr(0, kForm.size()), kForm) ||
        (type->size() > kForm.size() && (*type)[kForm.size()] != ';' &&
         (*type)[kForm.size()] != ' ')) {
        return {};
    }
    return FormFields(body_, scratch_);
}

void Request::own_views(alloc::Region& region, const AnswerWatch* watch) noexcept {
    // path and query lie in the target (also for an absolute-form target): they keep their
    // offsets into its copy. An empty view needs no copy.
    auto copy = [&region](std::string_view v) { return v.empty() ? v : region.copy(v); };
    auto within = [](std::string_view part, std::string_view whole) {
        return !part.empty() && part.data() >= whole.data() &&
               part.data() + part.size() <= whole.data() + whole.size();
    };
    const std::string_view target = copy(target_);
    auto rebase = [&](std::string_view part) {
        if (!within(part, target_)) return copy(part);  // "/" for an empty absolute-form path
        return target.substr(static_cast<size_t>(part.data() - target_.data()), part.size());
    };
    path_ = rebase(path_);
    query_ = rebase(query_);
    target_ = target;
    method_name_ = copy(method_name_);
    body_ = copy(body_);
    if (header_count_ != 0) {
        auto* headers =
            static_cast<Header*>(region.allocate(sizeof(Header) * header_count_, alignof(Header)));
        for (uint32_t i = 0; i < header_count_; ++i)
            ::new (&headers[i]) Header{copy(headers_[i].name), copy(headers_[i].value)};
        headers_ = headers;
    }
    // (Parameter names come from the route pattern: the router keeps them.)
    for (uint32_t i = 0; i < param_count_; ++i)
        params_[i].value = copy(params_[i].value);
    scratch_ = &region;
    body_source_ = nullptr;
    watch_ = watch;
}

void Request::addresses(Endpoint* remote, Endpoint* local) const noexcept {
    if (address_book_ == nullptr ||
        !address_book_->endpoints(connection_slot_, connection_generation_, remote, local)) {
        if (remote != nullptr) *remote = {};
        if (local != nullptr) *local = {};
    }
}

Endpoint Request::remote_address() const noexcept {
    Endpoint remote;
    if (address_book_ != nullptr) {
        (void)address_book_->endpoints(connection_slot_, connection_generation_, &remote, nullptr);
    }
    return remote;
}

Endpoint Request::local_address() const noexcept {
    Endpoint local;
    if (address_book_ != nullptr) {
        (void)address_book_->endpoints(connection_slot_, connection_generation_, nullptr, &local);
    }
    return local;
}

std::optional<std::string_view> Request::query_param(std::string_view name) const noexcept {
    std::string_view rest = query_;
    while (!rest.empty()) {
        const size_t amp = rest.find('&');
        std::string_view pair = rest.substr(0, amp);
        rest = amp == std::string_view::npos ? std::string_view{} : rest.substr(amp + 1);
        const size_t eq = pair.find('=');
        if (pair.substr(0, eq) == name) {
            return eq == std::string_view::npos ? std::string_view{} : pair.substr(eq + 1);
        }
    }
    return std::nullopt;
}

}  // namespace nexure::net::http
