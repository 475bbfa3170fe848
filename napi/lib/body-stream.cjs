'use strict';
// Streamed request bodies: routes registered with { body: 'stream', bodyLimit }. The engine
// hands the request over at its head (request flag bit 0) and the body follows as event records
// in the same ring (PROTOCOL.md, "Event records": 3 data, 4 end, 5 error). Each request gets a
// BodyStream: a Node Readable fed from those events. Flow control is a credit window (the
// engine's kBodyWindow, 1 MiB): bytes the Readable takes below its high-water mark are credited
// back at once (a body-control response record), bytes it takes above it only when the
// consumer asks for more (_read). A consumer that stops reading therefore stops the engine from
// reading the socket, and TCP pushes back on the client: memory stays bounded.

const { Readable } = require('node:stream');
const { REQ, EVENT, RES } = require('./records.cjs');
const { httpError } = require('./errors.cjs');

const HIGH_WATER_CHUNKS = 16;
const HIGH_WATER_MARK = 64 * 1024;  // inject()'s byte streams
// Credit is handed back in pieces of at least this much (or at the end of a drain/flush).
const CREDIT_STEP = 128 * 1024;

function noop() {}

function ticketKey(slot, seq) {
  return slot * 4294967296 + seq;
}

// The body of one request, as a Readable with credit-based flow control.
class BodyStream {
  constructor(streams, req, worker) {
    this.streams = streams;
    this.worker = worker;
    const w = req._off >>> 2;
    const u32 = req._u32;
    this.ticket = Uint32Array.of(u32[w], u32[w + 1], u32[w + 2], u32[w + 3]);
    this.key = ticketKey(this.ticket[0], this.ticket[2]);
    this.expects = req.headers.expect !== undefined;
    this.started = false;   // the handler asked for the body (BodyControl start sent if needed)
    this.finished = false;  // end or error seen, or the answer went out
    this.held = 0;          // bytes taken above the high-water mark: credited on the next _read
    this.credit = 0;        // bytes to credit back with the next control record
    this.dirty = false;     // on streams.dirty
    this.error = null;
    // Object mode: each chunk is handed on as it came (a read or an iteration step never
    // concatenates the buffered chunks into a new Buffer, which would double the garbage);
    // the high-water mark counts chunks (of at most 64 KiB each).
    this.readable = new Readable({
      objectMode: true,
      highWaterMark: HIGH_WATER_CHUNKS,
      read: () => this.onRead(),
    });
    // An error nobody listens for must not crash the process (a client that leaves mid-body is
    // ordinary); pipeline(), for await and 'error' listeners still see it.
    this.readable.on('error', noop);
  }

  start() {
    if (this.started) return;
    this.started = true;
    // A client that sent Expect: 100-continue waits for the go-ahead (held by the engine).
    if (this.expects && !this.finished) this.streams.state.stageBodyControl(this, RES.BODY_START, 0);
  }

  onRead() {
    if (this.held !== 0) {
      this.give(this.held);
      this.held = 0;
    }
  }

  give(n) {
    if (this.finished) return;
    this.credit += n;
    if (!this.dirty) {
      this.dirty = true;
      this.streams.dirty.push(this);
    }
    if (this.credit >= CREDIT_STEP) this.streams.writeCredits();
    else this.streams.state.scheduleFlush();
  }

  data(chunk) {
    if (this.finished) return;
    if (this.readable.push(chunk)) this.give(chunk.length);
    else this.held += chunk.length;
  }

  end() {
    if (this.finished) return;
    this.finished = true;
    this.readable.push(null);
  }

  fail(err) {
    if (this.finished) return;
    this.finished = true;
    this.error = err;
    this.readable.destroy(err);
  }

  // The answer went out before the body ended: the engine drops the rest of the body.
  answered() {
    if (this.finished) return;
    this.finished = true;
    if (!this.readable.destroyed && !this.readable.readableEnded) {
      this.readable.destroy(httpError(500, 'the response was sent before the request body was read to its end'));
    }
  }
}

// Every open body of an app, by worker and ticket; the event decoder and the credit writer.
class BodyStreams {
  constructor(state) {
    this.state = state;
    this.byWorker = [];
    this.dirty = [];
  }

  open(req, worker) {
    const bs = new BodyStream(this, req, worker);
    let map = this.byWorker[worker];
    if (map === undefined) map = this.byWorker[worker] = new Map();
    map.set(bs.key, bs);
    req._stream = bs;
    return bs;
  }

  close(bs) {
    const map = this.byWorker[bs.worker];
    if (map !== undefined && map.get(bs.key) === bs) map.delete(bs.key);
  }

  // A body event (types 3-5, as records.readEvent() gives it: its data is a view into the
  // ring) of worker `w`; one for no open body is dropped (its answer went out, and the engine
  // drops the rest).
  event(w, event) {
    const map = this.byWorker[w];
    if (map === undefined) return;
    const bs = map.get(ticketKey(event.slot, event.seq));
    if (bs === undefined || bs.ticket[1] !== event.generation) return;
    const data = event.data;
    if (event.type === EVENT.BODY_DATA) {
      bs.data(Buffer.from(data));  // a copy: the ring's bytes are released at the next pull
    } else if (event.type === EVENT.BODY_END) {
      this.close(bs);
      bs.end();
    } else if (event.type === EVENT.BODY_ERROR) {
      this.close(bs);
      const status = data.length >= 4 ? data[0] | (data[1] << 8) | (data[2] << 16) | (data[3] << 24) : 400;
      const reason = data.length > 4 ? Buffer.from(data.buffer, data.byteOffset + 4, data.length - 4).toString('utf8')
        : 'the request body failed';
      bs.fail(httpError(status, `request body: ${reason}`));
    }
  }

  answered(bs) {
    this.close(bs);
    bs.answered();
  }

  // Stages the credit owed by every body that consumed bytes since the last call.
  writeCredits() {
    const list = this.dirty;
    if (list.length === 0) return;
    this.dirty = [];
    for (let i = 0; i < list.length; i++) {
      const bs = list[i];
      bs.dirty = false;
      const n = bs.credit;
      bs.credit = 0;
      if (n !== 0 && !bs.finished) this.state.stageBodyControl(bs, RES.BODY_CREDIT, n);
    }
  }
}

// For inject(): the payload fed as the body's stream (a Readable, an async iterable, a Buffer
// or a string), bounded by the route's bodyLimit like the engine (413).
function injectBody(req, payload, limit, onTooLarge) {
  const bs = {
    started: false,
    finished: false,
    error: null,
    readable: null,
    start() {
      if (bs.started) return;
      bs.started = true;
    },
    answered() {
      bs.finished = true;
      if (bs.readable !== null && !bs.readable.readableEnded) bs.readable.destroy();
    },
  };
  let seen = 0;
  async function* source() {
    const input = payload === null ? [] : typeof payload === 'string' || payload instanceof Uint8Array
      ? [payload] : payload;
    for await (let chunk of input) {
      if (typeof chunk === 'string') chunk = Buffer.from(chunk, 'utf8');
      seen += chunk.length;
      if (limit !== 0 && seen > limit) {
        const err = httpError(413, 'request body: larger than the route\'s bodyLimit');
        onTooLarge();
        throw err;
      }
      yield Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
    }
  }
  bs.readable = Readable.from(source(), { objectMode: false, highWaterMark: HIGH_WATER_MARK });
  bs.readable.on('error', noop);
  req._stream = bs;
  return bs;
}

// The buffered body's bytes (also for a `body: 'parse'` route, whose req.body is parsed).
function rawBody(req) {
  if (req._u32 === null) return Buffer.isBuffer(req._body) ? req._body : Buffer.alloc(0);
  const length = req._word(REQ.BODY_LENGTH);
  const start = req._off + req._word(REQ.BODY);
  return Buffer.from(req._u8.subarray(start, start + length));  // a copy of its own
}

// The request's body as a stream (req.stream()): the streamed body, or the buffered one.
function streamOf(req) {
  const bs = req._stream;
  if (bs === null) {
    const body = rawBody(req);
    return Readable.from(body.length === 0 ? [] : [body]);
  }
  bs.start();
  return bs.readable;
}

function isStreamRequest(u8, off) {
  return (u8[off + REQ.REQUEST_FLAGS_BYTE] & REQ.FLAG_BODY_STREAMS) !== 0;
}

module.exports = { BodyStreams, injectBody, streamOf, isStreamRequest, rawBody };
