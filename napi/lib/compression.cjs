'use strict';
// Response compression: the createApp({ compression }) and route { compression } options, the
// per-answer override reply.compress(), and inject()'s emulation of what the engine does.
//
// Answers served over sockets are compressed by the engine on its worker threads
// (net/http/compression.h): the JavaScript thread only sets two bits in the response record.
// inject() has no engine, so it applies the same rules here with node:zlib — the engine's own
// negotiation (binding.chooseCoding) and type list (binding.compressibleType), the same header
// fields; the encoded bytes may differ (another brotli build), their decoding does not.

const zlib = require('node:zlib');

// Response record flags (napi/PROTOCOL.md, bits 8 and 9).
const FLAG_NO_COMPRESS = 1 << 8;
const FLAG_FORCE_COMPRESS = 1 << 9;

const CODING_NAMES = new Set(['gzip', 'x-gzip', 'br', 'zstd']);
const OPTION_KEYS = ['threshold', 'encodings', 'levels'];
const LEVEL_RANGES = { gzip: [1, 9], brotli: [0, 11], zstd: [1, 19] };

function fail(where, message) {
  throw new TypeError(`${where}: ${message}`);
}

// ['br', 'gzip'] or 'br, gzip' → 'br,gzip' (validated names; whether zstd is built in is checked
// by the engine when the server is created).
function encodingList(where, v) {
  const list = typeof v === 'string' ? v.split(',') : v;
  if (!Array.isArray(list) || list.length === 0) {
    fail(where, "encodings must be a non-empty array of 'br', 'gzip', 'zstd'");
  }
  const out = [];
  for (const item of list) {
    const name = String(item).trim().toLowerCase();
    if (!CODING_NAMES.has(name)) fail(where, `unknown encoding '${item}' (known: br, gzip, zstd)`);
    out.push(name === 'x-gzip' ? 'gzip' : name);
  }
  return out.join(',');
}

// createApp({ compression }) → { config (for createServer, or undefined), settings (inject) }.
// true: on with the defaults (1 KiB threshold, br, zstd where built, gzip); false/undefined: off.
function normalizeCompression(v) {
  const where = 'createApp(): option compression';
  if (v === undefined || v === null || v === false) return { config: undefined, settings: null };
  if (v === true) v = {};
  if (typeof v !== 'object') throw new TypeError(`${where} must be a boolean or an object, got ${typeof v}`);
  const config = { enabled: true };
  const settings = { threshold: 1024, encodings: null, levels: { gzip: 6, brotli: 4, zstd: 3 } };
  for (const key of Object.keys(v)) {
    const x = v[key];
    if (x === undefined) continue;
    if (key === 'threshold') {
      if (!Number.isInteger(x) || x < 0 || x > 0xffffffff) fail(where, 'threshold must be an integer >= 0 (bytes)');
      config.threshold = settings.threshold = x;
    } else if (key === 'encodings') {
      config.encodings = settings.encodings = encodingList(where, x);
    } else if (key === 'levels') {
      if (x === null || typeof x !== 'object') fail(where, 'levels must be an object');
      const levels = {};
      for (const k of Object.keys(x)) {
        const range = LEVEL_RANGES[k];
        if (range === undefined) fail(where, `unknown level levels.${k} (known: gzip, brotli, zstd)`);
        const n = x[k];
        if (!Number.isInteger(n) || n < range[0] || n > range[1]) {
          fail(where, `levels.${k} must be an integer from ${range[0]} to ${range[1]}`);
        }
        levels[k] = settings.levels[k] = n;
      }
      config.levels = levels;
    } else {
      fail(where, `unknown key ${key} (known: ${OPTION_KEYS.join(', ')})`);
    }
  }
  return { config, settings };
}

// A route's { compression: false | true | { encodings } } → the fields of its createServer
// route entry ({ compression: 'off' | 'on', encodings }), or null for the app's setting.
function routeCompression(where, v) {
  if (v === undefined || v === null) return null;
  if (v === false) return { compression: 'off' };
  if (v === true) return { compression: 'on' };
  if (typeof v !== 'object') fail(where, 'route option compression must be a boolean or an object');
  const out = { compression: 'on' };
  for (const key of Object.keys(v)) {
    if (key !== 'encodings') fail(where, `unknown key compression.${key} (known: encodings)`);
    if (v.encodings !== undefined) out.encodings = encodingList(where, v.encodings);
  }
  return out;
}

// reply.compress(on): the record flag bits of the answer's own say.
function replyFlag(on) {
  if (typeof on !== 'boolean') throw new TypeError('reply.compress(on): on must be a boolean');
  return on ? FLAG_FORCE_COMPRESS : FLAG_NO_COMPRESS;
}

// ---- inject() ---------------------------------------------------------------------------------

function fieldValue(headers, name) {
  const v = headers === null || headers === undefined ? undefined : headers[name];
  if (v === undefined) return undefined;
  return Array.isArray(v) ? v.join(', ') : String(v);
}

function listHas(value, token) {
  return value.split(',').some((x) => x.trim().toLowerCase() === token);
}

const nodeCodings = new Set(['gzip', 'br']);
if (typeof zlib.zstdCompressSync === 'function') nodeCodings.add('zstd');

function encodeWithNode(coding, body, levels) {
  if (coding === 'gzip') return zlib.gzipSync(body, { level: levels.gzip });
  if (coding === 'br') {
    return zlib.brotliCompressSync(body, {
      params: {
        [zlib.constants.BROTLI_PARAM_QUALITY]: levels.brotli,
        [zlib.constants.BROTLI_PARAM_SIZE_HINT]: body.length,
      },
    });
  }
  return zlib.zstdCompressSync(body, {
    params: { [zlib.constants.ZSTD_c_compressionLevel]: levels.zstd },
  });
}

// What the engine would send for this answer: { headers, body } (the headers object may be a
// new one; body a Buffer). `route` is the app's route record, `requestHeaders` [name, value]
// pairs as sent.
function injectEncode(binding, settings, route, requestHeaders, reply, status, headers, body) {
  const rc = route === null || route === undefined ? null : route.compression;
  const mode = rc === null || rc === undefined ? 'inherit' : rc.compression;
  if (mode === 'off' || (mode === 'inherit' && settings === null)) return { headers, body };
  let offered = (rc && rc.encodings) || (settings && settings.encodings) || binding.compressionCodings;
  offered = offered.split(',').filter((c) => nodeCodings.has(c)).join(',');
  const levels = settings === null ? { gzip: 6, brotli: 4, zstd: 3 } : settings.levels;
  const threshold = settings === null ? 1024 : settings.threshold;

  // The rules of ResponseCompressor::qualifies().
  if (status < 200 || status === 204 || status === 206 || status === 304) return { headers, body };
  const own = reply._compress;
  if (own === FLAG_NO_COMPRESS) return { headers, body };
  if (fieldValue(headers, 'content-encoding') !== undefined) return { headers, body };
  if (fieldValue(headers, 'content-range') !== undefined) return { headers, body };
  const cacheControl = fieldValue(headers, 'cache-control');
  if (cacheControl !== undefined && listHas(cacheControl, 'no-transform')) return { headers, body };
  const bytes = body === null || body === undefined ? Buffer.alloc(0)
    : typeof body === 'string' ? Buffer.from(body, 'utf8') : Buffer.from(body);
  if (own !== FLAG_FORCE_COMPRESS &&
    (bytes.length < threshold || !binding.compressibleType(reply._type === null ? '' : reply._type))) {
    return { headers, body };
  }

  const accept = requestHeaders.filter(([n]) => n.toLowerCase() === 'accept-encoding').map(([, v]) => v).join(', ');
  let coding = offered === '' ? 'identity' : binding.chooseCoding(accept, offered);
  let encoded = bytes;
  if (coding !== 'identity') {
    encoded = encodeWithNode(coding, bytes, levels);
    if (encoded.length >= bytes.length) {
      coding = 'identity';
      encoded = bytes;
    }
  }
  const out = { __proto__: null, ...headers };
  const vary = fieldValue(out, 'vary');
  if (vary === undefined) out.vary = 'Accept-Encoding';
  else if (vary.trim() !== '*' && !listHas(vary, 'accept-encoding')) out.vary = `${vary}, Accept-Encoding`;
  if (coding !== 'identity') {
    const etag = fieldValue(out, 'etag');
    if (etag !== undefined && !etag.startsWith('W/')) out.etag = `W/${etag}`;
    out['content-encoding'] = coding;
  }
  return { headers: out, body: encoded };
}

module.exports = {
  FLAG_NO_COMPRESS, FLAG_FORCE_COMPRESS, normalizeCompression, routeCompression, replyFlag, injectEncode,
};
