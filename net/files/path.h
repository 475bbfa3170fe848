// The file a request names, below a served directory: the request's path (as sent) made into a
// path relative to the root, or refused. String rules only — the real guard is the open itself
// (openat2 with RESOLVE_BENEATH, net/files/static_files.cc), which the kernel enforces against
// symlinks and races; these rules refuse early what can never be a file below the root. Pure
// function, any thread.
#pragma once

#include <string>
#include <string_view>

namespace nexure::files {

enum class PathVerdict {
    kOk,
    kMalformed,  // a '%' not followed by two hex digits: 400
    kRefused,    // NUL, a ".." segment (literal or encoded), anything that cannot be below the
                 // root: 404, like a file that does not exist (nothing is revealed)
};

struct RelativePath {
    std::string path;             // "a/b.txt"; "" for the root itself; never starts with '/'
    bool trailing_slash = false;  // the request's path ended with '/' (a directory was meant)
};

// Decodes `raw` (the part of the request's path below the mount point; a leading '/' is
// optional) once — "%2e%2e" is "..", "%2f" a '/', "%252e" stays the three characters "%2e" —
// then splits it at '/', drops empty and "." segments and refuses ".." segments and NUL bytes.
PathVerdict relative_path(std::string_view raw, RelativePath* out);

// The same rules for a path that is already a file name, not a URL (reply.sendFile(name)): not
// decoded; a leading '/' stays below the root.
PathVerdict relative_file_path(std::string_view name, RelativePath* out);

}  // namespace nexure::files
