// The binding's file functions (napi/README.md, "Files"): `fileAnswer()`, the decision for
// reply.sendFile and inject() made on the JS thread, and the engine-served static routes of
// createServer's config (routes[i].static). JS thread only.
#pragma once

#include <node_api.h>

#include <string>

#include "net/http/method.h"
#include "net/server.h"

namespace nexure::napi {

// binding.fileAnswer(root, name, url, fields, options) → {status, type, headers, path, offset,
// length, etag, errno}: see napi/PROTOCOL.md "File answers".
napi_value file_answer(napi_env env, napi_callback_info info);

// config.routes[i].static = {root, maxAge, immutable, index, precompressed, followSymlinks,
// redirectDirectories}: registers `method` `path` (a pattern ending in "/*") as a route the
// engine serves from `root` (net/files/static_files.h) — no JavaScript runs for its requests.
// Throws std::invalid_argument naming `what` and the field, or the root that cannot be opened.
void add_static_route(napi_env env, napi_value options, net::Server& server, net::http::Method method,
                      const std::string& path, const std::string& what);

}  // namespace nexure::napi
