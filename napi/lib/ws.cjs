'use strict';
// WebSocket routes: app.ws(path, behaviour), the WebSocket object the handlers get, and
// app.publish() (napi/README.md "WebSocket"; the records: napi/PROTOCOL.md "WebSocket records").
//
// The engine runs the protocol on its workers (net/ws/, the handshake, framing, permessage-
// deflate, pings, topics); JavaScript sees whole messages. They arrive as event records in the
// request rings, read in the drain loop's batches with everything else — no native call per
// message — and what JavaScript does with a socket (send, end, subscribe, publish) leaves as
// records in the staging buffer, applied by the socket's worker. So a WebSocket object is a
// handle (the engine's 64-bit socket id and its worker) plus what this thread knows of it: open
// or closed, its topics, and the bytes it handed over since the worker last reported.

const { RES, align8, formatAddress } = require('./records.cjs');
const { STATE_DONE } = require('./reply.cjs');
const { statusOf, reasonPhrase } = require('./errors.cjs');

// Event types (PROTOCOL.md): the ticket is [id low, id high, route id, flags].
const EV = { OPEN: 32, MESSAGE: 33, PIECE: 34, DRAIN: 35, BACKPRESSURE: 36, CLOSE: 37 };
// Response records: flag bit 10, the operation in the status field.
const FLAG_WS = 1 << 10;
const OP = {
  SEND: 1, END: 2, CLOSE: 3, SUBSCRIBE: 4, UNSUBSCRIBE: 5, PUBLISH: 6, PUBLISH_ALL: 7, CHECK: 8,
  ACCEPT: 9, REFUSE: 10,
};

// What ws.send() returns (the values of uWebSockets.js).
const BACKPRESSURE = 0;  // queued, but over maxBackpressure: wait for drain()
const SENT = 1;          // queued
const DROPPED = 2;       // not sent: the socket is closed or closing

// Loaded by the app before any socket exists (a lazy require keeps this module loadable alone).
function binding() {
  return require('./binding.cjs');
}

const MAX_TOPIC = 1024;
// Sockets whose slot (the low half of their id) is below this are kept in an array by slot.
const MAX_SLOT = 1 << 22;
const KIB = 1024;
const MIB = 1024 * KIB;
// The bound of a worker's backlog: bytes of answers and operations the native side holds for a
// worker — records its full response ring could not take (a synchronous loop of sends or
// publishes outruns it; the worker takes them only when this thread hands them over again), and
// stashed bodies it has not framed yet. Beyond it send() returns DROPPED and publish() false,
// without handing the message over (PROTOCOL.md "Backpressure").
const BACKLOG_LIMIT = 16 * MIB;
// Stashed bytes staged without a hand-over, at most (then stage() hands them over).
const STASH_FLUSH = 1 * MIB;
// Where the pull index carries the backlog of worker w: index[BACKLOG_AT + w] (js_side.h).
const BACKLOG_AT = 3 * 1024;

const BEHAVIOUR_KEYS = new Set([
  'open', 'message', 'drain', 'close', 'upgrade', 'maxPayload', 'maxPayloadLength', 'idleTimeout',
  'maxBackpressure', 'closeOnBackpressureLimit', 'sendPingsAutomatically', 'compression',
  'subprotocols', 'borrowMessages',
]);
const COMPRESSION_KEYS = new Set([
  'serverNoContextTakeover', 'clientNoContextTakeover', 'serverMaxWindowBits', 'level', 'threshold',
]);

function integer(where, name, v, low, high) {
  if (!Number.isInteger(v) || v < low || v > high) {
    throw new RangeError(`${where}: ${name} must be an integer from ${low} to ${high}, got ${String(v)}`);
  }
  return v;
}

function compressionOption(where, c) {
  if (c === undefined || c === false) return { enabled: false };
  if (c === true) return { enabled: true };
  if (c === null || typeof c !== 'object') {
    throw new TypeError(`${where}: compression must be a boolean or an object { ${[...COMPRESSION_KEYS].join(', ')} }`);
  }
  for (const k of Object.keys(c)) {
    if (!COMPRESSION_KEYS.has(k)) throw new TypeError(`${where}: unknown compression option ${k} (known: ${[...COMPRESSION_KEYS].join(', ')})`);
  }
  const out = { enabled: true };
  for (const k of ['serverNoContextTakeover', 'clientNoContextTakeover']) {
    if (c[k] === undefined) continue;
    if (typeof c[k] !== 'boolean') throw new TypeError(`${where}: compression.${k} must be a boolean`);
    out[k] = c[k];
  }
  if (c.serverMaxWindowBits !== undefined) out.serverMaxWindowBits = integer(where, 'compression.serverMaxWindowBits', c.serverMaxWindowBits, 8, 15);
  if (c.level !== undefined) out.level = integer(where, 'compression.level', c.level, 0, 9);
  if (c.threshold !== undefined) out.minSize = integer(where, 'compression.threshold', c.threshold, 0, 2 ** 31 - 1);
  return out;
}

// A route's options checked, with the defaults of the C++ API (net/ws/websocket.h).
function checkBehaviour(path, b) {
  const where = `ws(${path})`;
  if (b === null || typeof b !== 'object') throw new TypeError(`${where}: the behaviour must be an object { open, message, drain, close, ... }`);
  for (const k of Object.keys(b)) {
    if (!BEHAVIOUR_KEYS.has(k)) throw new TypeError(`${where}: unknown option ${k} (known: ${[...BEHAVIOUR_KEYS].join(', ')})`);
  }
  for (const k of ['upgrade', 'open', 'message', 'drain', 'close']) {
    if (b[k] !== undefined && typeof b[k] !== 'function') throw new TypeError(`${where}: ${k} must be a function`);
  }
  const maxPayload = b.maxPayload ?? b.maxPayloadLength ?? MIB;
  const config = {
    maxPayload: integer(where, 'maxPayload', maxPayload, 1, 1024 * MIB),
    maxBackpressure: integer(where, 'maxBackpressure', b.maxBackpressure ?? MIB, 1, 2 ** 31 - 1),
    idleTimeout: integer(where, 'idleTimeout', b.idleTimeout ?? 120, 0, 24 * 3600),
    closeOnBackpressureLimit: false,
    sendPings: true,
    compression: compressionOption(where, b.compression),
    subprotocols: [],
    borrowMessages: false,
  };
  if (b.borrowMessages !== undefined) {
    if (typeof b.borrowMessages !== 'boolean') throw new TypeError(`${where}: borrowMessages must be a boolean`);
    config.borrowMessages = b.borrowMessages;
  }
  if (b.closeOnBackpressureLimit !== undefined) {
    if (typeof b.closeOnBackpressureLimit !== 'boolean') throw new TypeError(`${where}: closeOnBackpressureLimit must be a boolean`);
    config.closeOnBackpressureLimit = b.closeOnBackpressureLimit;
  }
  if (b.sendPingsAutomatically !== undefined) {
    if (typeof b.sendPingsAutomatically !== 'boolean') throw new TypeError(`${where}: sendPingsAutomatically must be a boolean`);
    config.sendPings = b.sendPingsAutomatically;
  }
  if (b.subprotocols !== undefined) {
    if (!Array.isArray(b.subprotocols) || b.subprotocols.some((p) => typeof p !== 'string' || p === '')) {
      throw new TypeError(`${where}: subprotocols must be an array of non-empty strings`);
    }
    config.subprotocols = b.subprotocols.slice();
  }
  return config;
}

// A message as bytes the staging buffer takes: a string (written as UTF-8) or a Uint8Array view.
function bytesOf(data, what) {
  if (typeof data === 'string') return data;
  if (data instanceof Uint8Array) return data;
  if (data instanceof ArrayBuffer || data instanceof SharedArrayBuffer) return new Uint8Array(data);
  if (ArrayBuffer.isView(data)) return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  throw new TypeError(`${what}: the message must be a string, a Buffer, an ArrayBuffer or a TypedArray`);
}

function checkTopic(topic, what) {
  if (typeof topic !== 'string') throw new TypeError(`${what}: the topic must be a string`);
  if (topic.length > MAX_TOPIC && Buffer.byteLength(topic) > MAX_TOPIC) {
    throw new RangeError(`${what}: a topic is at most ${MAX_TOPIC} bytes`);
  }
  return topic;
}

// Close codes an endpoint may send (RFC 6455 §7.4): 1000-1003, 1007-1014, 3000-4999.
function sendableCode(code) {
  return (code >= 1000 && code <= 1003) || (code >= 1007 && code <= 1014) || (code >= 3000 && code <= 4999);
}

class WebSocket {
  constructor(hub, route, lo, hi, worker) {
    this._hub = hub;
    this._route = route;
    this._full = false;  // kept under its full id (another live socket has the same low half)
    this._lo = lo;
    this._hi = hi;
    this._worker = worker;
    this._open = true;     // false once end() or close() was called, or the socket closed
    this._closed = false;  // the close handler ran
    this._topics = null;   // Set of topics, made at the first subscribe
    // Backpressure accounting (PROTOCOL.md "Backpressure"): bytes of sends handed over and bytes
    // of sends the worker had applied when it last reported (both modulo 2^32), and the unsent
    // output it reported then.
    this._handed = 0;
    this._applied = 0;
    this._reported = 0;
    this._backpressured = false;  // a drain event is to come
    this._parts = null;    // the pieces of a message longer than a ring record
    // What the application keeps per socket (the upgrade hook's result once there is one).
    this.data = {};
    this.remoteAddress = '';
    this.remotePort = 0;
    this.protocol = '';  // the subprotocol the engine chose, or ''
  }

  // Queues `data` on the socket. Returns SENT (1), BACKPRESSURE (0: queued, but the socket's
  // output is over maxBackpressure — stop sending until drain() is called) or DROPPED (2: not
  // sent — the socket is closed or closing, or its output is full and the route drops).
  // `isBinary` defaults to "not a string".
  send(data, isBinary, compress = true) {
    const bytes = bytesOf(data, 'ws.send()');
    if (!this._open) return DROPPED;
    const config = this._route.config;
    // At most what the worker will hold before this message: what it reported, plus everything
    // handed over since that it had not applied then (bytes it sent to the kernel since only
    // make the real figure smaller). The engine queues a message when its output is under the
    // limit, else drops it (or closes the socket): the same rule here, so that SENT and
    // BACKPRESSURE always mean queued.
    const before = this._reported + ((this._handed - this._applied) >>> 0);
    if (before >= config.maxBackpressure && !config.closeOnBackpressureLimit) return DROPPED;
    if (this._hub.backlogged(this._worker)) {
      // The worker's backlog is at its bound: not handed over. A check queued behind the
      // backlog brings a drain once the worker has caught up with it.
      if (!this._backpressured) {
        this._backpressured = true;
        this._hub.stage(this._worker, this._lo, this._hi, OP.CHECK, 0, null, null);
      }
      return DROPPED;
    }
    const binary = isBinary === undefined ? typeof data !== 'string' : Boolean(isBinary);
    const n = this._hub.stage(this._worker, this._lo, this._hi, OP.SEND, (binary ? 1 : 0) | (compress ? 2 : 0), null, bytes);
    this._handed = (this._handed + n) >>> 0;
    if (this._backpressured) return BACKPRESSURE;
    if (before + n >= config.maxBackpressure) {
      // Over the limit as far as this thread knows: ask the worker where the socket stands — a
      // drain (or a backpressure event, then the engine's drain) follows.
      this._backpressured = true;
      this._hub.stage(this._worker, this._lo, this._hi, OP.CHECK, 0, null, null);
      return BACKPRESSURE;
    }
    return SENT;
  }

  // Starts the close handshake with `code` and `reason` (at most 123 bytes of UTF-8).
  end(code = 1000, reason = '') {
    if (!Number.isInteger(code) || !sendableCode(code)) {
      throw new RangeError(`ws.end(): ${String(code)} is not a close code an endpoint may send (1000-1003, 1007-1014, 3000-4999)`);
    }
    if (typeof reason !== 'string') throw new TypeError('ws.end(): the reason must be a string');
    if (reason.length > 41 && Buffer.byteLength(reason) > 123) throw new RangeError('ws.end(): the reason is at most 123 bytes of UTF-8');
    if (!this._open) return;
    this._open = false;
    this._hub.stage(this._worker, this._lo, this._hi, OP.END, code, null, reason);
  }

  // Closes the connection at once, without the close handshake (the close handler gets 1006).
  close() {
    if (!this._open) return;
    this._open = false;
    this._hub.stage(this._worker, this._lo, this._hi, OP.CLOSE, 0, null, null);
  }

  // Topics: the socket gets what is published to them (ws.publish, app.publish) on any worker.
  subscribe(topic) {
    checkTopic(topic, 'ws.subscribe()');
    if (!this._open) return false;
    if (this._topics === null) this._topics = new Set();
    if (!this._topics.has(topic)) {
      this._topics.add(topic);
      this._hub.stage(this._worker, this._lo, this._hi, OP.SUBSCRIBE, 0, null, topic);
    }
    return true;
  }

  unsubscribe(topic) {
    checkTopic(topic, 'ws.unsubscribe()');
    if (!this._open || this._topics === null || !this._topics.delete(topic)) return false;
    this._hub.stage(this._worker, this._lo, this._hi, OP.UNSUBSCRIBE, 0, null, topic);
    return true;
  }

  isSubscribed(topic) {
    return this._topics !== null && this._topics.has(topic);
  }

  getTopics() {
    return this._topics === null ? [] : [...this._topics];
  }

  // Sends `data` to every subscriber of `topic`, on every worker, except this socket. False
  // when not handed over: the server is not running, or the worker's backlog is at its bound.
  publish(topic, data, isBinary, compress = true) {
    checkTopic(topic, 'ws.publish()');
    const bytes = bytesOf(data, 'ws.publish()');
    const binary = isBinary === undefined ? typeof data !== 'string' : Boolean(isBinary);
    return this._hub.publish(this._worker, this._lo, this._hi, OP.PUBLISH, topic, bytes, binary, compress);
  }

  // Bytes queued and not yet written to the kernel, at most: what the worker last reported plus
  // what was handed over that it had not applied then.
  getBufferedAmount() {
    return this._reported + ((this._handed - this._applied) >>> 0);
  }

  get isOpen() {
    return this._open;
  }
}

// One per app (State): the routes, the open sockets, and the event handlers of the drain loop.
class WsHub {
  constructor(state) {
    this.state = state;
    this.routes = [];  // by route id: { path, behaviour, config, id, upgradeId }
    // What upgrade hooks returned, until their socket's open event (by the number the accept
    // operation gave the worker, which the open event brings back).
    this.accepted = new Map();
    this.nextDataId = 0;
    // The open sockets, by worker and the low half of their id — the engine's slot, a small
    // number, so an array index (a Map lookup cost 4% of a 32-byte echo); the id's high half,
    // checked, tells a reused slot apart. A socket whose low half is taken by another live one
    // goes to `full`, by its whole id as text.
    this.byLow = [];
    this.full = new Map();
    this.count = 0;
    this.stashedUnflushed = 0;  // stashed bytes staged since stage() last handed them over
  }

  find(worker, lo, hi) {
    const slots = this.byLow[worker];
    const ws = slots === undefined ? undefined : slots[lo];
    if (ws !== undefined && ws._hi === hi) return ws;
    return this.full.size === 0 ? undefined : this.full.get(`${worker}:${hi}:${lo}`);
  }

  keep(ws) {
    let slots = this.byLow[ws._worker];
    if (slots === undefined) {
      while (this.byLow.length <= ws._worker) this.byLow.push([]);
      slots = this.byLow[ws._worker];
    }
    if (ws._lo >= MAX_SLOT || slots[ws._lo] !== undefined) {
      ws._full = true;
      this.full.set(`${ws._worker}:${ws._hi}:${ws._lo}`, ws);
    } else {
      slots[ws._lo] = ws;
    }
    this.count++;
  }

  forget(ws) {
    if (ws._full) {
      if (!this.full.delete(`${ws._worker}:${ws._hi}:${ws._lo}`)) return;
    } else {
      const slots = this.byLow[ws._worker];
      if (slots[ws._lo] !== ws) return;
      slots[ws._lo] = undefined;
    }
    this.count--;
  }

  add(path, behaviour) {
    const config = checkBehaviour(path, behaviour);
    if (this.routes.some((r) => r.path === path)) throw new Error(`ws(${path}): a WebSocket route for this path exists already`);
    const route = { path, behaviour, config, id: this.routes.length, upgradeId: null };
    this.routes.push(route);
    return route;
  }

  // createServer's config.ws (napi/README.md).
  configs() {
    return this.routes.map((r) => {
      const c = { path: r.path, id: r.id, ...r.config };
      if (r.upgradeId !== null) c.upgradeId = r.upgradeId;
      return c;
    });
  }

  // An upgrade request of a route with an upgrade hook (the drain loop's pseudo-route for it,
  // app.cjs fallback()): the hook decides — what it returns (or resolves to) becomes ws.data;
  // a throw or rejection refuses the upgrade with the error's status (a 4xx with its message),
  // else 500 (logged). The request record's ticket names the upgrade the worker holds.
  upgrade(route, req, reply) {
    reply._phase = STATE_DONE;  // nothing of the HTTP reply is used
    const worker = req._worker;
    const at = req._off >>> 2;
    const slot = req._u32[at];
    const generation = req._u32[at + 1];
    let r;
    try {
      r = route.behaviour.upgrade(req);
    } catch (err) {
      this.refuse(route, worker, slot, generation, err);
      return reply;
    }
    if (r !== null && typeof r === 'object' && typeof r.then === 'function') {
      req._running++;  // keeps the request readable after the batch (app.cjs retainBatch)
      r.then((data) => {
        req._running--;
        this.accept(worker, slot, generation, data);
      }, (err) => {
        req._running--;
        this.refuse(route, worker, slot, generation, err);
      });
    } else {
      this.accept(worker, slot, generation, r);
    }
    return reply;
  }

  accept(worker, slot, generation, data) {
    let id = 0;
    if (data !== undefined && data !== null) {
      this.nextDataId = this.nextDataId === 0xffffffff ? 1 : this.nextDataId + 1;
      id = this.nextDataId;
      if (this.accepted.size >= 1024) this.sweepAccepted();
      this.accepted.set(id, { data, at: Date.now() });
    }
    this.stage(worker, slot, generation, OP.ACCEPT, id, null, null);
  }

  // Data of upgrades whose socket never opened (the client left before the 101) is dropped
  // after a minute.
  sweepAccepted() {
    const old = Date.now() - 60000;
    for (const [id, a] of this.accepted) if (a.at < old) this.accepted.delete(id);
  }

  refuse(route, worker, slot, generation, err) {
    let status = statusOf(err);
    if (!(status >= 400 && status <= 599)) status = 500;
    if (status >= 500) this.state.errorLog.log(`WebSocket ${route.path}: the upgrade hook failed`, err);
    const message = status < 500 && err instanceof Error && err.message !== '' ? err.message : reasonPhrase(status);
    this.stage(worker, slot, generation, OP.REFUSE, status, null, `${message}\n`);
  }

  // The drain loop's event records of types 32-37 (events.cjs onRecord): the ring's bytes.
  record(worker, u8, u32, off) {
    const w = off >>> 2;
    const lo = u32[w];
    const hi = u32[w + 1];
    const start = off + 32;
    const end = start + u32[w + 6];
    const type = u8[off + 20];
    if (type === EV.MESSAGE || type === EV.PIECE) {
      const ws = this.find(worker, lo, hi);
      if (ws === undefined) return;
      const binary = (u32[w + 3] & 1) !== 0;
      if (type === EV.PIECE) {
        if (ws._parts === null) ws._parts = [];
        ws._parts.push(Buffer.from(u8.subarray(start, end)));
        return;
      }
      let data;
      if (ws._parts !== null) {
        ws._parts.push(u8.subarray(start, end));
        const whole = Buffer.concat(ws._parts);
        ws._parts = null;
        data = binary ? whole : whole.toString('utf8');
      } else if (binary) {
        if (ws._route.config.borrowMessages) {
          // Lent: a view of the request ring, valid until message() returns (napi/lib/README.md).
          data = u8.subarray(start, end);
        } else {
          data = Buffer.allocUnsafe(end - start);
          u8.copy(data, 0, start, end);
        }
      } else {
        data = u8.utf8Slice(start, end);
      }
      const fn = ws._route.behaviour.message;
      if (fn !== undefined) this.call(ws, 'message', fn, data, binary);
      return;
    }
    if (type === EV.OPEN) {
      const route = this.routes[u32[w + 2]];
      if (route === undefined) return;
      const ws = new WebSocket(this, route, lo, hi, worker);
      const dataId = u32[w + 3];
      if (dataId !== 0) {
        const a = this.accepted.get(dataId);
        if (a !== undefined) {
          this.accepted.delete(dataId);
          ws.data = a.data;
        }
      }
      ws.remotePort = u8[start] | (u8[start + 1] << 8);
      ws.remoteAddress = formatAddress(u8, start + 4, u8[start + 2]);
      if (end > start + 20) ws.protocol = u8.utf8Slice(start + 20, end);
      this.keep(ws);
      const fn = route.behaviour.open;
      if (fn !== undefined) this.call(ws, 'open', fn);
      return;
    }
    const ws = this.find(worker, lo, hi);
    if (ws === undefined) return;
    if (type === EV.DRAIN || type === EV.BACKPRESSURE) {
      ws._reported = u32[start >>> 2];
      ws._applied = u32[(start >>> 2) + 1];
      if (type === EV.BACKPRESSURE) {
        ws._backpressured = true;
        return;
      }
      ws._backpressured = false;
      const fn = ws._route.behaviour.drain;
      if (fn !== undefined && ws._open) this.call(ws, 'drain', fn);
    } else if (type === EV.CLOSE) {
      const code = end - start >= 2 ? u8[start] | (u8[start + 1] << 8) : 1005;
      const reason = end - start > 2 ? u8.utf8Slice(start + 2, end) : '';
      this.closed(ws, code, reason);
    }
  }

  closed(ws, code, reason) {
    this.forget(ws);
    ws._open = false;
    ws._parts = null;
    if (ws._closed) return;
    ws._closed = true;
    const fn = ws._route.behaviour.close;
    if (fn !== undefined) this.call(ws, 'close', fn, code, reason);
  }

  // The server stopped: sockets whose close event did not reach this thread (their worker
  // ended first) are closed here, with the code the engine sends when it stops (1001).
  closeAll() {
    const all = [...this.full.values()];
    for (const slots of this.byLow) for (const ws of slots) if (ws !== undefined) all.push(ws);
    for (const ws of all) this.closed(ws, 1001, 'server closed');
  }

  // Runs a handler; one that throws (or rejects) is logged and its socket ended with 1011.
  call(ws, name, fn, a, b) {
    let r;
    try {
      r = fn(ws, a, b);
    } catch (err) {
      this.failed(ws, name, err);
      return;
    }
    if (r !== undefined && r !== null && typeof r.then === 'function') {
      r.then(undefined, (err) => this.failed(ws, name, err));
    }
  }

  failed(ws, name, err) {
    this.state.errorLog.log(`WebSocket ${ws._route.path}: the ${name} handler threw`, err);
    if (ws._open) ws.end(1011, 'internal error');
  }

  // app.publish(): to every subscriber of `topic` on every worker, applied by worker 0 (so that
  // the messages of successive calls keep their order).
  publishAll(topic, data, isBinary, compress = true) {
    checkTopic(topic, 'app.publish()');
    const bytes = bytesOf(data, 'app.publish()');
    const binary = isBinary === undefined ? typeof data !== 'string' : Boolean(isBinary);
    const s = this.state;
    if (s.handle === null || !s.started || s.stoppedSeen) return false;
    return this.publish(0, 0, 0, OP.PUBLISH_ALL, topic, bytes, binary, compress);
  }

  publish(worker, lo, hi, op, topic, bytes, binary, compress) {
    const s = this.state;
    if (s.handle === null || !s.started || s.stoppedSeen) return false;
    if (this.backlogged(worker) || this.publishBacklogged()) return false;
    this.stage(worker, lo, hi, op, (binary ? 1 : 0) | (compress ? 2 : 0), topic, bytes);
    return true;
  }

  // Whether the native side holds BACKLOG_LIMIT bytes or more for `worker` (as of the last
  // pull or flush: the backlog only moves on when this thread hands records over).
  backlogged(worker) {
    const index = this.state.index;
    return index !== null && index !== undefined && index[BACKLOG_AT + worker] >= BACKLOG_LIMIT;
  }

  // Whether the bytes published that some worker has not delivered yet (posted to the workers,
  // each of which delivers them in its own time) are BACKLOG_LIMIT or more: the index's last word.
  publishBacklogged() {
    const index = this.state.index;
    return index !== null && index !== undefined && index[index.length - 1] >= BACKLOG_LIMIT;
  }

  // Appends a WebSocket record to the staging buffer (flushing it first when full): the body
  // is `topic` (or null) then `body` (a string, a Uint8Array or null), inline up to
  // RES.MAX_INLINE_BODY bytes, else stashed. Returns the message's byte count.
  stage(worker, lo, hi, op, arg, topic, body) {
    const s = this.state;
    if (s.handle === null || !s.started || s.stoppedSeen) return 0;
    const staging = s.staging;
    const topicWorst = topic === null ? 0 : topic.length * 3;
    const bodyWorst = body === null ? 0 : typeof body === 'string' ? body.length * 3 : body.length;
    let stashId = 0;
    let stashLength = 0;
    let topicLength = 0;
    let bodyLength = 0;
    if (topicWorst + bodyWorst > RES.MAX_INLINE_BODY) {
      const t = topic === null ? null : Buffer.from(topic, 'utf8');
      const m = body === null ? null : typeof body === 'string' ? Buffer.from(body, 'utf8') : body;
      topicLength = t === null ? 0 : t.length;
      bodyLength = m === null ? 0 : m.length;
      if (topicLength + bodyLength > RES.MAX_INLINE_BODY) {
        const whole = t === null ? m : Buffer.concat([t, m]);
        stashId = binding().stash(s.handle, whole);
        stashLength = whole.length;
      } else {
        topic = t;
        body = m;
      }
    }
    const worst = stashId !== 0 ? RES.HEAD_BYTES : RES.HEAD_BYTES + topicWorst + bodyWorst;
    if (staging.pos + worst > staging.capacity) s.flushStaged();
    const p = staging.pos;
    const u8 = staging.u8;
    let o = p + RES.HEAD_BYTES;
    if (stashId === 0) {
      if (topic !== null) {
        topicLength = typeof topic === 'string' ? u8.utf8Write(topic, o) : (u8.set(topic, o), topic.length);
        o += topicLength;
      }
      if (body !== null) {
        bodyLength = typeof body === 'string' ? u8.utf8Write(body, o) : (u8.set(body, o), body.length);
        o += bodyLength;
      }
    }
    const length = align8(o - p);
    const w = p >>> 2;
    const u32 = staging.u32;
    u32[w] = length;
    staging.u16[(p >>> 1) + 2] = worker;
    staging.u16[(p >>> 1) + 3] = op;
    u32[w + 2] = lo;
    u32[w + 3] = hi;
    u32[w + 4] = arg;
    u32[w + 5] = topicLength;
    u32[w + 6] = 0;
    u32[w + 7] = 0;
    u32[w + 8] = stashId !== 0 ? stashLength : topicLength + bodyLength;
    u32[w + 9] = stashId !== 0 ? RES.KIND_STASHED : RES.KIND_INLINE;
    u32[w + 10] = stashId;
    u32[w + 11] = FLAG_WS;
    staging.pos = p + length;
    // Stashed bodies count in a worker's backlog once handed over: a synchronous loop hands
    // them over every STASH_FLUSH bytes, so that what it stashes is bounded too.
    if (stashId !== 0 && (this.stashedUnflushed += stashLength) >= STASH_FLUSH) {
      this.stashedUnflushed = 0;
      s.flushStaged();
    }
    s.scheduleFlush();
    return bodyLength;
  }
}

module.exports = {
  WsHub, WebSocket, EV, OP, FLAG_WS, SENT, BACKPRESSURE, DROPPED, BACKLOG_LIMIT, BACKLOG_AT,
};
