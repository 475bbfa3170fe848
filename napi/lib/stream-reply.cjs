'use strict';
// Streamed replies and req.signal (napi/PROTOCOL.md, "Streamed responses" and "Event records").
//
// reply.send(source) with a Node Readable, a web ReadableStream or any async iterable streams
// the source: a response record with FLAG_STREAM_OPEN (status, headers, first bytes), records
// with FLAG_STREAM_DATA, the last one with FLAG_STREAM_END. At most WINDOW bytes are in flight:
// the engine gives them back with **writable** events once the connection took them (at once
// while its output is under its high-water mark, after it drained otherwise), and the source is
// not read while the window is full — a slow client holds the source, not memory.
// An **abort** event (the client left, the handler timeout, the server stopping) destroys the
// source and fires req.signal; writes after it do nothing.
//
// req.signal is made on first use: the request is then watched (a Map entry until its answer is
// handed over); an abort that arrived before that is remembered for a while (RECENT entries).

const { finished } = require('node:stream');
const { RES, EVENT } = require('./records.cjs');
const { STATE_DONE } = require('./reply.cjs');
const { ticketKey } = require('./events.cjs');

const WINDOW = 512 * 1024;  // bytes in flight per stream
const PIECE = 64 * 1024;    // bytes per data record (inline in the staging buffer)
const RECENT = 4096;        // aborts remembered for requests not watched (yet)

// ---- what send() accepts -------------------------------------------------------------------

function invalidPayload(what) {
  const err = new TypeError(`reply.send() cannot send ${what}: send a string, a Buffer, a ` +
    'JSON-able value, a Node Readable, a web ReadableStream or an async iterable');
  err.code = 'NEXURE_ERR_REP_INVALID_PAYLOAD_TYPE';
  err.statusCode = 500;
  return err;
}

function nameOf(v) {
  const c = v.constructor;
  return c !== undefined && c !== null && typeof c.name === 'string' && c.name !== '' ? c.name : 'Object';
}

// True for a payload that streams (it has Symbol.asyncIterator: Node Readables, web
// ReadableStreams and async generators all do).
function isStreamPayload(payload) {
  return payload !== null && typeof payload === 'object' &&
    typeof payload[Symbol.asyncIterator] === 'function';
}

// The error for a payload that is not JSON-able data (null when it is): functions, symbols,
// bigints, promises, stream-like objects that do not stream (old-style streams, readers) and
// synchronous iterators — JSON.stringify would send their internals, or nothing.
function payloadError(payload) {
  switch (typeof payload) {
    case 'function': return invalidPayload('a function');
    case 'symbol': return invalidPayload('a symbol');
    case 'bigint': return invalidPayload('a bigint (convert it to a string or a number first)');
    case 'object': break;
    default: return null;
  }
  if (payload === null || Array.isArray(payload)) return null;
  if (typeof payload.then === 'function') {
    return invalidPayload('a Promise (await it first, or return it from the handler)');
  }
  if (typeof payload.pipe === 'function' || typeof payload.getReader === 'function' ||
      typeof payload.read === 'function') {
    return invalidPayload(`a stream-like ${nameOf(payload)} that is neither a Node Readable, a ` +
      'web ReadableStream nor an async iterable');
  }
  if (typeof payload.next === 'function' && typeof payload[Symbol.iterator] === 'function') {
    return invalidPayload('a synchronous iterator (send an array, or an async iterable)');
  }
  return null;
}

function toBytes(chunk) {
  if (typeof chunk === 'string') return Buffer.from(chunk, 'utf8');
  if (chunk instanceof Uint8Array) return chunk;
  if (chunk instanceof ArrayBuffer) return new Uint8Array(chunk);
  const err = new TypeError('a streamed reply\'s source yielded ' +
    `${chunk === null ? 'null' : typeof chunk}: each chunk must be a string, a Buffer or a Uint8Array`);
  err.code = 'NEXURE_ERR_REP_INVALID_CHUNK';
  throw err;
}

// A Node Readable (or a stream that behaves as one): read in flowing mode, paused while the
// window is full. Its 'data' events hand over each chunk as it was pushed, where its async
// iterator (read() of everything buffered) would concatenate buffered chunks into new ones.
function isNodeReadable(source) {
  return typeof source.on === 'function' && typeof source.pause === 'function' &&
    typeof source.resume === 'function' && typeof source.pipe === 'function' &&
    'readableFlowing' in source;
}

// An iterator over `source`. A web ReadableStream is read through its reader, so that an abort
// cancels it at once, even while a read is pending (its async iterator would wait for it).
function iterate(source) {
  if (typeof source.getReader === 'function' && typeof source.cancel === 'function') {
    const reader = source.getReader();
    return {
      next: () => reader.read(),
      return: () => reader.cancel().then(() => ({ done: true, value: undefined })),
    };
  }
  return source[Symbol.asyncIterator]();
}

function abortReason() {
  const err = new Error('the client went away, or the handler timed out, before the answer ' +
    'was complete');
  err.name = 'AbortError';
  err.code = 'NEXURE_ERR_ABORTED';
  return err;
}

// ---- watching requests (req.signal, open streams) ------------------------------------------

// A watched request: its AbortController (made when req.signal is first read) and its open
// stream, if any.
class Watch {
  constructor(key) {
    this.key = key;
    this.ctl = null;
    this.stream = null;
    this.aborted = false;
  }

  fire() {
    if (this.aborted) return;
    this.aborted = true;
    if (this.ctl !== null) this.ctl.abort(abortReason());
    if (this.stream !== null) this.stream.abort();
  }
}

class Outbound {
  constructor(state) {
    this.state = state;
    this.live = new Map();     // key → Watch
    this.recent = new Map();   // key → true: aborts for requests not watched
    state.events.on(EVENT.ABORT, (worker, e) => this.onAbort(ticketKey(worker, e.slot, e.generation, e.seq)));
    state.events.on(EVENT.WRITABLE, (worker, e) => {
      const w = this.live.get(ticketKey(worker, e.slot, e.generation, e.seq));
      if (w !== undefined && w.stream !== null && e.data.length >= 4) {
        w.stream.credit(e.data[0] | (e.data[1] << 8) | (e.data[2] << 16) | (e.data[3] * 0x1000000));
      }
    });
  }

  onAbort(key) {
    const w = this.live.get(key);
    if (w === undefined) {
      if (this.recent.size >= RECENT) this.recent.delete(this.recent.keys().next().value);
      this.recent.set(key, true);
      return;
    }
    this.live.delete(key);
    w.fire();
  }

  // The request's Watch, made (and registered, while its answer is still to come) on first use.
  watch(req) {
    let w = req._watch;
    if (w !== null) return w;
    if (req._worker < 0 || req._u32 === null) {
      // inject() (no engine to tell us), or a request already released: never aborted by the
      // engine (inject's own timeout fires it).
      w = new Watch(null);
    } else {
      const o = req._off >>> 2;
      const u32 = req._u32;
      const key = ticketKey(req._worker, u32[o], u32[o + 1], u32[o + 2]);
      w = new Watch(key);
      if (this.recent.has(key)) {
        this.recent.delete(key);
        w.aborted = true;
      } else {
        this.live.set(key, w);
      }
    }
    req._watch = w;
    return w;
  }

  signal(req) {
    const w = this.watch(req);
    if (w.ctl === null) {
      w.ctl = new AbortController();
      if (w.aborted) w.ctl.abort(abortReason());
    }
    return w.ctl.signal;
  }

  // The app's own handler timeout answered instead (handler-timeout.cjs): as the engine's
  // timeout does, it aborts the request (a signal read later is aborted already).
  timedOut(req) {
    const w = this.watch(req);
    if (typeof w.fire !== 'function') return;
    if (w.key !== null && this.live.get(w.key) === w) this.live.delete(w.key);
    w.fire();
  }

  // The server has stopped: every watched request is aborted (open streams destroy their
  // sources; nothing will credit them any more).
  abortAll() {
    const list = [...this.live.values()];
    this.live.clear();
    this.recent.clear();
    for (const w of list) w.fire();
  }

  // The answer was handed over: the request needs no watching any more (an open stream keeps it).
  answered(req) {
    const w = req._watch;
    if (w !== null && w.key !== null && w.stream === null) this.live.delete(w.key);
  }

  // Streams `source` as the reply's body. `sse`: open at once (the head does not wait for the
  // first chunk). Called with reply._phase SENDING.
  start(req, reply, source, sse) {
    const s = new OutStream(this, req, reply, source, sse);
    s.run();
  }
}

// ---- one streamed reply --------------------------------------------------------------------

class OutStream {
  constructor(outbound, req, reply, source, openAtOnce) {
    this.outbound = outbound;
    this.state = outbound.state;
    this.req = req;
    this.reply = reply;
    this.source = source;
    this.openAtOnce = openAtOnce;
    this.it = null;
    this.worker = req._worker;
    this.ticket = new Uint32Array(4);
    this.watch = null;
    this.inflight = 0;
    this.wake = null;        // resolves the wait for credit
    this.aborted = false;
    this.opened = false;
    this.ended = false;
    this.collected = null;   // inject(): the chunks
  }

  async run() {
    const req = this.req;
    const reply = this.reply;
    const state = this.state;
    req._running++;  // kept (copied out of the ring) until the stream is over
    try {
      if (req._inject === null) {
        const o = req._off >>> 2;
        for (let i = 0; i < 4; i++) this.ticket[i] = req._u32[o + i];
        this.watch = this.outbound.watch(req);
        if (this.watch.aborted) {
          this.destroySource();
          reply._phase = STATE_DONE;  // nobody to answer
          return;
        }
        this.watch.stream = this;
        if (this.watch.key !== null) this.outbound.live.set(this.watch.key, this.watch);
      } else {
        this.collected = [];
      }
      const status = reply.statusCode;
      if (req.method === 'HEAD' || status === 204 || status === 304 || status < 200) {
        // No body may follow: the source is not read at all.
        this.destroySource();
        this.open(null, true);
        return;
      }
      if (this.collected === null && isNodeReadable(this.source)) {
        await this.flow(this.source);
        return;
      }
      try {
        this.it = iterate(this.source);
      } catch (err) {
        this.before(err);
        return;
      }
      if (!this.openAtOnce) {
        // The head waits for the first chunk, so that a source failing at once (a file that
        // does not exist) is answered by the error handler instead of a cut 200.
        let r;
        let first;
        try {
          r = await this.it.next();
          if (!r.done) first = toBytes(r.value);
        } catch (err) {
          if (!this.aborted) this.before(err);
          return;
        }
        if (this.aborted) return;
        if (r.done) {
          this.open(null, true);
          return;
        }
        this.open(first, false);
      } else {
        this.open(null, false);
      }
      await this.pump();
    } finally {
      this.finish();
    }
  }

  // The source failed before the head went out: the ordinary error path answers.
  before(err) {
    this.destroySource();
    if (this.watch !== null) this.watch.stream = null;
    this.state.fail(this.req, this.reply, err);
  }

  async pump() {
    const it = this.it;
    for (;;) {
      if (this.aborted || this.ended) return;
      if (this.inflight >= WINDOW) {
        await new Promise((resolve) => { this.wake = resolve; });
        continue;
      }
      let r;
      let bytes;
      try {
        r = await it.next();
        if (this.aborted) return;
        if (!r.done) bytes = toBytes(r.value);
      } catch (err) {
        if (this.aborted) return;
        this.fail(err);
        return;
      }
      if (r.done) {
        this.write(null, true);
        return;
      }
      this.write(bytes, false);
    }
  }

  // Streams a Node Readable: each 'data' chunk is staged at once; the stream is paused while the
  // window is full and resumed by the credit. Resolves once it ended, failed or was aborted.
  flow(stream) {
    return new Promise((resolve) => {
      let first = !this.openAtOnce;  // the head waits for the first chunk (see run())
      if (!first) this.open(null, false);
      let cleanup = null;
      const done = (err) => {
        if (cleanup === null) return;
        cleanup();
        cleanup = null;
        stream.removeListener('data', onData);
        if (!this.aborted && !this.ended) {
          if (err) {
            if (first) this.before(err);
            else this.fail(err);
          } else if (first) {
            this.open(null, true);
          } else {
            this.write(null, true);
          }
        }
        resolve();
      };
      const onData = (chunk) => {
        if (this.aborted || this.ended) return;
        let bytes;
        try {
          bytes = toBytes(chunk);
        } catch (err) {
          done(err);
          return;
        }
        if (first) {
          first = false;
          this.open(bytes, false);
        } else {
          this.write(bytes, false);
        }
        if (this.inflight >= WINDOW && !this.aborted && !this.ended) {
          stream.pause();
          this.wake = () => {
            if (!this.aborted && !this.ended) stream.resume();
          };
        }
      };
      cleanup = finished(stream, done);
      stream.on('data', onData);
    });
  }

  // The head (and first bytes, and with `end` the whole body).
  open(first, end) {
    const reply = this.reply;
    this.opened = true;
    if (this.collected !== null) {
      if (first !== null) this.collected.push(first);
      if (end) this.deliverCollected();
      return;
    }
    let headers = reply._headers;
    if (reply._length !== null) {
      headers = headers === null ? { __proto__: null } : { __proto__: null, ...headers };
      headers['content-length'] = reply._length;
    }
    const flags = RES.FLAG_STREAM_OPEN | (reply._close ? RES.FLAG_CLOSE : 0);
    const piece = first === null ? null : first.length > PIECE ? first.subarray(0, PIECE) : first;
    const rest = first !== null && first.length > PIECE ? first.subarray(PIECE) : null;
    if (!this.stage(flags | (end && rest === null ? RES.FLAG_STREAM_END : 0), reply._type, headers, piece)) return;
    reply._phase = STATE_DONE;  // the head is handed over
    if (end && rest === null) this.ended = true;
    if (rest !== null) this.write(rest, end);
  }

  // Body bytes (null: none), and with `end` the end of the body.
  write(bytes, end) {
    if (this.aborted || this.ended) return;
    if (this.collected !== null) {
      if (bytes !== null) this.collected.push(bytes);
      if (end) this.deliverCollected();
      return;
    }
    if (bytes === null || bytes.length === 0) {
      if (end) this.stage(RES.FLAG_STREAM_DATA | RES.FLAG_STREAM_END, null, null, null);
      if (end) this.ended = true;
      return;
    }
    for (let at = 0; at < bytes.length; at += PIECE) {
      const last = at + PIECE >= bytes.length;
      const piece = at === 0 && last ? bytes : bytes.subarray(at, at + PIECE);
      const flags = RES.FLAG_STREAM_DATA | (end && last ? RES.FLAG_STREAM_END : 0);
      if (!this.stage(flags, null, null, piece)) return;
    }
    if (end) this.ended = true;
  }

  // A response record for this stream into the staging buffer; false when the server is gone
  // (the stream is then over).
  stage(flags, type, headers, body) {
    const state = this.state;
    if (state.handle === null || state.stoppedSeen) {
      this.abort();
      return false;
    }
    state.stageRecord(this.worker, this.ticket, 0, this.reply.statusCode, flags, type, headers, body);
    if (body !== null && (flags & RES.FLAG_STREAM_END) === 0) this.inflight += body.length;
    state.scheduleFlush();
    return true;
  }

  credit(n) {
    this.inflight -= n;
    if (this.inflight < 0) this.inflight = 0;
    if (this.wake !== null && this.inflight < WINDOW) {
      const wake = this.wake;
      this.wake = null;
      wake();
    }
  }

  // The source failed after the head went out: the error is logged and the body cut (chunked:
  // no last chunk; the connection closes), so that the client sees it is incomplete.
  fail(err) {
    this.state.errorLog.log(`the stream answering ${this.req.method} ${this.req._url ?? ''} failed; ` +
      'its body was cut', err);
    this.destroySource();
    if (this.collected !== null) {
      this.deliverCollected();
      return;
    }
    if (!this.ended) {
      this.stage(RES.FLAG_STREAM_DATA | RES.FLAG_CLOSE, null, null, null);
      this.ended = true;
    }
  }

  // The client left (or the server stops): destroy the source, stop writing.
  abort() {
    if (this.aborted) return;
    this.aborted = true;
    this.destroySource();
    if (this.opened && !this.ended && this.state.handle !== null && !this.state.stoppedSeen) {
      // Cut what the engine may still hold (a no-op for a connection that is gone).
      this.state.stageRecord(this.worker, this.ticket, 0, this.reply.statusCode,
        RES.FLAG_STREAM_DATA | RES.FLAG_CLOSE, null, null, null);
      this.state.scheduleFlush();
    }
    this.ended = true;
    if (this.wake !== null) {
      const wake = this.wake;
      this.wake = null;
      wake();
    }
  }

  destroySource() {
    const source = this.source;
    if (source === null) return;
    this.source = null;
    const it = this.it;
    try {
      if (typeof source.destroy === 'function') source.destroy();
    } catch (err) {
      this.state.errorLog.log('destroying a streamed reply\'s source failed', err);
    }
    if (it !== null && typeof it.return === 'function') {
      Promise.resolve().then(() => it.return()).catch((err) => {
        this.state.errorLog.log('closing a streamed reply\'s source failed', err);
      });
    } else if (it === null && typeof source.cancel === 'function' && !source.locked) {
      source.cancel().catch(() => {});
    } else if (it === null && typeof source.return === 'function') {
      Promise.resolve().then(() => source.return()).catch(() => {});
    }
  }

  deliverCollected() {
    if (this.ended) return;
    this.ended = true;
    const reply = this.reply;
    reply._phase = STATE_DONE;
    this.req._inject.finish(reply, Buffer.concat(this.collected));
  }

  finish() {
    const req = this.req;
    const w = this.watch;
    if (w !== null && w.stream === this) {
      w.stream = null;
      if (w.key !== null && this.outbound.live.get(w.key) === w) this.outbound.live.delete(w.key);
    }
    req._running--;
    if (this.opened) {
      this.state.afterCommit(req, this.reply);
      this.state.scheduleFlush();  // onResponse hooks run after the next flush
    }
  }
}

module.exports = { Outbound, isStreamPayload, payloadError, WINDOW, PIECE };
