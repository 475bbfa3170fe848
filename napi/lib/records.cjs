'use strict';
// The bridge's record formats (napi/PROTOCOL.md), as the JavaScript side reads and writes them:
// - request records (written by an engine worker into its request ring, read here in place);
//   encodeRequestRecord() builds the same layout in a Buffer for app.inject();
// - event records (abort, writable, a streamed body's pieces), in the same ring, told apart by
//   the handler id EVENT.HANDLER_ID: the decoder (readEvent) and encoder (encodeEventRecord);
// - response records, appended to the server's staging buffer by Staging.
// Plus the byte-level decoders the request object uses (percent-decoding, query strings).
// All integers are little-endian; the typed-array views assume a little-endian host (x86-64 and
// arm64 Linux, the only targets of the engine).

// ---- request record ------------------------------------------------------------------------
// u32 word indexes from the record's first byte.
const REQ = {
  SLOT: 0, GENERATION: 1, SEQ: 2, FLAGS: 3, HANDLER: 4,
  // byte offsets of the u8 fields
  METHOD_BYTE: 20, MINOR_BYTE: 21, PARAMS_BYTE: 22, KEEPALIVE_BYTE: 23,
  HEADER_COUNT: 6, BODY_LENGTH: 7, TARGET: 8, TARGET_LENGTH: 9, PATH: 10, PATH_LENGTH: 11,
  QUERY: 12, QUERY_LENGTH: 13, BODY: 14, TOTAL: 15,
  // byte offsets of the client-address and request-flag fields
  REMOTE_PORT_BYTE: 64, LOCAL_PORT_BYTE: 66, FAMILY_BYTE: 68, REQUEST_FLAGS_BYTE: 69,
  ENGINE_STATUS_BYTE: 70, REMOTE_ADDRESS_BYTE: 72, LOCAL_ADDRESS_BYTE: 88,
  FLAG_BODY_STREAMS: 1, FLAG_ENGINE_ANSWER: 2,
  // the name of a method the engine does not name (method byte OTHER_METHOD): offset, length
  METHOD_NAME: 26, METHOD_NAME_LENGTH: 27, OTHER_METHOD: 9,
  FIXED_BYTES: 112, ENTRY_BYTES: 16,
};

// ---- event record (shares the request ring; told apart by its handler id) -----------------
const EVENT = {
  HANDLER_ID: 0xffffffff,
  TYPE_BYTE: 20, DATA_LENGTH: 6, TOTAL: 7,  // u32 word indexes, except TYPE_BYTE
  FIXED_BYTES: 32,
  ABORT: 1, WRITABLE: 2, BODY_DATA: 3, BODY_END: 4, BODY_ERROR: 5,
};

// ---- response record -----------------------------------------------------------------------
const RES = {
  HEAD_BYTES: 48,
  // bodies larger than this are stashed (binding.stash) instead of written inline
  MAX_INLINE_BODY: 64 * 1024,
  KIND_INLINE: 0, KIND_STASHED: 1,
  FLAG_CLOSE: 1,
  // streamed responses (PROTOCOL.md "Streamed responses"): the head (+ first bytes), more
  // bytes, the end; a data record with FLAG_CLOSE and without FLAG_STREAM_END cuts the stream
  FLAG_STREAM_OPEN: 2, FLAG_STREAM_DATA: 4, FLAG_STREAM_END: 8,
  FLAG_BODY_CONTROL: 32,
  // with FLAG_STREAM_OPEN: the stream's bytes are the response as it goes on the wire, head and
  // framing included (nexurejs/http: Node's ServerResponse writes them)
  FLAG_STREAM_PREFRAMED: 64,
  // a body-control record's operation (its status field) and amount (its stash-id field)
  BODY_CREDIT: 0, BODY_START: 1, BODY_DISCARD: 2,
};

// ---- event record helpers (the layout: EVENT above) ------------------------------------------

// Whether the record at byte `off` (u32 view `u32`) is an event record.
function isEvent(u32, off) {
  return u32[(off >>> 2) + REQ.HANDLER] === EVENT.HANDLER_ID;
}

// An event record as an object: { slot, generation, seq, flags, type, data } where `data` is a
// view into `u8` (valid as long as the record is: copy what must outlive the next pull()).
function readEvent(u8, u32, off) {
  const w = off >>> 2;
  const start = off + EVENT.FIXED_BYTES;
  return {
    slot: u32[w], generation: u32[w + 1], seq: u32[w + 2], flags: u32[w + 3],
    type: u8[off + EVENT.TYPE_BYTE],
    data: u8.subarray(start, start + u32[w + EVENT.DATA_LENGTH]),
  };
}

// Builds an event record in a Buffer of its own, as a worker writes it (tests, inject).
function encodeEventRecord({ ticket = [0, 0, 0, 0], type, data = null }) {
  const length = data === null ? 0 : data.length;
  const buf = Buffer.alloc(align8(EVENT.FIXED_BYTES + length));
  const u32 = new Uint32Array(buf.buffer, buf.byteOffset, buf.length >>> 2);
  u32[0] = ticket[0];
  u32[1] = ticket[1];
  u32[2] = ticket[2];
  u32[3] = ticket[3];
  u32[REQ.HANDLER] = EVENT.HANDLER_ID;
  buf[EVENT.TYPE_BYTE] = type;
  u32[EVENT.DATA_LENGTH] = length;
  u32[EVENT.TOTAL] = buf.length;
  if (length > 0) buf.set(data, EVENT.FIXED_BYTES);
  return buf;
}

const EMPTY = Buffer.alloc(0);

function align8(n) {
  return (n + 7) & ~7;
}

// Hex digit value, or -1.
function hexValue(c) {
  if (c >= 48 && c <= 57) return c - 48;
  if (c >= 65 && c <= 70) return c - 55;
  if (c >= 97 && c <= 102) return c - 87;
  return -1;
}

// Scratch space for percent-decoding: decoded bytes never outnumber encoded ones.
let scratch = Buffer.allocUnsafe(4096);

// Decodes bytes [start, end) of `u8` as a URL component: %XX becomes the byte XX, and with
// `plus` a '+' becomes a space (query strings); the bytes are then read as UTF-8 (invalid
// sequences become U+FFFD). A malformed escape ("%zz", a lone "%") stays as written. Bytes
// without escapes and all ASCII come back as one latin1 slice, without copying.
function decodeComponent(u8, start, end, plus) {
  let i = start;
  for (; i < end; i++) {
    const c = u8[i];
    if (c === 37 /* % */ || c > 127 || (plus && c === 43 /* + */)) break;
  }
  if (i === end) return u8.latin1Slice(start, end);
  const n = end - start;
  if (scratch.length < n) scratch = Buffer.allocUnsafe(Math.max(n, scratch.length * 2));
  const out = scratch;
  let o = 0;
  for (let j = start; j < end; j++) {
    const c = u8[j];
    if (c === 37 && j + 2 < end) {
      const hi = hexValue(u8[j + 1]);
      const lo = hexValue(u8[j + 2]);
      if (hi >= 0 && lo >= 0) {
        out[o++] = (hi << 4) | lo;
        j += 2;
        continue;
      }
    } else if (c === 43 && plus) {
      out[o++] = 32;
      continue;
    }
    out[o++] = c;
  }
  return out.utf8Slice(0, o);
}

// Parses a query string (bytes [start, end), without the '?') into an object without a
// prototype: `a=1&b=x+y&a=2` → { a: ['1', '2'], b: 'x y' }. Keys and values are percent-decoded
// with '+' as space; a key without '=' has the value ''; empty pairs are skipped.
function parseQuery(u8, start, end) {
  const query = { __proto__: null };
  let pair = start;
  while (pair < end) {
    let amp = u8.indexOf(38 /* & */, pair);
    if (amp === -1 || amp > end) amp = end;
    if (amp > pair) {
      let eq = u8.indexOf(61 /* = */, pair);
      if (eq === -1 || eq > amp) eq = amp;
      const key = decodeComponent(u8, pair, eq, true);
      const value = eq < amp ? decodeComponent(u8, eq + 1, amp, true) : '';
      const prev = query[key];
      if (prev === undefined) query[key] = value;
      else if (typeof prev === 'string') query[key] = [prev, value];
      else prev.push(value);
    }
    pair = amp + 1;
  }
  return query;
}

// ---- addresses (the record's 16-byte address fields) ----------------------------------------

// The text of an address field: dotted IPv4, or IPv6 as RFC 5952 writes it (lower-case, the
// longest run of zero groups as '::'), an IPv4-mapped one as '::ffff:a.b.c.d' (as Node shows
// the clients of a dual-stack listener). '' for family 0.
function formatAddress(u8, at, family) {
  if (family === 4) return `${u8[at]}.${u8[at + 1]}.${u8[at + 2]}.${u8[at + 3]}`;
  if (family !== 6) return '';
  let mapped = u8[at + 10] === 0xff && u8[at + 11] === 0xff;
  for (let i = 0; i < 10 && mapped; i++) if (u8[at + i] !== 0) mapped = false;
  if (mapped) return `::ffff:${u8[at + 12]}.${u8[at + 13]}.${u8[at + 14]}.${u8[at + 15]}`;
  const groups = new Array(8);
  for (let i = 0; i < 8; i++) groups[i] = (u8[at + 2 * i] << 8) | u8[at + 2 * i + 1];
  let best = -1;
  let bestLength = 1;  // a single zero group is not compressed
  for (let i = 0; i < 8;) {
    if (groups[i] !== 0) { i++; continue; }
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > bestLength) { best = i; bestLength = j - i; }
    i = j;
  }
  const hex = (list) => list.map((g) => g.toString(16)).join(':');
  if (best === -1) return hex(groups);
  return `${hex(groups.slice(0, best))}::${hex(groups.slice(best + bestLength))}`;
}

// The family (4 or 6) and 16 address bytes of an IP address's text; null when it is neither.
function parseAddress(text) {
  const bytes = Buffer.alloc(16);
  const v4 = (s, out, at) => {
    const parts = s.split('.');
    if (parts.length !== 4) return false;
    for (let i = 0; i < 4; i++) {
      if (!/^\d{1,3}$/.test(parts[i]) || Number(parts[i]) > 255) return false;
      out[at + i] = Number(parts[i]);
    }
    return true;
  };
  if (v4(text, bytes, 0)) return { family: 4, bytes };
  const zone = text.indexOf('%');
  const s = zone === -1 ? text : text.slice(0, zone);
  const halves = s.split('::');
  if (halves.length > 2) return null;
  const groupsOf = (part) => (part === '' ? [] : part.split(':'));
  const head = groupsOf(halves[0]);
  const tail = halves.length === 2 ? groupsOf(halves[1]) : [];
  const words = [];
  const take = (list) => {
    for (let i = 0; i < list.length; i++) {
      const g = list[i];
      if (i === list.length - 1 && g.includes('.')) {
        const b = Buffer.alloc(4);
        if (!v4(g, b, 0)) return false;
        words.push((b[0] << 8) | b[1], (b[2] << 8) | b[3]);
      } else {
        if (!/^[0-9a-fA-F]{1,4}$/.test(g)) return false;
        words.push(parseInt(g, 16));
      }
    }
    return true;
  };
  if (!take(head)) return null;
  const headWords = words.length;
  if (!take(tail)) return null;
  const tailWords = words.length - headWords;
  if (halves.length === 1 ? words.length !== 8 : words.length > 7) return null;
  const all = words.slice(0, headWords).concat(new Array(8 - headWords - tailWords).fill(0),
    words.slice(headWords));
  for (let i = 0; i < 8; i++) bytes.writeUInt16BE(all[i], 2 * i);
  return { family: 6, bytes };
}

// Builds a request record (PROTOCOL.md) in a Buffer of its own, as a worker would write it into
// its ring: used by app.inject() and by tests. `params` and `headers` are arrays of [name, value]
// strings; `target` is the request-target ('/a?x=1'), ASCII; `body` a Buffer or null. Names and
// values are written as latin1 (like the bytes received from a socket).
// `remote`/`local`: { address, port } of the connection's ends (the address as text; family 0
// when it is not an IP address). `streams`: the body streams (body events follow).
// `engineStatus`: the status of an answer the engine hands over (request flag bit 1), else 0.
function encodeRequestRecord({ ticket = [0, 0, 0, 0], handler, method, minor = 1, keepAlive = true,
                               target, params = [], headers = [], body = null,
                               remote = null, local = null, streams = false, engineStatus = 0 }) {
  const bodyLength = body === null ? 0 : body.length;
  const entries = params.length + headers.length;
  let strings = target.length + bodyLength;
  for (let i = 0; i < params.length; i++) strings += params[i][0].length + params[i][1].length;
  for (let i = 0; i < headers.length; i++) strings += headers[i][0].length + headers[i][1].length;
  const total = REQ.FIXED_BYTES + entries * REQ.ENTRY_BYTES + strings;
  const buf = Buffer.alloc(align8(total));
  const u32 = new Uint32Array(buf.buffer, buf.byteOffset, buf.length >>> 2);
  u32[REQ.SLOT] = ticket[0];
  u32[REQ.GENERATION] = ticket[1];
  u32[REQ.SEQ] = ticket[2];
  u32[REQ.FLAGS] = ticket[3];
  u32[REQ.HANDLER] = handler;
  buf[REQ.METHOD_BYTE] = method;
  buf[REQ.MINOR_BYTE] = minor;
  buf[REQ.PARAMS_BYTE] = params.length;
  buf[REQ.KEEPALIVE_BYTE] = keepAlive ? 1 : 0;
  u32[REQ.HEADER_COUNT] = headers.length;
  u32[REQ.BODY_LENGTH] = bodyLength;
  const putEnd = (end, portAt, addressAt) => {
    if (end === null) return 0;
    buf.writeUInt16LE(end.port & 0xffff, portAt);
    const parsed = typeof end.address === 'string' ? parseAddress(end.address) : null;
    if (parsed === null) return 0;
    parsed.bytes.copy(buf, addressAt);
    return parsed.family;
  };
  buf[REQ.FAMILY_BYTE] = putEnd(remote, REQ.REMOTE_PORT_BYTE, REQ.REMOTE_ADDRESS_BYTE);
  putEnd(local, REQ.LOCAL_PORT_BYTE, REQ.LOCAL_ADDRESS_BYTE);
  buf[REQ.REQUEST_FLAGS_BYTE] = streams ? REQ.FLAG_BODY_STREAMS : 0;
  if (engineStatus !== 0) {
    buf[REQ.REQUEST_FLAGS_BYTE] |= REQ.FLAG_ENGINE_ANSWER;
    buf.writeUInt16LE(engineStatus, REQ.ENGINE_STATUS_BYTE);
  }

  let pos = REQ.FIXED_BYTES + entries * REQ.ENTRY_BYTES;
  const put = (s) => {
    const at = pos;
    pos += buf.latin1Write(s, pos);
    return at;
  };
  const q = target.indexOf('?');
  const targetAt = put(target);
  u32[REQ.TARGET] = targetAt;
  u32[REQ.TARGET_LENGTH] = target.length;
  u32[REQ.PATH] = targetAt;
  u32[REQ.PATH_LENGTH] = q === -1 ? target.length : q;
  u32[REQ.QUERY] = q === -1 ? targetAt + target.length : targetAt + q + 1;
  u32[REQ.QUERY_LENGTH] = q === -1 ? 0 : target.length - q - 1;
  let e = REQ.FIXED_BYTES >>> 2;
  const list = params.concat(headers);
  for (let i = 0; i < list.length; i++, e += 4) {
    const [name, value] = list[i];
    u32[e] = put(name);
    u32[e + 1] = name.length;
    u32[e + 2] = put(value);
    u32[e + 3] = value.length;
  }
  u32[REQ.BODY] = pos;
  if (bodyLength > 0) body.copy(buf, pos);
  u32[REQ.TOTAL] = total;
  return buf;
}

// Bytes one header takes in a response record's header block.
function headerBytes(name, value) {
  return 4 + name.length + value.length;
}

// The server's staging buffer (binding.staging(handle)) and the position of the next record.
// write() appends one response record; it returns false, writing nothing, when the record does
// not fit in the space left (the caller flushes and writes again).
class Staging {
  constructor(arrayBuffer) {
    this.u8 = Buffer.from(arrayBuffer);
    this.u16 = new Uint16Array(arrayBuffer);
    this.u32 = new Uint32Array(arrayBuffer);
    this.capacity = arrayBuffer.byteLength;
    this.pos = 0;
    // The Content-Type header entry last written, encoded (most answers repeat one of a few
    // types: one copy instead of a character loop), and a few more by value.
    this.type = null;
    this.typeEntry = null;
    this.typeEntries = new Map();
  }

  // The encoded header-block entry of Content-Type `type`.
  contentTypeEntry(type) {
    if (type === this.type) return this.typeEntry;
    let e = this.typeEntries.get(type);
    if (e === undefined) {
      e = Buffer.allocUnsafe(headerBytes('content-type', type));
      putHeader(e, 0, 'content-type', type);
      if (type.length <= 256) {
        if (this.typeEntries.size >= 32) this.typeEntries.clear();
        this.typeEntries.set(type, e);
      }
    }
    this.type = type;
    this.typeEntry = e;
    return e;
  }

  // A response for the request whose ticket is the 4 words at `ticketU32[ticketAt..]`.
  // `type`: the Content-Type or null. `headers`: an object of lower-case names to string,
  // number or array values, or null. `body`: an inline body (string, written as UTF-8, or a
  // Uint8Array) or null; with `stashId` !== 0 the body is stashed and `stashLength` long.
  write(worker, ticketU32, ticketAt, status, flags, type, headers, body, stashId, stashLength) {
    let count = 0;
    let hbytes = 0;
    if (type !== null) {
      count = 1;
      hbytes = headerBytes('content-type', type);
    }
    if (headers !== null) {
      for (const name in headers) {
        const v = headers[name];
        if (typeof v === 'object') {
          for (let i = 0; i < v.length; i++) hbytes += headerBytes(name, String(v[i]));
          count += v.length;
        } else {
          hbytes += headerBytes(name, typeof v === 'string' ? v : String(v));
          count++;
        }
      }
    }
    let worst = RES.HEAD_BYTES + hbytes;
    if (body !== null) worst += typeof body === 'string' ? body.length * 3 : body.length;
    const p = this.pos;
    if (p + worst > this.capacity) {
      if (p === 0) throw new RangeError('response too large for the staging buffer');
      return false;
    }

    const u8 = this.u8;
    const w = p >>> 2;
    const u32 = this.u32;
    let o = p + RES.HEAD_BYTES;
    if (type !== null) {
      const e = this.contentTypeEntry(type);
      u8.set(e, o);
      o += e.length;
    }
    if (headers !== null) {
      for (const name in headers) {
        const v = headers[name];
        if (typeof v === 'object') {
          for (let i = 0; i < v.length; i++) o = putHeader(u8, o, name, String(v[i]));
        } else {
          o = putHeader(u8, o, name, typeof v === 'string' ? v : String(v));
        }
      }
    }
    const blockEnd = o;
    let bodyLength;
    if (stashId !== 0) {
      bodyLength = stashLength;
    } else if (body === null) {
      bodyLength = 0;
    } else if (typeof body === 'string') {
      bodyLength = body.length <= SHORT_BODY ? putAscii(u8, o, body) : -1;
      if (bodyLength < 0) bodyLength = u8.utf8Write(body, o);
      o += bodyLength;
    } else {
      u8.set(body, o);
      bodyLength = body.length;
      o += bodyLength;
    }
    const length = align8(o - p);
    u32[w] = length;
    this.u16[(p >>> 1) + 2] = worker;
    this.u16[(p >>> 1) + 3] = status;
    u32[w + 2] = ticketU32[ticketAt];
    u32[w + 3] = ticketU32[ticketAt + 1];
    u32[w + 4] = ticketU32[ticketAt + 2];
    u32[w + 5] = ticketU32[ticketAt + 3];
    u32[w + 6] = count;
    u32[w + 7] = blockEnd - p - RES.HEAD_BYTES;
    u32[w + 8] = bodyLength;
    u32[w + 9] = stashId !== 0 ? RES.KIND_STASHED : RES.KIND_INLINE;
    u32[w + 10] = stashId;
    u32[w + 11] = flags;
    this.pos = p + length;
    return true;
  }
}

// A body-control record (PROTOCOL.md, response flag bit 5) for the request whose ticket is the
// 4 words `ticket`: `op` (RES.BODY_CREDIT, BODY_START, BODY_DISCARD) in the status field,
// `value` (credited bytes) in the stash-id field. False when it does not fit (flush first).
Staging.prototype.control = function control(worker, ticket, op, value) {
  const p = this.pos;
  if (p + RES.HEAD_BYTES > this.capacity) return false;
  const w = p >>> 2;
  const u32 = this.u32;
  u32[w] = RES.HEAD_BYTES;
  this.u16[(p >>> 1) + 2] = worker;
  this.u16[(p >>> 1) + 3] = op;
  u32[w + 2] = ticket[0];
  u32[w + 3] = ticket[1];
  u32[w + 4] = ticket[2];
  u32[w + 5] = ticket[3];
  u32[w + 6] = 0;
  u32[w + 7] = 0;
  u32[w + 8] = 0;
  u32[w + 9] = RES.KIND_INLINE;
  u32[w + 10] = value;
  u32[w + 11] = RES.FLAG_BODY_CONTROL;
  this.pos = p + RES.HEAD_BYTES;
  return true;
};

function putHeader(u8, o, name, value) {
  const n = name.length;
  const v = value.length;
  if (n > 0xffff || v > 0xffff) {
    throw new RangeError(`response header ${name.slice(0, 64)} is too long`);
  }
  u8[o] = n & 0xff;
  u8[o + 1] = n >>> 8;
  u8[o + 2] = v & 0xff;
  u8[o + 3] = v >>> 8;
  o += 4;
  o = putLatin1(u8, o, name);
  return putLatin1(u8, o, value);
}

// Strings up to these lengths are written by a loop here rather than by Buffer's latin1Write or
// utf8Write, a native call each, which costs more than the loop for a header or a small JSON
// answer (most of a hooked request's staging time went to those calls). Beyond them the native
// call is cheaper: a 130-character answer took 343 ns by the loop (815 ns when it was a
// concatenation, whose characters the loop reads one by one through the rope) and 78 ns by
// utf8Write.
const SHORT_LATIN1 = 32;
const SHORT_BODY = 64;

// Writes `s` (characters up to U+00FF: response headers are checked) at `o`; returns the end.
function putLatin1(u8, o, s) {
  const n = s.length;
  if (n > SHORT_LATIN1) return o + u8.latin1Write(s, o);
  for (let i = 0; i < n; i++) u8[o + i] = s.charCodeAt(i);
  return o + n;
}

// Writes `s` at `o` if it is all ASCII (its UTF-8 is itself) and returns its length; -1 (with
// garbage written) when it is not, for the caller to write it as UTF-8.
function putAscii(u8, o, s) {
  const n = s.length;
  for (let i = 0; i < n; i++) {
    const c = s.charCodeAt(i);
    if (c > 0x7f) return -1;
    u8[o + i] = c;
  }
  return n;
}

module.exports = {
  REQ, RES, EVENT, EMPTY, align8, decodeComponent, parseQuery, encodeRequestRecord, Staging,
  formatAddress, parseAddress, isEvent, readEvent, encodeEventRecord,
};
