// Accept-Encoding (RFC 9110 12.5.3): which content coding a response may use for this client.
// Shared by the engine's response compression and its static files (precompressed siblings), so
// that both read the field the same way.
//
//   static constexpr ContentCoding kOffer[] = {ContentCoding::kBrotli, ContentCoding::kGzip};
//   switch (http::choose_coding(req, kOffer)) { ... }   // kIdentity: send it as it is
//
// Pure functions over the request's views; any thread that may read the Request.
#pragma once

#include <cstdint>
#include <span>
#include <string_view>

#include "net/http/request.h"

namespace nexure::net::http {

enum class ContentCoding : uint8_t { kIdentity, kGzip, kBrotli, kZstd };

// The token of a coding as it goes in Content-Encoding: "gzip", "br", "zstd" ("identity" for
// kIdentity, which is never sent).
std::string_view coding_token(ContentCoding coding) noexcept;

// The coding to answer with, among `offered` (the server's codings, most preferred first), for a
// request whose Accept-Encoding field values are `values` (several fields are one list, as if
// joined by commas). The client's highest qvalue wins; among equal qvalues the server's order
// decides. `*` stands for every coding the field does not name; `x-gzip` is gzip; q=0 refuses a
// coding. kIdentity when the request has no Accept-Encoding (RFC 9110 allows any coding then, but
// clients that can decode say so), when no offered coding is acceptable (even if the client
// refused identity too: an unencoded answer is more useful than a 406), and for elements that are
// malformed (they are skipped, the rest of the list still counts).
ContentCoding choose_coding(std::string_view values, std::span<const ContentCoding> offered) noexcept;
ContentCoding choose_coding(const Request& req, std::span<const ContentCoding> offered) noexcept;

}  // namespace nexure::net::http
