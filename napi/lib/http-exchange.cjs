'use strict';
// One request/response exchange of the node:http-compatible server (http.cjs, `nexurejs/http`).
//
// The request and the response are Node's own classes (http.IncomingMessage and
// http.ServerResponse, or the ones given to createServer), so that frameworks which re-point them
// to prototypes derived from Node's (Express) keep every method. What Node's server would wire
// to a net.Socket is wired to an EngineSocket: a Duplex standing for the exchange's connection.
// ServerResponse writes the response as it goes on the wire (status line, headers, chunked
// framing, HEAD's missing body: all Node's own rules) into that socket, and the socket hands the
// bytes to the engine as a **pre-framed** streamed response (PROTOCOL.md, "Streamed responses",
// flag bit 6): the engine keeps the connection's order, keep-alive and backpressure, and adds
// nothing. The body arrives through the engine's streamed request bodies (body-stream.cjs) and is
// pushed into the IncomingMessage with backpressure.
//
// One EngineSocket per exchange: req.socket is not the same object for two requests of one
// keep-alive connection (README, "nexurejs/http": what differs from Node).

const { Duplex } = require('node:stream');
const http = require('node:http');
const { RES, REQ, formatAddress } = require('./records.cjs');
const { STATE_DONE } = require('./reply.cjs');
const { ticketKey } = require('./events.cjs');
const { rawBody } = require('./body-stream.cjs');

const WINDOW = 512 * 1024;  // bytes handed to the engine and not yet credited back
const PIECE = 64 * 1024;    // bytes per record (inline in the staging buffer)

// Node's own flag for "a write returned false" on an OutgoingMessage: Node's server resets it
// when it emits 'drain' on the response; so does this one.
const kNeedDrain = Object.getOwnPropertySymbols(new http.OutgoingMessage())
  .find((s) => s.description === 'kNeedDrain');

function writeAfterEnd() {
  const err = new Error('write after end');
  err.code = 'ERR_STREAM_WRITE_AFTER_END';
  return err;
}

// Strings whose bytes are the same in UTF-8 as in `encoding` are staged as they are (the
// staging buffer writes strings as UTF-8); others are converted first.
const NON_ASCII = /[^\x00-\x7f]/;
function sameInUtf8(s, encoding) {
  if (encoding === undefined || encoding === null || encoding === 'utf8' || encoding === 'utf-8') return true;
  if (encoding === 'latin1' || encoding === 'binary' || encoding === 'ascii') return !NON_ASCII.test(s);
  return false;
}

function connReset() {
  const err = new Error('aborted');
  err.code = 'ECONNRESET';
  return err;
}

// The connection of one exchange, as Node's http machinery sees a net.Socket. Its two ends are
// kept as the record gave them and formatted when read (most requests never ask).
class EngineSocket extends Duplex {
  constructor(exchange, u8, off) {
    super({ allowHalfOpen: true, emitClose: true });
    this.exchange = exchange;
    const family = u8[off + REQ.FAMILY_BYTE];
    this.family = family;
    this.remotePort = family === 0 ? undefined : u8[off + REQ.REMOTE_PORT_BYTE] | (u8[off + REQ.REMOTE_PORT_BYTE + 1] << 8);
    this.localPort = family === 0 ? undefined : u8[off + REQ.LOCAL_PORT_BYTE] | (u8[off + REQ.LOCAL_PORT_BYTE + 1] << 8);
    // IPv4: the addresses as two numbers; IPv6: a copy of both fields.
    if (family === 4) {
      this.ends = null;
      this.remote4 = u8[off + REQ.REMOTE_ADDRESS_BYTE] * 16777216 + u8[off + REQ.REMOTE_ADDRESS_BYTE + 1] * 65536 +
        u8[off + REQ.REMOTE_ADDRESS_BYTE + 2] * 256 + u8[off + REQ.REMOTE_ADDRESS_BYTE + 3];
      this.local4 = u8[off + REQ.LOCAL_ADDRESS_BYTE] * 16777216 + u8[off + REQ.LOCAL_ADDRESS_BYTE + 1] * 65536 +
        u8[off + REQ.LOCAL_ADDRESS_BYTE + 2] * 256 + u8[off + REQ.LOCAL_ADDRESS_BYTE + 3];
    } else {
      this.ends = family === 6 ? u8.slice(off + REQ.REMOTE_ADDRESS_BYTE, off + REQ.LOCAL_ADDRESS_BYTE + 16) : null;
      this.remote4 = 0;
      this.local4 = 0;
    }
    this.encrypted = undefined;
    this.server = exchange.server;
    this.bytesWritten = 0;
    this.connecting = false;
    this._httpMessage = null;
    this._hadError = false;
    this.timer = null;
    this.timeoutMs = 0;
  }

  get remoteAddress() {
    return this.endText(this.remote4, 0);
  }

  get localAddress() {
    return this.endText(this.local4, 16);
  }

  get remoteFamily() {
    return this.family === 4 ? 'IPv4' : this.family === 6 ? 'IPv6' : undefined;
  }

  endText(v4, at) {
    if (this.family === 4) return `${Math.floor(v4 / 16777216)}.${(v4 >>> 16) & 255}.${(v4 >>> 8) & 255}.${v4 & 255}`;
    if (this.family === 6) return formatAddress(this.ends, at, 6);
    return undefined;
  }

  get readyState() {
    return this.destroyed ? 'closed' : 'open';
  }

  get pending() {
    return false;
  }

  address() {
    return { address: this.localAddress, family: this.remoteFamily, port: this.localPort };
  }

  setTimeout(ms, callback) {
    this.timeoutMs = ms;
    if (callback !== undefined) {
      if (ms === 0) this.removeListener('timeout', callback);
      else this.once('timeout', callback);
    }
    this.refreshTimer();
    return this;
  }

  refreshTimer() {
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
    if (this.timeoutMs > 0 && !this.destroyed) {
      this.timer = setTimeout(() => {
        this.timer = null;
        this.emit('timeout');
      }, this.timeoutMs);
      this.timer.unref();
    }
  }

  // The engine sets TCP_NODELAY on every connection and keeps its own keep-alive rules.
  setNoDelay() { return this; }
  setKeepAlive() { return this; }
  ref() { return this; }
  unref() { return this; }

  _read() {
    // The request body goes to the IncomingMessage (Exchange), not through the socket.
  }

  // The writing side is the exchange's, not Writable's machinery: what is written is staged on
  // the next tick (so cork() and uncork() only count), and the callbacks are called then, or
  // once the engine credits the window back.
  write(data, encoding, callback) {
    if (typeof encoding === 'function') {
      callback = encoding;
      encoding = undefined;
    }
    const ex = this.exchange;
    if (ex.ended || this.destroyed) {
      if (typeof callback === 'function') process.nextTick(callback, writeAfterEnd());
      return false;
    }
    ex.take(data, encoding, callback);
    return ex.inflight + ex.pendingBytes < WINDOW;
  }

  cork() {
    this._writableState.corked++;
  }

  uncork() {
    const state = this._writableState;
    if (state.corked > 0) state.corked--;
  }

  // socket.end(): what was written goes out, then the connection closes.
  end(data, encoding, callback) {
    if (typeof data === 'function') {
      callback = data;
      data = null;
    } else if (typeof encoding === 'function') {
      callback = encoding;
      encoding = undefined;
    }
    if (data !== null && data !== undefined) this.write(data, encoding);
    this.exchange.close(false);
    if (typeof callback === 'function') process.nextTick(callback);
    return this;
  }

  get writableLength() {
    return this.exchange.pendingBytes + this.exchange.inflight;
  }

  get writableHighWaterMark() {
    return WINDOW;
  }

  get writableCorked() {
    return this._writableState.corked;
  }

  _destroy(err, callback) {
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
    this.exchange.close(true);
    callback(err);
  }

  destroySoon() {
    this.end();
  }
}

// One exchange: builds the request and the response, moves the bytes both ways.
class Exchange {
  constructor(server, state, nreq) {
    this.server = server;
    this.state = state;
    this.worker = nreq._worker;
    const u32 = nreq._u32;
    const o = nreq._off >>> 2;
    this.ticket = [u32[o], u32[o + 1], u32[o + 2], u32[o + 3]];
    // As a stream-reply.cjs Watch: the engine's abort (fire) and writable (stream.credit)
    // events for this request reach the exchange through the app's Outbound, by this key (made
    // when it registers: most exchanges never do).
    this.key = null;
    this.stream = this;
    this.ctl = null;
    this.pending = [];      // Buffers taken from the socket, staged on the next tick
    this.pendingBytes = 0;
    this.callbacks = [];    // their write callbacks
    this.held = [];         // callbacks waiting for credit (the window is full)
    this.scheduled = false;
    this.inflight = 0;
    this.opened = false;
    this.ended = false;
    this.aborted = false;
    this.done = false;      // the response emitted 'finish'
    this.watching = false;  // registered with the app's Outbound (watchIfOpen)
    this.res = null;
    this.req = null;
    this.body = null;       // the streamed body's Readable, once read
    this.bodyStream = null; // the engine's BodyStream of a request whose body streams
    this.inlineBody = null; // the body of one that does not (none, with the route http.cjs uses)
    this.socket = new EngineSocket(this, nreq._u8, nreq._off);
  }

  // An exchange still open registers for the engine's abort and credit events: when it first
  // streams, or after the macrotask of its 'request' listeners (watchSoon). One answered within
  // it never registers: its place in the app's Outbound map (old-space, holding it) kept whole
  // request graphs alive through young-generation collections — Fastify's async hooks cost
  // 16 µs per request that way, 5.5 µs without. An abort that came meanwhile is taken now.
  watchIfOpen() {
    if (this.ended || this.watching) return;
    this.watching = true;
    const t = this.ticket;
    this.key = ticketKey(this.worker, t[0], t[1], t[2]);
    const outbound = this.state.outbound;
    if (outbound.recent.delete(this.key)) {
      this.abort();
      return;
    }
    outbound.live.set(this.key, this);
  }

  // The engine's abort event (Outbound.onAbort).
  fire() {
    this.abort();
  }

  // ---- the request ----

  request(nreq) {
    const server = this.server;
    const req = new server.IncomingMessageClass(this.socket);
    const minor = nreq._u8[nreq._off + REQ.MINOR_BYTE];
    req.httpVersionMajor = 1;
    req.httpVersionMinor = minor;
    req.httpVersion = minor === 0 ? '1.0' : '1.1';
    req.method = nreq.method;
    req.url = nreq.url;
    const raw = nreq._rawHeaders();
    if (raw.length !== 0) req._addHeaderLines(raw, raw.length);
    this.req = req;
    const bs = nreq._stream;
    if (bs === null) {
      // A request without a body (one with a body always streams: http.cjs's route). As on
      // Node's server it is complete only after the 'request' listeners ran (completeInline).
      if (nreq._word(REQ.BODY_LENGTH) !== 0) this.inlineBody = rawBody(nreq);
    } else {
      this.bodyStream = bs;
      // Read from the engine only when the application reads (a 100 Continue the client
      // waits for goes out then).
      req._read = () => this.readBody();
    }
    return req;
  }

  // The body of a request that does not stream, and its end: after the 'request' listeners.
  completeInline() {
    const req = this.req;
    if (this.bodyStream !== null || req.destroyed) return;
    if (this.inlineBody !== null) req.push(this.inlineBody);
    this.inlineBody = null;
    req.complete = true;
    req.push(null);
  }

  readBody() {
    const req = this.req;
    req._consuming = true;
    if (this.body !== null) {
      this.body.resume();
      return;
    }
    const bs = this.bodyStream;
    bs.start();  // sends the go-ahead to a client that waits for 100 Continue
    const body = bs.readable;
    this.body = body;
    body.on('data', (chunk) => {
      if (!req.push(chunk)) body.pause();
    });
    body.on('end', () => {
      req.complete = true;
      req.push(null);
    });
    body.on('error', (err) => {
      // The client left mid-body, broke its framing, or was too slow: as Node's server does
      // when the connection goes, the request is aborted.
      if (!req.destroyed) req.destroy(err.statusCode === 400 ? connReset() : err);
    });
  }

  // ---- the response ----

  response() {
    const server = this.server;
    const req = this.req;
    const res = new server.ServerResponseClass(req);
    res.shouldKeepAlive = this.keepAlive;
    res._keepAliveTimeout = server.keepAliveTimeout;
    res.assignSocket(this.socket);
    res.on('finish', () => this.finished());
    this.res = res;
    return res;
  }

  // What the socket was given (a string or bytes, and its write callback): staged on the next
  // tick, the callback called then (or once the engine credits the window back).
  take(data, encoding, callback) {
    let chunk = data;
    if (typeof data === 'string') {
      if (!sameInUtf8(data, encoding)) chunk = Buffer.from(data, encoding);
    } else if (!(data instanceof Uint8Array)) {
      throw new TypeError('nexurejs/http: a socket write must be a string, a Buffer or a Uint8Array');
    }
    this.pending.push(chunk);
    this.pendingBytes += chunk.length;
    this.socket.bytesWritten += chunk.length;
    if (typeof callback === 'function') this.callbacks.push(callback);
    if (!this.scheduled) {
      this.scheduled = true;
      // On the next tick: ServerResponse.end() writes its last bytes and sets `finished` in one
      // go, so that the end of the answer rides on the record of its last bytes.
      process.nextTick(flushExchange, this);
    }
  }

  flush() {
    this.scheduled = false;
    const list = this.pending;
    if (list.length === 0) return;
    const callbacks = this.callbacks;
    this.pending = [];
    this.callbacks = [];
    this.pendingBytes = 0;
    const res = this.res;
    // The answer is complete when its response has ended and has nothing more to write.
    const end = res !== null && res.finished && res.outputData.length === 0;
    this.stage(joined(list), end, false);
    this.socket.refreshTimer();
    if (this.inflight < WINDOW || this.ended) {
      for (let i = 0; i < callbacks.length; i++) callbacks[i]();
    } else {
      for (let i = 0; i < callbacks.length; i++) this.held.push(callbacks[i]);
    }
  }

  // Stages `body` (a string, bytes, or null); with `end` the answer ends after it, with `close`
  // (and not `end`) the connection closes after it (a cut answer, or socket.end()).
  stage(body, end, close) {
    const state = this.state;
    if (state.handle === null || state.stoppedSeen) {
      this.abort();
      return;
    }
    // A long string is written as bytes, in pieces that fit a record.
    if (typeof body === 'string' && body.length > PIECE / 3) body = Buffer.from(body, 'utf8');
    const length = body === null ? 0 : body.length;
    const res = this.res;
    // The record's status is for the after-response hooks (the bytes carry the real one); Node
    // lets an answer use any three-digit code, the records 100-599.
    let status = res !== null ? res.statusCode : 200;
    if (!(status >= 100 && status <= 599)) status = 200;
    let at = 0;
    do {
      const last = at + PIECE >= length;
      const piece = length === 0 ? null : last && at === 0 ? body : body.subarray(at, Math.min(at + PIECE, length));
      let flags;
      if (!this.opened) {
        this.opened = true;
        flags = RES.FLAG_STREAM_OPEN | RES.FLAG_STREAM_PREFRAMED;
        if (close || (res !== null && res._last)) flags |= RES.FLAG_CLOSE;
        if (close && last) flags |= RES.FLAG_STREAM_END;
      } else {
        flags = RES.FLAG_STREAM_DATA;
        if (close && last) flags |= RES.FLAG_CLOSE;
      }
      if (end && last) flags |= RES.FLAG_STREAM_END;
      state.stageRecord(this.worker, this.ticket, 0, status, flags, null, null, piece);
      at += PIECE;
    } while (at < length);
    if (end || close) {
      this.ended = true;
      this.unwatch();
    } else {
      this.inflight += length;
      this.watchIfOpen();  // its credits must find it
    }
    state.scheduleFlush();
  }

  // The engine took `n` bytes (a writable event).
  credit(n) {
    this.inflight -= n;
    if (this.inflight < 0) this.inflight = 0;
    if (this.inflight >= WINDOW) return;
    const held = this.held;
    if (held.length !== 0) {
      this.held = [];
      for (let i = 0; i < held.length; i++) held[i]();
    }
    const res = this.res;
    if (res !== null && res[kNeedDrain] && !res.finished) {
      res[kNeedDrain] = false;
      res.emit('drain');
    }
  }

  // The response emitted 'finish': the exchange is over (as Node's server's resOnFinish).
  finished() {
    this.done = true;
    if (!this.ended) {
      this.flush();
      if (!this.ended) this.stage(null, true, false);
    }
    const req = this.req;
    if (this.bodyStream !== null && !this.bodyStream.finished) {
      // Answered before the body was read to its end: the engine reads the rest and drops it.
      const bs = this.bodyStream;
      this.state.stageBodyControl(bs, RES.BODY_DISCARD, 0);
      this.state.bodies.answered(bs);
      if (this.body !== null) this.body.removeAllListeners('data');
      if (!req._consuming) {
        req._dumped = true;
        req.complete = true;
        req.push(null);
      }
    }
    if (!req._consuming && !req._readableState.resumeScheduled) req._dump();
    const res = this.res;
    res.detachSocket(this.socket);
    process.nextTick(closeResponse, res);
    // The exchange's socket ends with it: what was attached to it ('close' listeners, sets of
    // sockets a framework tracks) is let go, as when a connection closes.
    this.socket.destroy();
  }

  // socket.end() (`destroyed` false) or socket.destroy(): the connection closes after what was
  // written; an answer not complete by then is cut.
  close(destroyed) {
    if (!this.ended) {
      this.flush();
      if (!this.ended && !this.aborted) this.stage(null, false, true);
    }
    const held = this.held;
    this.held = [];
    for (let i = 0; i < held.length; i++) held[i](connReset());
    if (destroyed) this.connectionGone();
  }

  // The engine says the answer can no longer be given (the client left, the server stops).
  abort() {
    if (this.aborted) return;
    this.aborted = true;
    if (!this.ended) {
      // The engine may still hold the request's place (a client that only shut its side can
      // still read): it is given up, and the connection closes (a no-op when it is gone).
      this.pending = [];
      this.pendingBytes = 0;
      this.stage(null, false, true);
      this.ended = true;
    }
    this.unwatch();
    this.socket.destroy();
  }

  // As Node's server when a connection closes: a request whose answer has not finished is
  // aborted ('aborted', then 'close').
  connectionGone() {
    const req = this.req;
    if (req !== null && !this.done && !req.destroyed) req.destroy(connReset());
  }

  unwatch() {
    if (!this.watching) return;
    const live = this.state.outbound.live;
    if (live.get(this.key) === this) live.delete(this.key);
  }
}

// Exchanges to watch once the current macrotask is over (one setImmediate for all of them).
let toWatch = [];
function watchSoon(ex) {
  if (toWatch.length === 0) setImmediate(watchPending);
  toWatch.push(ex);
}

function watchPending() {
  const list = toWatch;
  toWatch = [];
  for (let i = 0; i < list.length; i++) list[i].watchIfOpen();
}

function flushExchange(ex) {
  ex.flush();
}

// The pieces taken since the last flush as one string (all strings) or one Buffer.
function joined(list) {
  if (list.length === 1) return list[0];
  let text = '';
  let strings = true;
  for (let i = 0; i < list.length; i++) {
    if (typeof list[i] !== 'string') {
      strings = false;
      break;
    }
    text += list[i];
  }
  if (strings) return text;
  return Buffer.concat(list.map((c) => (typeof c === 'string' ? Buffer.from(c, 'utf8') : c)));
}

function closeResponse(res) {
  if (res._closed) return;
  res.destroyed = true;
  res._closed = true;
  res.emit('close');
}

// Runs one request through `server`'s 'request' listeners (http.cjs's route handler).
function serve(server, state, nreq, nreply) {
  // Answered through the exchange's records, not through this reply.
  nreply._phase = STATE_DONE;
  const ex = new Exchange(server, state, nreq);
  ex.keepAlive = nreq._u8[nreq._off + REQ.KEEPALIVE_BYTE] === 1;
  const req = ex.request(nreq);
  const res = ex.response();
  watchSoon(ex);
  ex.socket.on('timeout', () => onTimeout(server, ex));
  if (server.timeout > 0) ex.socket.setTimeout(server.timeout);
  try {
    server.emit('request', req, res);
  } catch (err) {
    server.listenerFailed(err, res);
  }
  ex.completeInline();
}

// As Node's server: the socket's timeout goes to the request, the response and the server; if
// nobody listens, the connection is destroyed.
function onTimeout(server, ex) {
  const req = ex.req;
  const reqTimeout = req !== null && !req.complete && req.emit('timeout', ex.socket);
  const res = ex.res;
  const resTimeout = res !== null && res.emit('timeout', ex.socket);
  const serverTimeout = server.emit('timeout', ex.socket);
  if (!reqTimeout && !resTimeout && !serverTimeout) ex.socket.destroy();
}

module.exports = { serve };
