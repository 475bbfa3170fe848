// The Content-Type of a file from its name's extension: a fixed table (the types browsers need
// for a web site, fonts, media, archives and WebAssembly), "; charset=utf-8" for text, and
// application/octet-stream for anything else. Pure function, any thread.
#pragma once

#include <string_view>

namespace nexure::files {

// The media type for `name` (a path or a file name; the extension after its last '.' in the last
// segment, compared without case). Static storage: the view never dangles.
std::string_view content_type_for(std::string_view name) noexcept;

}  // namespace nexure::files
