// Conditional requests (RFC 9110 13.1.2, If-None-Match): how a route's handler learns that
// nothing new is needed — the client already holds the representation it would send — and
// answers 304 Not Modified instead of the body.
//
//   server.get("/report", [](const Request& req, Response& res) {
//       const std::string_view etag = "\"v42\"";             // changes when the report does
//       res.header("ETag", etag).header("Cache-Control", "no-cache");
//       if (http::not_modified(req, etag)) {
//           res.status(304);                                  // no body: the client's copy is
//           current return;
//       }
//       res.type("text/csv").body(build_report());
//   });
//
// Pure functions over the request's views; any thread that may read the Request.
#pragma once

#include <string_view>

#include "net/http/request.h"

namespace nexure::net::http {

// Whether `req`, a GET or HEAD, names `etag` (an entity-tag: "\"xyz\"" or "W/\"xyz\"") in its
// If-None-Match fields, by the weak comparison (W/ ignored on both sides), or sends "*": then
// the answer is 304 with the representation's ETag and no body. False for other methods (there
// a match is a failed precondition, 412, which is the handler's call), for a request without
// If-None-Match, and for a malformed field value (it is ignored, as RFC 9110 13.1.2 allows).
bool not_modified(const Request& req, std::string_view etag) noexcept;

// The If-None-Match rule on the field's value(s) as a string (several fields joined with ", "),
// for code that keeps them after the request's views are gone (net/files/, the JavaScript
// bridge's file answers): whether `values` names `etag` (weak comparison) or is "*". The method
// is the caller's to check.
bool none_match(std::string_view values, std::string_view etag) noexcept;

}  // namespace nexure::net::http
