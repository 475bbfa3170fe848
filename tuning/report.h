// Report: the two forms of `nexure-tune check` output. The table is for people (one row per item,
// its details and recommendation below it, wrapped to 100 columns); the JSON is for scripts:
//
//   {"root": "/", "status": "WARN", "counts": {"ok": 14, "warn": 3},
//    "items": [{"id": "rlimit.memlock", "name": "RLIMIT_MEMLOCK", "status": "WARN",
//               "found": "...", "recommendation": "...", "details": ["..."]}, ...]}
//
// Every string is valid JSON whatever bytes the host's files held (invalid UTF-8 becomes U+FFFD).
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "tuning/checks.h"

namespace nexure::tuning {

std::string format_table(const std::vector<Item>& items, std::string_view root);
std::string format_json(const std::vector<Item>& items, std::string_view root);

// `text` as the inside of a JSON string literal.
void append_json_escaped(std::string& out, std::string_view text);

// `text` broken into lines of at most `width` columns (longer words stay whole), each line after
// the first prefixed with `indent` spaces; `first` is the column the first line starts at.
std::string wrap(std::string_view text, size_t first, size_t indent, size_t width);

}  // namespace nexure::tuning
