#include "net/http/form.h"

#include "net/http/percent.h"

namespace nexure::net::http {

std::string_view FormFields::decode(std::string_view raw) const noexcept {
    if (raw.find_first_of("%+") == std::string_view::npos || scratch_ == nullptr) return raw;
    auto* out = static_cast<char*>(scratch_->allocate(raw.size(), 1));
    return {out, form_decode_to(raw, out)};
}

bool FormFields::next(FormField* field) noexcept {
    while (!rest_.empty()) {
        const size_t amp = rest_.find('&');
        const std::string_view pair = rest_.substr(0, amp);
        rest_ = amp == std::string_view::npos ? std::string_view{} : rest_.substr(amp + 1);
        if (pair.empty()) continue;
        const size_t eq = pair.find('=');
        field->name = decode(pair.substr(0, eq));
        field->value =
            eq == std::string_view::npos ? std::string_view{} : decode(pair.substr(eq + 1));
        return true;
    }
    return false;
}

std::optional<std::string_view> FormFields::get(std::string_view name) const noexcept {
    FormFields all(all_, scratch_);
    for (FormField f; all.next(&f);) {
        if (f.name == name) return f.value;
    }
    return std::nullopt;
}

size_t FormFields::get_all(std::string_view name, std::vector<std::string_view>* out) const {
    size_t n = 0;
    FormFields all(all_, scratch_);
    for (FormField f; all.next(&f);) {
        if (f.name != name) continue;
        out->push_back(f.value);
        ++n;
    }
    return n;
}

}  // namespace nexure::net::http
