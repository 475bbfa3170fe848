'use strict';
// The request object handlers receive. It is a thin view over the request's record
// (PROTOCOL.md): the record stays where the engine wrote it (the worker's request ring, shared
// memory) and every field is decoded the first time it is read, then cached. A request whose
// handler is still running when the next batch is pulled is copied out of the ring first
// (retain()), so it stays valid across `await`. A request that has finished (answered, its
// handler and hooks settled) is detached when its batch is released: fields not read by then
// throw instead of returning bytes of another request.

const { REQ, EMPTY, decodeComponent, parseQuery } = require('./records.cjs');
const { Headers, knownName } = require('./header-names.cjs');
const body = require('./body.cjs');
const cookies = require('./cookies.cjs');
const { SILENT } = require('./logger.cjs');

// req.body of a `body: 'parse'` request that has no body (Fastify's undefined).
const NO_BODY = Symbol('no body');
const { streamOf } = require('./body-stream.cjs');

const FIXED_WORDS = REQ.FIXED_BYTES >>> 2;


function released() {
  return new Error('nexurejs: this request was released after its response was sent and its ' +
    'handler finished; read the fields you need before that (see napi/lib/README.md, ' +
    '"Request lifetime")');
}

function streamed() {
  return new TypeError('nexurejs: this route streams its body ({ body: \'stream\' }): read it with ' +
    'req.stream() or for await (const chunk of req); req.body, text() and json() are for buffered bodies');
}

class Request {
  // `u8`/`u32`: views over the memory holding the record, which starts at byte `off`;
  // `worker`: the worker index the response goes back to (-1 for inject()); `route`: the
  // route entry (app.cjs); `methods`: the binding's method names.
  constructor(u8, u32, off, worker, route, method, id) {
    this._u8 = u8;
    this._u32 = u32;
    this._off = off;
    this._worker = worker;
    this._route = route;
    this.method = method;
    this.id = id;
    // 1 while the handler (or a hook, or the error handler) has not settled; see app.cjs.
    this._running = 1;
    this._url = undefined;
    this._path = undefined;
    this._query = undefined;
    this._params = undefined;
    this._headers = undefined;
    this._text = undefined;  // the record's strings, decoded at once (_str)
    this._textStart = 0;
    this._body = undefined;
    this._inject = null;
    // client.cjs: the connection's ends and the client's address, decoded on first read
    this._socket = undefined;
    this._ip = undefined;
    this._ips = undefined;
    this._cookies = undefined;
    this._log = undefined;
    this._logStart = 0;
    this._watch = null;  // req.signal and an open streamed reply (stream-reply.cjs)
    // body-stream.cjs: the streamed body of a { body: 'stream' } route, else null
    this._stream = null;
  }

  // The body as a Node Readable: for a { body: 'stream' } route, fed from the engine as it
  // arrives, with backpressure (a paused stream stops the engine reading the socket); for
  // other routes, the buffered body. The same stream every time.
  stream() {
    return streamOf(this);
  }

  // for await (const chunk of req) { ... }: the body's chunks (Buffers).
  [Symbol.asyncIterator]() {
    return streamOf(this)[Symbol.asyncIterator]();
  }

  _released() {
    return released();
  }

  // An AbortSignal that fires when the client goes away before the answer is complete, or the
  // handler timeout answers 503 instead (made on first use: free for requests that never ask).
  get signal() {
    const state = this._route.state;
    if (state === undefined || state === null) {
      // An answer the engine emulation gives (no handler runs): never aborted.
      if (this._watch === null) this._watch = { ctl: new AbortController() };
      return this._watch.ctl.signal;
    }
    return state.outbound.signal(this);
  }

  _word(i) {
    const u32 = this._u32;
    if (u32 === null) throw released();
    return u32[(this._off >>> 2) + i];
  }

  // The latin1 string at `at` (from the record's first byte), `length` bytes. The record's
  // strings (target, path, query, parameter and header names and values: PROTOCOL.md) sit
  // together before its body: the first call decodes them all with one native call, and every
  // field is a substring of that.
  _str(at, length) {
    const u32 = this._u32;
    if (u32 === null) throw released();
    let text = this._text;
    if (text === undefined) {
      const off = this._off;
      const w = off >>> 2;
      const start = REQ.FIXED_BYTES + REQ.ENTRY_BYTES * (this._u8[off + REQ.PARAMS_BYTE] + u32[w + REQ.HEADER_COUNT]);
      this._textStart = start;
      text = this._text = this._u8.latin1Slice(off + start, off + u32[w + REQ.BODY]);
    }
    const i = at - this._textStart;
    return text.slice(i, i + length);
  }

  // A latin1 string from the record's (offset, length) word pair at `i`.
  _latin1(i) {
    const u32 = this._u32;
    if (u32 === null) throw released();
    const w = (this._off >>> 2) + i;
    return this._str(u32[w], u32[w + 1]);
  }

  get url() {
    let v = this._url;
    if (v === undefined) v = this._url = this._latin1(REQ.TARGET);
    return v;
  }

  get path() {
    let v = this._path;
    if (v === undefined) v = this._path = this._latin1(REQ.PATH);
    return v;
  }

  // The query string without '?' ('' when none), undecoded.
  get querystring() {
    return this._latin1(REQ.QUERY);
  }

  get query() {
    let v = this._query;
    if (v === undefined) {
      const w = this._word(REQ.QUERY);
      const start = this._off + w;
      v = this._query = parseQuery(this._u8, start, start + this._word(REQ.QUERY_LENGTH));
    }
    return v;
  }

  get params() {
    let v = this._params;
    if (v === undefined) {
      if (this._u32 === null) throw released();
      const u8 = this._u8;
      const u32 = this._u32;
      const off = this._off;
      const base = off >>> 2;
      const count = u8[off + REQ.PARAMS_BYTE];
      v = {};
      for (let i = 0, e = base + FIXED_WORDS; i < count; i++, e += 4) {
        const vs = off + u32[e + 2];
        v[this._str(u32[e], u32[e + 1])] = decodeComponent(u8, vs, vs + u32[e + 3], false);
      }
      this._params = v;
    }
    return v;
  }

  // Header names lower-cased; a repeated header's values joined with ', ', except set-cookie,
  // which is an array of its values.
  get headers() {
    let v = this._headers;
    if (v === undefined) {
      if (this._u32 === null) throw released();
      const u8 = this._u8;
      const u32 = this._u32;
      const off = this._off;
      const count = u32[(off >>> 2) + REQ.HEADER_COUNT];
      v = new Headers();
      let e = (off >>> 2) + FIXED_WORDS + 4 * u8[off + REQ.PARAMS_BYTE];
      for (let i = 0; i < count; i++, e += 4) {
        const name = knownName(u8, off + u32[e], u32[e + 1]) ?? this._str(u32[e], u32[e + 1]).toLowerCase();
        const value = this._str(u32[e + 2], u32[e + 3]);
        const prev = v[name];
        if (name === 'set-cookie') {
          if (prev === undefined) v[name] = [value];
          else prev.push(value);
        } else {
          v[name] = prev === undefined ? value : prev + ', ' + value;
        }
      }
      this._headers = v;
    }
    return v;
  }

  header(name) {
    return this.headers[name.toLowerCase()];
  }

  // The headers as received, [name, value, name, value, ...] (Node's rawHeaders; nexurejs/http).
  _rawHeaders() {
    const u32 = this._u32;
    if (u32 === null) throw released();
    const off = this._off;
    const count = u32[(off >>> 2) + REQ.HEADER_COUNT];
    const raw = new Array(count * 2);
    let e = (off >>> 2) + FIXED_WORDS + 4 * this._u8[off + REQ.PARAMS_BYTE];
    for (let i = 0; i < count; i++, e += 4) {
      raw[2 * i] = this._str(u32[e], u32[e + 1]);
      raw[2 * i + 1] = this._str(u32[e + 2], u32[e + 3]);
    }
    return raw;
  }

  // '1.1' or '1.0'.
  get httpVersion() {
    if (this._u8 === null) throw released();
    return this._u8[this._off + REQ.MINOR_BYTE] === 0 ? '1.0' : '1.1';
  }

  // The route pattern that matched, as registered (with its prefix).
  get routePath() {
    return this._route.path;
  }

  // The route's `config` option ({} when none).
  get routeConfig() {
    return this._route.config;
  }

  // The body as a Buffer of its own (a copy: it stays valid whatever happens to the request), or
  // for a `body: 'parse'` route what body.cjs parsed.
  get body() {
    let v = this._body;
    if (v === NO_BODY) return undefined;
    if (v === undefined) {
      if (this._stream !== null) throw streamed();
      const length = this._word(REQ.BODY_LENGTH);
      if (length === 0) {
        v = EMPTY;
      } else {
        const start = this._off + this._word(REQ.BODY);
        v = Buffer.allocUnsafe(length);
        this._u8.copy(v, 0, start, start + length);
      }
      this._body = v;
    }
    return v;
  }

  _bodyLength() {
    const v = this._body;
    if (this._u32 === null && Buffer.isBuffer(v)) return v.length;
    return this._word(REQ.BODY_LENGTH);
  }

  _bodyText() {
    if (this._stream !== null) throw streamed();
    const v = this._body;
    if (this._u32 === null && Buffer.isBuffer(v)) return v.utf8Slice(0, v.length);
    const start = this._off + this._word(REQ.BODY);
    return this._u8.utf8Slice(start, start + this._word(REQ.BODY_LENGTH));
  }

  // Sets req.body for a `body: 'parse'` route; returns the Error to fail with, or null.
  _parseBody() {
    const r = body.parse(this);
    if (r instanceof Error) return r;
    this._body = r.value === undefined ? NO_BODY : r.value;
    return null;
  }

  // The body decoded as UTF-8.
  text() {
    try {
      return Promise.resolve(this._bodyText());
    } catch (err) {
      return Promise.reject(err);
    }
  }

  // The body parsed as JSON (body.cjs): a non-JSON Content-Type rejects with a 415 error unless
  // the route or app says `strictContentType: false`; an empty or invalid body with a 400 one.
  json() {
    return body.json(this);
  }

  // The Cookie header parsed (with the `cookie` package) on first access.
  get cookies() {
    let v = this._cookies;
    if (v === undefined) v = this._cookies = cookies.parseCookies(this);
    return v;
  }

  // A child of the app's logger with this request's id, made on first use (a no-op logger when
  // the app has none).
  get log() {
    let v = this._log;
    if (v === undefined) {
      const scope = this._route.scope;
      const state = scope === null ? null : scope._state;
      v = this._log = state === null || state.logger === null ? SILENT
        : state.logger.child({ [state.requestIdLogLabel]: this.id });
    }
    return v;
  }

  // Copies the record out of the ring into memory of its own (the ring's copy is about to be
  // released). Fields already decoded stay as they are.
  _retain() {
    const u8 = this._u8;
    const off = this._off;
    const total = this._u32[(off >>> 2) + REQ.TOTAL];
    const copy = Buffer.allocUnsafeSlow(total);
    u8.copy(copy, 0, off, off + total);
    this._u8 = copy;
    this._u32 = new Uint32Array(copy.buffer, 0, total >>> 2);
    this._off = 0;
  }

  _detach() {
    this._u8 = null;
    this._u32 = null;
  }

  toJSON() {
    return { id: this.id, method: this.method, url: this._u8 === null ? this._url : this.url };
  }
}

// req.ip, req.ips, req.socket, req.protocol, req.host, req.hostname (client.cjs).
require('./client.cjs').install(Request);
cookies.install(Request.prototype, cookies.requestMethods);

module.exports = { Request };
