'use strict';
// The reply object handlers receive: status, headers and the payload of one response. Chainable;
// send() hands the payload to the app's pipeline (serialize → onSend hooks → response record).

const cookies = require('./cookies.cjs');
const { Headers } = require('./header-names.cjs');
const { ERRORS } = require('./errors.cjs');
const { replyFlag } = require('./compression.cjs');

// RFC 9110 token (a field name), and what a field value may not hold: CR, LF or NUL would split
// the message (the engine refuses them too, net/http/field_syntax.h), and a character above
// U+00FF has no latin1 byte.
const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;

// Names as given → their checked lower-case key: an app sets the same few names on every
// response, so the check runs once per name (bounded: names beyond it are checked every time).
const KEYS = new Map();
const KEYS_MAX = 512;

function keyOf(name) {
  let key = KEYS.get(name);
  if (key !== undefined) return key;
  key = String(name).toLowerCase();
  if (!TOKEN.test(key)) throw ERRORS.invalidHeader(name, 'a name must be a token (RFC 9110 5.6.2)');
  if (typeof name === 'string' && KEYS.size < KEYS_MAX) KEYS.set(name, key);
  return key;
}

function checkValue(name, value) {
  const s = typeof value === 'string' ? value : String(value);
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c === 13 || c === 10 || c === 0 || c > 255) {
      throw ERRORS.invalidHeader(name, 'a value may not contain CR, LF, NUL or characters above U+00FF');
    }
  }
  return s;
}

const STATE_OPEN = 0;     // nothing sent yet
const STATE_SENDING = 1;  // send() was called; onSend hooks may still run
const STATE_DONE = 2;     // the response was handed over (staging buffer or inject result)

class Reply {
  constructor(state, request) {
    this._state = state;  // the app's shared state (app.cjs)
    this.request = request;
    this.statusCode = 200;
    this._type = null;
    this._headers = null;
    this._close = false;
    this._length = null;  // Content-Length given for a streamed body (a decimal string)
    this._compress = 0;  // response record flag bits 8-9 (compression.cjs)
    this._phase = STATE_OPEN;
    this._errored = false;
    this._cookies = null;  // cookies.cjs: the Set-Cookie lines by name, domain and path
    this._timedOut = false;  // answered by the handler timeout (napi/lib/handler-timeout.cjs)
    this._waiting = null;    // handler-timeout.cjs: its entry in the waiting list, else null
  }

  // The request's logger (see Request#log).
  get log() {
    return this.request.log;
  }

  code(statusCode) {
    if (!Number.isInteger(statusCode) || statusCode < 100 || statusCode > 599) {
      throw new RangeError(`invalid status code ${statusCode}: an integer from 100 to 599`);
    }
    this.statusCode = statusCode;
    return this;
  }

  status(statusCode) {
    return this.code(statusCode);
  }

  // Sets a response header (names are case-insensitive and kept lower-case). An array value
  // sends the header once per element (set-cookie). Content-Length is computed by the engine
  // for whole bodies; for a streamed body (send(stream)) a Content-Length given here is sent
  // instead of chunked encoding (a body that ends short of it is cut); `connection: close`
  // closes the connection after this response. A name
  // that is not a token, or a value with CR, LF, NUL or a character above U+00FF, throws an
  // error with statusCode 500 and code FST_ERR_INVALID_HEADER (so it reaches the error
  // handler, instead of the engine refusing the response).
  header(name, value) {
    const key = keyOf(name);
    if (Array.isArray(value)) {
      value = value.map((v) => checkValue(key, v));
    } else if (typeof value !== 'number') {
      value = checkValue(key, value);
    }
    if (key === 'content-type') {
      this._type = String(value);
    } else if (key === 'connection') {
      this._close = String(value).toLowerCase() === 'close';
    } else if (key === 'content-length') {
      const n = typeof value === 'number' ? value : Number(String(value).trim());
      if (!Number.isSafeInteger(n) || n < 0) {
        throw new RangeError(`reply.header(): content-length must be a non-negative integer, got ${String(value)}`);
      }
      this._length = String(n);  // used by streamed bodies; whole bodies are measured
    } else if (key === 'transfer-encoding') {
      throw new TypeError('reply.header(): transfer-encoding is not supported; the engine ' +
        'sends every body with Content-Length');
    } else {
      if (this._headers === null) this._headers = new Headers();
      this._headers[key] = value;
    }
    return this;
  }

  headers(values) {
    for (const name of Object.keys(values)) this.header(name, values[name]);
    return this;
  }

  getHeader(name) {
    const key = String(name).toLowerCase();
    if (key === 'content-type') return this._type === null ? undefined : this._type;
    if (key === 'connection') return this._close ? 'close' : undefined;
    if (key === 'content-length') return this._length === null ? undefined : this._length;
    return this._headers === null ? undefined : this._headers[key];
  }

  hasHeader(name) {
    return this.getHeader(name) !== undefined;
  }

  removeHeader(name) {
    const key = String(name).toLowerCase();
    if (key === 'content-type') this._type = null;
    else if (key === 'connection') this._close = false;
    else if (key === 'content-length') this._length = null;
    else if (this._headers !== null) delete this._headers[key];
    return this;
  }

  getHeaders() {
    const out = { __proto__: null };
    if (this._headers !== null) Object.assign(out, this._headers);
    if (this._type !== null) out['content-type'] = this._type;
    if (this._close) out.connection = 'close';
    return out;
  }

  // compress(false): this answer is never compressed; compress(true): it is, whatever its type
  // and size, when its route compresses and the client accepts a coding. The engine does it.
  compress(on) {
    this._compress = replyFlag(on);
    return this;
  }

  type(contentType) {
    this._type = checkValue('content-type', contentType);
    return this;
  }

  redirect(url, statusCode = 302) {
    if (typeof url === 'number') [url, statusCode] = [statusCode, url];
    return this.code(statusCode).header('location', url).send();
  }

  // Sends the payload: a string (text/plain; charset=utf-8 unless a type was set), a Buffer or
  // Uint8Array (application/octet-stream), undefined (an empty body), anything else as JSON
  // (application/json; charset=utf-8). A second call is ignored with a warning.
  send(payload) {
    if (this._phase !== STATE_OPEN) {
      // (A handler that answers after its timeout was answered for: nothing to warn about.)
      if (!this._timedOut) this._state.warnAlreadySent();
      return this;
    }
    this._state.send(this, payload);
    return this;
  }

  // Sends a file (napi/README.md "Files"): `path` below options.root (or an absolute path), with
  // Content-Type, ETag, Last-Modified, 304, Range and HEAD handled; the engine sends the bytes.
  // A missing file goes to the app's not-found handling.
  sendFile(path, options) {
    if (this._phase !== STATE_OPEN) {
      this._state.warnAlreadySent();
      return this;
    }
    this._state.sendFile(this, path, options);
    return this;
  }

  // Server-Sent Events: `source` is an async iterable (or iterable) of events — strings (data
  // only) or { event, data, id, retry, comment } objects (data that is not a string is sent as
  // JSON; multi-line data becomes several data: lines). The head goes out at once with
  // Content-Type: text/event-stream, Cache-Control: no-cache and X-Accel-Buffering: no; each
  // event leaves as soon as it is produced. `options.heartbeat` (ms): a comment line is sent
  // after that long without an event. When the client leaves, the source's return() is called
  // and the timers are cleared (req.signal fires too).
  sse(source, options) {
    this._state.sse(this, source, options);
    return this;
  }

  // True once send() was called (or the response was otherwise produced).
  get sent() {
    return this._phase !== STATE_OPEN;
  }
}

cookies.install(Reply.prototype, cookies.replyMethods);

module.exports = { Reply, STATE_OPEN, STATE_SENDING, STATE_DONE };
