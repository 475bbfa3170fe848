'use strict';
// Header objects and header names, shared by req.headers (request.cjs) and a reply's headers
// (reply.cjs).
//
// Headers: objects with no Object.prototype in their chain (a header named __proto__ or
// constructor is a plain property, nothing is inherited), like a { __proto__: null } literal,
// but made by a constructor so that V8 gives them fast properties and one shape per header
// order instead of a dictionary each (a dictionary makes every for-in and store slow).
//
// knownName(): the lower-case name of a header the request record holds, without making a
// string, when it is one of the common ones: the constant is returned (already internalized,
// so using it as a property key costs no string-table lookup), else null.

function Headers() {}
Headers.prototype = Object.create(null);

const COMMON = [
  'host', 'accept', 'accept-encoding', 'accept-language', 'authorization', 'cache-control',
  'connection', 'content-length', 'content-type', 'cookie', 'if-modified-since',
  'if-none-match', 'origin', 'pragma', 'range', 'referer', 'te', 'upgrade', 'user-agent',
  'x-forwarded-for', 'x-forwarded-host', 'x-forwarded-proto', 'x-real-ip', 'x-request-id',
  'sec-websocket-key', 'sec-websocket-version', 'sec-websocket-protocol', 'sec-websocket-extensions',
  'sec-fetch-mode', 'sec-fetch-site', 'sec-fetch-dest', 'sec-ch-ua', 'sec-ch-ua-mobile',
  'sec-ch-ua-platform', 'upgrade-insecure-requests', 'dnt', 'expect', 'transfer-encoding',
];
// By length, then by first character (lower case): the candidates.
const BY_LENGTH = [];
for (const name of COMMON) {
  const list = BY_LENGTH[name.length] ?? (BY_LENGTH[name.length] = []);
  list.push(name);
}

// The name of `length` bytes at `at` in `u8`, lower-cased, if common; else null.
function knownName(u8, at, length) {
  const list = BY_LENGTH[length];
  if (list === undefined) return null;
  for (let k = 0; k < list.length; k++) {
    const name = list[k];
    let i = 0;
    for (; i < length; i++) {
      let c = u8[at + i];
      if (c >= 0x41 && c <= 0x5a) c |= 0x20;
      if (c !== name.charCodeAt(i)) break;
    }
    if (i === length) return name;
  }
  return null;
}

module.exports = { Headers, knownName };
