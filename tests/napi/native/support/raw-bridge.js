'use strict';
// A minimal JavaScript side of napi/PROTOCOL.md over the raw binding, for the native tests: it
// decodes request records, writes response records into the staging buffer and runs the drain
// loop. The package's real JavaScript layer lives in napi/lib/; this one only exercises the
// native half.
const path = require('node:path');

const binding = require(path.join(__dirname, '..', '..', '..', '..', 'napi', 'lib', 'binding.cjs'));

const STAGING_BYTES = 256 * 1024;
const INLINE_MAX = 64 * 1024;

function latin1(u8, off, len) {
  return Buffer.from(u8.buffer, u8.byteOffset + off, len).toString('latin1');
}

// Decodes index entry i of the last pull into a plain object (copies everything it keeps).
function decodeRequest(views, index, i) {
  const worker = index[3 * i];
  const offset = index[3 * i + 1];
  const length = index[3 * i + 2];
  const u8 = new Uint8Array(views[worker], offset, length);
  const dv = new DataView(views[worker], offset, length);
  const u32 = (at) => dv.getUint32(at, true);
  const req = {
    worker,
    ticket: [u32(0), u32(4), u32(8), u32(12)],
    handler: u32(16),
    method: binding.methods[dv.getUint8(20)],
    minor: dv.getUint8(21),
    keepAlive: dv.getUint8(23) === 1,
    target: latin1(u8, u32(32), u32(36)),
    path: latin1(u8, u32(40), u32(44)),
    query: latin1(u8, u32(48), u32(52)),
    params: {},
    headers: [],
    body: Buffer.from(u8.subarray(u32(56), u32(56) + u32(28))),
    recordLength: u32(60),
    remotePort: dv.getUint16(64, true),
    localPort: dv.getUint16(66, true),
    family: dv.getUint8(68),
    requestFlags: dv.getUint8(69),
    engineAnswer: (dv.getUint8(69) & 2) !== 0,
    engineStatus: dv.getUint16(70, true),
    remoteAddress: Buffer.from(u8.subarray(72, 88)),
    localAddress: Buffer.from(u8.subarray(88, 104)),
    // a method the engine does not name (method byte 9): its name, else ''
    methodName: latin1(u8, u32(104), u32(108)),
  };
  const params = dv.getUint8(22);
  const headers = u32(24);
  let e = 112;
  for (let k = 0; k < params; k++, e += 16) {
    req.params[latin1(u8, u32(e), u32(e + 4))] = latin1(u8, u32(e + 8), u32(e + 12));
  }
  for (let k = 0; k < headers; k++, e += 16) {
    req.headers.push([latin1(u8, u32(e), u32(e + 4)), latin1(u8, u32(e + 8), u32(e + 12))]);
  }
  return req;
}

// Index entry i as an event record ({ worker, ticket, type, data }), or null for a request
// record (PROTOCOL.md "Event records": handler id 0xFFFFFFFF at offset 16).
function decodeEvent(views, index, i) {
  const worker = index[3 * i];
  const offset = index[3 * i + 1];
  const dv = new DataView(views[worker], offset, index[3 * i + 2]);
  if (dv.getUint32(16, true) !== 0xFFFFFFFF) return null;
  const length = dv.getUint32(24, true);
  return {
    worker,
    ticket: [dv.getUint32(0, true), dv.getUint32(4, true), dv.getUint32(8, true), dv.getUint32(12, true)],
    type: dv.getUint8(20),
    zero: [dv.getUint8(21), dv.getUint8(22), dv.getUint8(23)],
    data: Buffer.from(new Uint8Array(views[worker], offset + 32, length)),
    total: dv.getUint32(28, true),
  };
}

// Writes response records into the staging buffer; `take()` hands the byte count to pull/flush.
class Stager {
  constructor(handle) {
    this.handle = handle;
    this.ab = binding.staging(handle);
    this.u8 = new Uint8Array(this.ab);
    this.dv = new DataView(this.ab);
    this.pos = 0;
  }

  take() {
    const n = this.pos;
    this.pos = 0;
    return n;
  }

  // res: {status, headers: [[name, value]], body: Buffer|string, close, flags (overrides close)}
  write(req, res) {
    let body = res.body === undefined ? Buffer.alloc(0) : Buffer.from(res.body);
    const headers = res.headers || [];
    let block = 0;
    for (const [n, v] of headers) block += 4 + Buffer.byteLength(n, 'latin1') + Buffer.byteLength(v, 'latin1');
    let stashId = 0;
    if (body.length > INLINE_MAX) {
      stashId = binding.stash(this.handle, body);
    }
    const inline = stashId === 0 ? body.length : 0;
    const len = (48 + block + inline + 7) & ~7;
    if (len > STAGING_BYTES) throw new Error('record larger than the staging buffer');
    if (this.pos + len > STAGING_BYTES) binding.flush(this.handle, this.take());
    const p = this.pos;
    const dv = this.dv;
    dv.setUint32(p, len, true);
    dv.setUint16(p + 4, req.worker, true);
    dv.setUint16(p + 6, res.status ?? 200, true);
    for (let k = 0; k < 4; k++) dv.setUint32(p + 8 + 4 * k, req.ticket[k], true);
    dv.setUint32(p + 24, headers.length, true);
    dv.setUint32(p + 28, block, true);
    dv.setUint32(p + 32, body.length, true);
    dv.setUint32(p + 36, stashId === 0 ? 0 : 1, true);
    dv.setUint32(p + 40, stashId, true);
    dv.setUint32(p + 44, res.flags ?? (res.close ? 1 : 0), true);
    let w = p + 48;
    for (const [n, v] of headers) {
      const nb = Buffer.from(n, 'latin1');
      const vb = Buffer.from(v, 'latin1');
      dv.setUint16(w, nb.length, true);
      dv.setUint16(w + 2, vb.length, true);
      this.u8.set(nb, w + 4);
      this.u8.set(vb, w + 4 + nb.length);
      w += 4 + nb.length + vb.length;
    }
    if (stashId === 0) this.u8.set(body, w);
    this.pos = p + len;
  }
}

// A server over the raw binding. onRequest(req, respond) runs for every JS-route request;
// respond(res) may be called at once or later (then flushed from a microtask, as PROTOCOL.md
// describes). opts.pull = false: the drain never pulls (backpressure tests), until resume().
function rawServer(config, onRequest, opts = {}) {
  const state = {
    handle: null,
    stager: null,
    views: null,
    index: null,
    drains: 0,
    pulling: opts.pull !== false,
    flushScheduled: false,
    onStopped: null,
    events: [],
  };
  function flushLater() {
    if (state.flushScheduled) return;
    state.flushScheduled = true;
    queueMicrotask(() => {
      state.flushScheduled = false;
      if (state.handle && state.stager.pos > 0) binding.flush(state.handle, state.stager.take());
    });
  }
  function drain() {
    state.drains++;
    if (!state.stager) return;
    if (state.pulling) {
      let inBatch = true;
      for (;;) {
        const n = binding.pull(state.handle, state.stager.take(), 64);
        if (n === 0) break;
        for (let i = 0; i < n; i++) {
          const event = decodeEvent(state.views, state.index, i);
          if (event !== null) {
            // An event record (abort, writable, ...): kept for the test to look at.
            state.events.push(event);
            if (opts.onEvent) opts.onEvent(event);
            continue;
          }
          const req = decodeRequest(state.views, state.index, i);
          onRequest(req, (res) => {
            state.stager.write(req, res);
            if (!inBatch) flushLater();
          });
        }
      }
      // Answers given after the batch are flushed from a microtask.
      inBatch = false;
    }
    if (state.onStopped && binding.stopped(state.handle)) {
      const cb = state.onStopped;
      state.onStopped = null;
      cb();
    }
  }
  state.handle = binding.createServer(config, drain);
  state.start = () => {
    const info = binding.start(state.handle);
    state.stager = new Stager(state.handle);
    state.views = binding.requestViews(state.handle);
    state.index = binding.index(state.handle);
    return info;
  };
  state.resume = () => {
    state.pulling = true;
    drain();
  };
  // Resolves once every worker has finished (stop() first).
  state.whenStopped = () =>
    new Promise((resolve) => {
      if (binding.stopped(state.handle)) return resolve();
      state.onStopped = resolve;
    });
  state.close = async () => {
    binding.stop(state.handle);
    await state.whenStopped();
    binding.destroy(state.handle);
  };
  return state;
}

module.exports = { binding, decodeRequest, decodeEvent, Stager, rawServer, STAGING_BYTES };
