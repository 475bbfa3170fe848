// Form fields: the name=value pairs of a query string or of an application/x-www-form-urlencoded
// body ("a=1&b=x+y&a=2&flag"), decoded — '+' as a space, %XX as a byte (a malformed escape stays
// as written, as browsers do) — into the request's scratch region, so no heap allocation. Pairs
// come in order, repeated names included; empty pieces ("&&") are skipped; a piece without '='
// is a name with an empty value. Worker thread only, within the handler (views into the request
// and its scratch region).
#pragma once

#include <cstddef>
#include <optional>
#include <string_view>
#include <vector>

#include "alloc/region.h"

namespace nexure::net::http {

struct FormField {
    std::string_view name;
    std::string_view value;
};

class FormFields {
  public:
    FormFields() noexcept = default;
    FormFields(std::string_view encoded, alloc::Region* scratch) noexcept
        : all_(encoded), rest_(encoded), scratch_(scratch) {}

    // The next pair, decoded; false at the end.
    bool next(FormField* field) noexcept;
    // The first value of `name`, or nullopt. (Scans from the start; does not move next().)
    std::optional<std::string_view> get(std::string_view name) const noexcept;
    // Every value of `name`, in order, appended to `out`; returns how many.
    size_t get_all(std::string_view name, std::vector<std::string_view>* out) const;
    bool empty() const noexcept { return all_.empty(); }

  private:
    std::string_view decode(std::string_view raw) const noexcept;

    std::string_view all_;
    std::string_view rest_;
    alloc::Region* scratch_ = nullptr;
};

}  // namespace nexure::net::http
