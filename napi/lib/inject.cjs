'use strict';
// app.inject(): answers a request without a socket, for tests. The request is routed by the
// native router (binding.match), encoded as the same record a worker would write, and run
// through the same pipeline (hooks, handler, error handler); what the engine itself would
// answer (404, 405, OPTIONS, 501, fixed routes, limits, the handler timeout) is emulated with
// the engine's bodies and headers — or, for an app that takes the engine's answers
// (engine-answers.cjs), handed to the app as the engine would hand them. A streamed reply (a
// Readable, a ReadableStream, an async iterable, reply.sse()) is collected whole into the
// response's payload.

const { encodeRequestRecord, parseAddress } = require('./records.cjs');
const { injectBody } = require('./body-stream.cjs');
const { reasonPhrase } = require('./errors.cjs');
const cookies = require('./cookies.cjs');
const { STATE_OPEN } = require('./reply.cjs');
const { BACKSTOP_MS } = require('./handler-timeout.cjs');
const { injectEncode } = require('./compression.cjs');

const INJECT_OPTIONS = new Set(['method', 'url', 'path', 'query', 'headers', 'body', 'payload',
  'remoteAddress', 'cookies']);

class InjectResponse {
  constructor(statusCode, headers, rawPayload) {
    this.statusCode = statusCode;
    this.statusMessage = reasonPhrase(statusCode);
    this.headers = headers;
    this.rawPayload = rawPayload;
    this.body = rawPayload.toString('utf8');
  }

  get payload() {
    return this.body;
  }

  json() {
    return JSON.parse(this.body);
  }

  // The Set-Cookie headers parsed (light-my-request's `cookies`): [{ name, value, path, ... }].
  get cookies() {
    return cookies.parseSetCookies(this.headers['set-cookie']);
  }
}

// The response as it would come off the wire: the engine's Server and Date, Content-Type, the
// handler's headers, Content-Length (not for 1xx/204/304), no body for HEAD.
function response(status, type, headers, body, head) {
  const noBody = status < 200 || status === 204 || status === 304;
  const out = { server: 'NexureJS', date: new Date().toUTCString() };
  if (type !== null && type !== undefined) out['content-type'] = type;
  if (headers !== null && headers !== undefined) {
    for (const name of Object.keys(headers)) {
      const v = headers[name];
      if (Array.isArray(v)) out[name] = name === 'set-cookie' ? v.map(String) : v.join(', ');
      else out[name] = String(v);
    }
  }
  let payload = body === null || body === undefined ? Buffer.alloc(0)
    : typeof body === 'string' ? Buffer.from(body, 'utf8') : Buffer.from(body);
  if (noBody) payload = Buffer.alloc(0);
  else out['content-length'] = String(payload.length);
  if (head) payload = Buffer.alloc(0);
  return new InjectResponse(status, out, payload);
}

function engineText(status, head, extra) {
  return response(status, 'text/plain', extra, `${reasonPhrase(status)}\n`, head);
}

// Non-ASCII and spaces in an inject URL are percent-encoded, as a client would send them.
function wireTarget(url) {
  return url.replace(/[^\x21-\x7e]+/g, (s) => encodeURIComponent(s));
}

function normalize(options) {
  if (typeof options === 'string') options = { url: options };
  if (options === undefined || options === null) options = {};
  if (typeof options !== 'object') throw new TypeError('inject(): options must be an object or a URL string');
  for (const k of Object.keys(options)) {
    if (!INJECT_OPTIONS.has(k)) throw new TypeError(`inject(): unknown option ${k}`);
  }
  const method = String(options.method ?? 'GET').toUpperCase();
  let url = options.url ?? options.path ?? '/';
  if (typeof url !== 'string') throw new TypeError('inject(): url must be a string');
  if (options.query !== undefined && options.query !== null) {
    const q = typeof options.query === 'string' ? options.query
      : new URLSearchParams(options.query).toString();
    if (q !== '') url += (url.includes('?') ? '&' : '?') + q;
  }
  const headers = [];
  let hasHost = false;
  let hasLength = false;
  let hasType = false;
  if (options.headers !== undefined && options.headers !== null) {
    for (const name of Object.keys(options.headers)) {
      const v = options.headers[name];
      if (v === undefined) continue;
      const lower = name.toLowerCase();
      if (lower === 'host') hasHost = true;
      if (lower === 'content-length') hasLength = true;
      if (lower === 'content-type') hasType = true;
      if (Array.isArray(v)) for (const x of v) headers.push([name, String(x)]);
      else headers.push([name, String(v)]);
    }
  }
  if (options.cookies !== undefined && options.cookies !== null) {
    headers.push(['cookie', cookies.cookieHeader(options.cookies)]);
  }
  let body = options.body ?? options.payload ?? null;
  let stream = null;  // a payload given as a stream (a Readable or any async iterable)
  if (body !== null && typeof body === 'object' && typeof body[Symbol.asyncIterator] === 'function') {
    stream = body;
    body = null;
    if (!hasLength) headers.push(['transfer-encoding', 'chunked']);
  } else if (body !== null) {
    if (typeof body === 'string') {
      body = Buffer.from(body, 'utf8');
    } else if (body instanceof Uint8Array) {
      body = Buffer.from(body.buffer, body.byteOffset, body.byteLength);
    } else {
      body = Buffer.from(JSON.stringify(body), 'utf8');
      if (!hasType) headers.push(['content-type', 'application/json']);
    }
  }
  if (!hasHost) headers.unshift(['host', 'localhost']);
  if (body !== null && !hasLength) headers.push(['content-length', String(body.length)]);
  const remoteAddress = options.remoteAddress ?? '127.0.0.1';
  if (typeof remoteAddress !== 'string' || parseAddress(remoteAddress) === null) {
    throw new TypeError(`inject(): remoteAddress must be an IPv4 or IPv6 address, got ${String(remoteAddress)}`);
  }
  return { method, target: wireTarget(url), headers, body, stream, remoteAddress };
}

async function inject(state, options) {
  const normalized = normalize(options);
  const { method, target, headers, stream, remoteAddress } = normalized;
  let { body } = normalized;
  await state.ready();
  if (state.handle === null) throw new Error('inject(): the app was closed');
  const binding = require('./binding.cjs');
  const head = method === 'HEAD';
  const em = state.emulate;

  // What the engine checks while parsing, before routing.
  if (target.length > em.maxTargetSize) return engineText(414, head, { connection: 'close' });
  if (headers.length > em.maxHeaderCount) return engineText(431, head, { connection: 'close' });
  const methodIndex = state.methods.indexOf(method);
  const q = target.indexOf('?');
  const path = q === -1 ? target : target.slice(0, q);
  if (target[0] !== '/' && !(method === 'OPTIONS' && target === '*')) {
    return engineText(400, head, { connection: 'close' });
  }
  if (methodIndex === -1 || state.methods[methodIndex] === 'OTHER') return engineText(501, head, null);

  const m = binding.match(state.routeHandle(), method, path);
  // A route that streams its body has its own limit (bodyLimit, below), not the app's.
  const streamRoute = m.kind === 'found' && state.routes[m.id].streamBody === true;
  const tooLarge = !streamRoute && body !== null && body.length > em.maxBodySize;
  // The engine routes a head when it hands its answers over: a 413 for a route, or the 405 or
  // OPTIONS answer of a body it will not read, goes to the app (connection: close after it).
  const takes = state.engineRoute !== null;
  if (tooLarge && !takes) return engineText(413, head, { connection: 'close' });
  let engineStatus = 0;
  if (takes) {
    if (m.kind === 'methodNotAllowed') engineStatus = 405;
    else if (m.kind === 'options') engineStatus = 204;
    else if (tooLarge && m.kind === 'found') engineStatus = 413;
    else if (tooLarge) return engineText(413, head, { connection: 'close' });
  }
  // The client is `remoteAddress` (127.0.0.1 by default) on port 0; the server 127.0.0.1:80.
  const ends = {
    remote: { address: remoteAddress, port: 0 },
    local: { address: remoteAddress.includes(':') ? '::1' : '127.0.0.1', port: 80 },
  };
  if (engineStatus !== 0) {
    return run(state, state.engineRoute, {
      handler: state.engineRoute.id, method: methodIndex, target, headers, engineStatus, ...ends,
    }, method, head, tooLarge);
  }
  switch (m.kind) {
    case 'found':
      break;
    case 'fixed': {
      const hs = {};
      let type = null;
      const pairs = Array.isArray(m.headers) ? m.headers : Object.entries(m.headers || {});
      for (const [n, v] of pairs) {
        const k = n.toLowerCase();
        if (k === 'content-type') type = v;
        else hs[k] = k in hs ? [].concat(hs[k], v) : v;
      }
      return response(m.status, type, hs, m.body, head);
    }
    case 'methodNotAllowed':
      return response(405, 'text/plain', { allow: m.allow }, 'Method Not Allowed\n', head);
    case 'options':
      return response(204, null, { allow: m.allow }, null, head);
    case 'notImplemented':
      return engineText(501, head, null);
    default:
      return engineText(404, head, null);
  }

  const route = state.routes[m.id];
  const streams = route.streamBody === true;
  if (streams) {
    // Over the route's limit by its length: 413 before the handler runs, as the engine does.
    const limit = route.bodyLimit;
    if (limit !== 0 && body !== null && body.length > limit) {
      return engineText(413, head, { connection: 'close' });
    }
  } else if (stream !== null) {
    // A buffered route: the stream is read whole first (as the engine collects a body).
    const chunks = [];
    let size = 0;
    for await (const chunk of stream) {
      const b = typeof chunk === 'string' ? Buffer.from(chunk, 'utf8') : Buffer.from(chunk);
      size += b.length;
      if (size > em.maxBodySize) return engineText(413, head, { connection: 'close' });
      chunks.push(b);
    }
    body = Buffer.concat(chunks);
  }
  const params = Object.keys(m.params || {}).map((name) => [name, String(m.params[name])]);
  return run(state, route, {
    handler: m.id, method: methodIndex, target, params, headers, body: streams ? null : body,
    streams, ...ends,
  }, method, head, false, streams ? stream ?? body : undefined);
}

// Runs the request encoded from `fields` (encodeRequestRecord) through the app's pipeline.
// `last`: the engine would close the connection after the answer. `payload`: for a route that
// streams its body (fields.streams), what feeds the body's stream.
function run(state, route, fields, method, head, last, payload) {
  const em = state.emulate;
  const record = encodeRequestRecord(fields);
  const u32 = new Uint32Array(record.buffer, record.byteOffset, record.length >>> 2);
  const req = new route.Request(record, u32, 0, -1, route, method, state.nextId++);
  if (state.idSource !== null) state.assignId(req);
  const reply = new route.Reply(state, req);

  return new Promise((resolve) => {
    const sink = {
      done: false,
      timer: null,
      finish(r, payload) {
        if (sink.done) return;
        sink.done = true;
        if (sink.timer !== null) clearTimeout(sink.timer);
        // (The engine's own answers, handed to the app, are not compressed: state.engineRoute.)
        const encoded = route === state.engineRoute ? { headers: r._headers, body: payload }
          : injectEncode(require('./binding.cjs'), em.compression, route, fields.headers, r,
            r.statusCode, r._headers, payload);
        const hs = r._close || last ? { ...encoded.headers, connection: 'close' } : encoded.headers;
        resolve(response(r.statusCode, r._type, hs, encoded.body, head));
      },
    };
    if (em.handlerTimeoutMs > 0) {
      // The engine's deadline (a backstop when the app enforces the timeout itself).
      const ms = state.timeouts !== null ? em.handlerTimeoutMs + BACKSTOP_MS : em.handlerTimeoutMs;
      sink.timer = setTimeout(() => {
        if (sink.done) return;
        sink.done = true;
        // As the engine does: the handler's req.signal fires, a streamed reply's source is
        // destroyed.
        if (req._watch !== null && typeof req._watch.fire === 'function') req._watch.fire();
        resolve(engineText(503, head, null));
      }, ms);
    }
    req._inject = sink;
    if (fields.streams) {
      // Past bodyLimit the engine would answer 413 in the request's place (the handler's answer
      // is dropped) and close.
      injectBody(req, payload ?? null, route.bodyLimit, () => {
        if (sink.done) return;
        sink.done = true;
        if (sink.timer !== null) clearTimeout(sink.timer);
        resolve(engineText(413, head, { connection: 'close' }));
      });
    }
    let answering = reply;
    if (route.fallback) answering = state.fallback(route, req, reply);
    else state.dispatch(route, req, reply);
    if (state.timeouts !== null && answering._phase === STATE_OPEN) {
      state.timeouts.newBatch();  // inject() answers one request: its own arrival time
      state.timeouts.track(answering);
    }
  });
}

module.exports = { inject, InjectResponse };
