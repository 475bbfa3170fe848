'use strict';
// The application: route table, hooks, plugins, the request pipeline, the drain loop over the
// native binding (napi/PROTOCOL.md), listen/close, and inject (inject.cjs).
//
// One State per createApp(): everything shared by the root App and the scoped Apps that
// register() gives plugins. Each App has a Scope (scope.cjs: plugin encapsulation of hooks,
// error and not-found handlers, decorators); cookies, logging and ids, and body parsing live in
// cookies.cjs, logger.cjs and body.cjs.
//
// Request lifetime (see README "Request lifetime"): a request record stays in the worker's ring
// until the next pull(). Before each pull, every request of the current batch that is not done
// (response handed over, handler and hooks settled) is copied out of the ring; the done ones are
// detached. `req._running` counts what still runs for a request (its handler chain, an error
// handler, onSend or onResponse hooks); `reply._phase` says whether the response was handed over.

const { Request } = require('./request.cjs');
const { Reply, STATE_OPEN, STATE_SENDING, STATE_DONE } = require('./reply.cjs');
const { REQ, RES, EVENT, Staging, decodeComponent } = require('./records.cjs');
const { reasonPhrase, statusOf, ErrorLog } = require('./errors.cjs');
const { inject } = require('./inject.cjs');
const { wantsEngineAnswers, makeEngineRoute, engineStatusOf, runEngineAnswer } = require('./engine-answers.cjs');
const { HandlerTimeouts, BACKSTOP_MS } = require('./handler-timeout.cjs');
const { compileTrust } = require('./client.cjs');
const scopes = require('./scope.cjs');
const cookies = require('./cookies.cjs');
const logging = require('./logger.cjs');
const bodies = require('./body.cjs');
const files = require('./files.cjs');
const { Events } = require('./events.cjs');
const { WsHub, EV: WS_EVENTS } = require('./ws.cjs');
const { Outbound, isStreamPayload, payloadError } = require('./stream-reply.cjs');
const { sseSource } = require('./sse.cjs');
const { BodyStreams, isStreamRequest } = require('./body-stream.cjs');
const { normalizeCompression, routeCompression } = require('./compression.cjs');
const jsThreads = require('./js-threads.cjs');

let binding = null;
function loadBinding() {
  if (binding === null) binding = require('./binding.cjs');
  return binding;
}

const TEXT = 'text/plain; charset=utf-8';
const JSON_TYPE = 'application/json; charset=utf-8';
const OCTET = 'application/octet-stream';
const BATCH = 64;

// The methods the engine routes (net/http/method.h), and 'ALL' for every one of them.
const ROUTABLE = ['GET', 'HEAD', 'POST', 'PUT', 'DELETE', 'CONNECT', 'OPTIONS', 'TRACE', 'PATCH'];
// What the binding registers for 'ALL' (napi/src/addon.cc): HEAD is served by GET, CONNECT and
// TRACE are left out.
const ALL_METHODS = ['GET', 'POST', 'PUT', 'DELETE', 'PATCH', 'OPTIONS'];
const HOOK_NAMES = ['onRequest', 'preHandler', 'onSend', 'onResponse'];
// A route option for nexurejs/http only (a symbol: not part of the public options).
const ANSWERS_ON_NEXT_TICK = Symbol('nexure.answersOnNextTick');
const ROUTE_OPTIONS = new Set([...HOOK_NAMES, 'config', 'body', 'strictContentType', 'bodyLimit', 'compression']);

// ---- options -------------------------------------------------------------------------------

const LIMIT_KEYS = ['maxBodySize', 'maxHeadSize', 'maxHeaderCount', 'maxTargetSize'];

function checkInteger(name, v, min) {
  if (!Number.isInteger(v) || v < min) {
    throw new TypeError(`createApp(): option ${name} must be an integer >= ${min}, got ${v}`);
  }
  return v;
}

function checkBoolean(name, v) {
  if (typeof v !== 'boolean') {
    throw new TypeError(`createApp(): option ${name} must be a boolean, got ${typeof v}`);
  }
  return v;
}

// createApp() options → the binding's createServer config (without host, port, routes), plus
// the values inject() emulates the engine with.
function normalizeOptions(options) {
  if (options === undefined || options === null) options = {};
  if (typeof options !== 'object') throw new TypeError('createApp(): options must be an object');
  const config = {};
  const limits = {};
  const routing = {};
  let trust = null;
  let threads = 1;
  for (const key of Object.keys(options)) {
    const v = options[key];
    if (v === undefined) continue;
    switch (key) {
      case 'threads': config.threads = checkInteger(key, v, 0); break;
      case 'jsThreads':
        threads = checkInteger(key, v, 1);
        if (threads > 256) throw new TypeError(`createApp(): option jsThreads must be at most 256, got ${v}`);
        break;
      case 'pinThreads': config.pinThreads = checkBoolean(key, v); break;
      case 'handlerTimeoutMs': config.handlerTimeoutMs = checkInteger(key, v, 0); break;
      case 'idleTimeoutMs': config.idleTimeoutMs = checkInteger(key, v, 0); break;
      case 'drainTimeoutMs': config.drainTimeoutMs = checkInteger(key, v, 0); break;
      case 'maxConnectionsPerWorker': config.maxConnectionsPerWorker = checkInteger(key, v, 1); break;
      case 'bodyLimit': limits.maxBodySize = checkInteger(key, v, 0); break;
      case 'limits': {
        if (v === null || typeof v !== 'object') throw new TypeError('createApp(): option limits must be an object');
        for (const k of Object.keys(v)) {
          if (!LIMIT_KEYS.includes(k)) {
            throw new TypeError(`createApp(): unknown option limits.${k} (known: ${LIMIT_KEYS.join(', ')})`);
          }
          if (v[k] === undefined) continue;
          if (k === 'maxBodySize' && options.bodyLimit !== undefined && options.bodyLimit !== v[k]) {
            throw new TypeError('createApp(): bodyLimit and limits.maxBodySize disagree; give one');
          }
          limits[k] = checkInteger(`limits.${k}`, v[k], k === 'maxBodySize' ? 0 : 1);
        }
        break;
      }
      case 'ignoreTrailingSlash': routing.ignoreTrailingSlash = checkBoolean(key, v); break;
      case 'caseSensitive': routing.caseInsensitive = !checkBoolean(key, v); break;
      case 'trustProxy': trust = compileTrust(v); break;
      // Handled by State (cookies.cjs, logger.cjs, body.cjs), checked there.
      case 'cookieSecret': case 'logger': case 'loggerInstance': case 'genReqId':
      case 'requestIdHeader': case 'requestIdLogLabel': case 'body': break;
      case 'disableRequestLogging': case 'strictContentType': checkBoolean(key, v); break;
      case 'compression': break;  // compression.cjs, below
      default:
        throw new TypeError(`createApp(): unknown option ${key}`);
    }
  }
  if (Object.keys(limits).length > 0) config.limits = limits;
  if (Object.keys(routing).length > 0) config.routing = routing;
  const compression = normalizeCompression(options.compression);
  if (compression.config !== undefined) config.compression = compression.config;
  // What inject() needs to answer as the engine would (the engine's defaults: net/server.h).
  const emulate = {
    handlerTimeoutMs: config.handlerTimeoutMs ?? 30000,
    maxBodySize: limits.maxBodySize ?? 1024 * 1024,
    maxTargetSize: limits.maxTargetSize ?? 8 * 1024,
    maxHeaderCount: limits.maxHeaderCount ?? 100,
    compression: compression.settings,  // null: off
  };
  return { config, emulate, ignoreTrailingSlash: routing.ignoreTrailingSlash === true, trust, jsThreads: threads };
}

// ---- helpers -------------------------------------------------------------------------------

// The step of the hooked pipeline that runs the handler (State#hookedFrom): after the onRequest
// hooks, the body parse and the preHandler hooks.
function handlerStep(route) {
  return route.onRequest.length + 1 + route.preHandler.length;
}

// The body after an onSend hook returned `r`: a replacement (string, Buffer, ArrayBuffer, null)
// or, undefined or the body itself, the body unchanged.
function onSendBody(body, r) {
  if (r === undefined || r === body) return body;
  if (r === null || typeof r === 'string' || r instanceof Uint8Array) return r;
  if (r instanceof ArrayBuffer) return Buffer.from(r);
  throw new TypeError('an onSend hook must return a string, a Buffer, null or undefined');
}

function isThenable(v) {
  return v !== null && (typeof v === 'object' || typeof v === 'function') && typeof v.then === 'function';
}

function toHookList(name, v, scope) {
  const list = Array.isArray(v) ? v : [v];
  for (const fn of list) {
    if (typeof fn !== 'function') throw new TypeError(`route option ${name} must be a function or an array of functions`);
  }
  return list.map((fn) => adaptHook(name, fn, scope));
}

// A hook as the pipeline calls it: `this` is the app (scope) it was added to, and Fastify-style
// callback hooks (a `done` parameter) become promise-returning ones.
function adaptHook(name, fn, scope) {
  if (name === 'onSend') {
    if (fn.length < 4) return fn.bind(scope);
    return (req, reply, payload) => new Promise((resolve, reject) => {
      fn.call(scope, req, reply, payload, (err, value) => (err ? reject(err) : resolve(value)));
    });
  }
  if (fn.length < 3) return fn.bind(scope);
  return (req, reply) => new Promise((resolve, reject) => {
    fn.call(scope, req, reply, (err) => (err ? reject(err) : resolve()));
  });
}

// The paths a route registers under a prefix. The root of a prefixed plugin answers both
// '/api' and '/api/' (one path when trailing slashes are ignored anyway).
function joinPath(prefix, path, ignoreTrailingSlash) {
  if (prefix === '') return [path];
  if (path === '/') return ignoreTrailingSlash ? [prefix] : [prefix, prefix + '/'];
  return [prefix + path];
}

function normalizePrefix(prefix) {
  if (prefix === undefined || prefix === '' || prefix === '/') return '';
  if (typeof prefix !== 'string' || prefix[0] !== '/') {
    throw new TypeError(`register(): prefix must be a string starting with '/', got ${String(prefix)}`);
  }
  return prefix.endsWith('/') ? prefix.slice(0, -1) : prefix;
}

function checkMethod(method) {
  const m = String(method).toUpperCase();
  if (m !== 'ALL' && m !== 'OTHER' && !ROUTABLE.includes(m)) {
    throw new TypeError(`unknown method ${method} (one of ${ROUTABLE.join(', ')}, OTHER or ALL)`);
  }
  return m;
}

// The name of a request's method: from the binding's table, or for a method the engine does not
// name (a route for OTHER took it: WebDAV's and others) from the record.
function methodOf(methods, u8, u32, off) {
  const m = u8[off + REQ.METHOD_BYTE];
  if (m !== REQ.OTHER_METHOD) return methods[m];
  const at = off + u32[(off >>> 2) + REQ.METHOD_NAME];
  return u8.latin1Slice(at, at + u32[(off >>> 2) + REQ.METHOD_NAME_LENGTH]);
}

// A fixed response's body and headers as createServer takes them.
function fixedResponse(response) {
  if (response === undefined || response === null || typeof response !== 'object') {
    throw new TypeError('fixed(): the response must be an object { status, headers, body }');
  }
  for (const k of Object.keys(response)) {
    if (k !== 'status' && k !== 'headers' && k !== 'body') throw new TypeError(`fixed(): unknown field ${k}`);
  }
  const status = response.status === undefined ? 200 : response.status;
  if (!Number.isInteger(status) || status < 100 || status > 599) {
    throw new RangeError(`fixed(): invalid status ${status}: an integer from 100 to 599`);
  }
  const headers = [];
  const given = response.headers;
  if (Array.isArray(given)) {
    for (const [n, v] of given) headers.push([String(n), String(v)]);
  } else if (given !== undefined && given !== null) {
    for (const n of Object.keys(given)) {
      const v = given[n];
      if (Array.isArray(v)) for (const x of v) headers.push([n, String(x)]);
      else headers.push([n, String(v)]);
    }
  }
  let body = response.body;
  let type = null;
  if (body === undefined || body === null) {
    body = Buffer.alloc(0);
  } else if (typeof body === 'string') {
    body = Buffer.from(body, 'utf8');
    type = TEXT;
  } else if (body instanceof Uint8Array) {
    body = Buffer.from(body);
    type = OCTET;
  } else {
    body = Buffer.from(JSON.stringify(body), 'utf8');
    type = JSON_TYPE;
  }
  if (type !== null && !headers.some(([n]) => n.toLowerCase() === 'content-type')) {
    headers.push(['content-type', type]);
  }
  return { status, headers, body };
}

// The route option body: 'buffer', 'parse' (body.cjs) or 'stream' (body-stream.cjs).
function checkBodyOption(method, path, v) {
  if (v === undefined || v === 'stream') return v;
  if (!bodies.BODY_MODES.includes(v)) {
    throw new TypeError(`${method} ${path}: route option body must be one of 'buffer', 'parse', 'stream', got ${String(v)}`);
  }
  return v;
}

// The route options { body: 'stream', bodyLimit } (body-stream.cjs).
function streamOptions(route, method, path, options) {
  route.streamBody = options.body === 'stream';
  const limit = options.bodyLimit;
  if (limit === undefined) return;
  if (!route.streamBody) {
    throw new TypeError(`${method} ${path}: route option bodyLimit applies to streamed bodies ` +
      "({ body: 'stream', bodyLimit }); buffered bodies are bounded by createApp({ bodyLimit })");
  }
  if (!Number.isInteger(limit) || limit < 0) {
    throw new TypeError(`${method} ${path}: route option bodyLimit must be an integer >= 0 (0: no limit), got ${limit}`);
  }
  route.bodyLimit = limit;
}

// The pseudo-route used for answers that emulate the engine's own (no hooks run).
const ENGINE_ROUTE = {
  id: -1, path: '', handler: null, scope: null, config: {}, fast: true, fallback: false,
  onRequest: [], preHandler: [], onSend: [], onResponse: [],
  errorHandler: null, errorApp: null, Request, Reply, body: 'buffer', strictContentType: true,
};

// A route entry (app.cjs's routes and the not-found pseudo-routes); the hook lists, error
// handler, classes and body options are filled in by freeze().
function routeEntry(id, path, handler, scope, fallback) {
  return {
    id, path, handler, scope, config: {}, fast: true, fallback,
    own: { onRequest: [], preHandler: [], onSend: [], onResponse: [] },
    onRequest: null, preHandler: null, onSend: null, onResponse: null,
    errorHandler: null, errorApp: null, Request: null, Reply: null,
    body: undefined, strictContentType: undefined, trust: null,
    state: null,  // the app's State (req.signal: stream-reply.cjs)
    streamBody: false, bodyLimit: 0,
    // nexurejs/http's route: its handler stages its answers on the next tick, so the drain lets
    // the ticks run before it pulls more (as for a pending answer).
    answersOnNextTick: false,
    compression: null,  // createServer's compression fields for it (compression.cjs), or null
  };
}

// ---- State ---------------------------------------------------------------------------------

class State {
  constructor(options) {
    const { config, emulate, ignoreTrailingSlash, trust, jsThreads: threads } = normalizeOptions(options);
    this.config = config;
    // jsThreads (js-threads.cjs): on the thread that listens, the pool of JavaScript threads
    // once started; on one of those threads, its role (hub token, lane, the main's address).
    this.jsThreads = threads;
    this.role = threads > 1 ? jsThreads.threadRole() : null;
    this.pool = null;
    if (threads > 1 && this.role === null) config.jsThreads = threads;
    this.trust = trust;        // trustProxy, compiled (client.cjs); null: trust no proxy
    this.emulate = emulate;
    this.ignoreTrailingSlash = ignoreTrailingSlash;
    this.routes = [];          // JS routes, index = id
    this.routeConfigs = [];    // createServer route entries
    this.rootScope = new scopes.Scope(null, '');
    this.scopes = [this.rootScope];  // every scope, parents before children
    this.notFounds = [];       // the not-found pseudo-routes (setNotFoundHandler), one per scope
    // With hooks or handlers: the pseudo-route the engine's own answers arrive on, one per scope
    // that owns some (engine-answers.cjs), and the JavaScript-side handler timeout
    // (handler-timeout.cjs).
    this.engineRoute = null;
    this.engineRoutes = new Map();
    this.timeouts = null;
    const o = options ?? {};
    this.cookieSigner = o.cookieSecret === undefined ? null : new cookies.Signer(o.cookieSecret);
    this.logger = logging.createLogger(o.logger, o.loggerInstance);
    this.log = this.logger ?? logging.SILENT;
    this.requestLogging = this.logger !== null && o.disableRequestLogging !== true;
    if (o.requestIdLogLabel !== undefined && (typeof o.requestIdLogLabel !== 'string' || o.requestIdLogLabel === '')) {
      throw new TypeError('createApp(): option requestIdLogLabel must be a non-empty string');
    }
    this.requestIdLogLabel = o.requestIdLogLabel ?? 'reqId';
    this.idSource = logging.createIdSource(o.genReqId, o.requestIdHeader);
    this.bodyMode = o.body === undefined ? 'buffer' : bodies.checkMode('createApp()', o.body);
    this.strictContentType = o.strictContentType !== false;
    this.pending = [];         // plugin promises
    this.pluginError = null;
    this.frozen = false;
    this.readyPromise = null;
    this.root = null;

    this.handle = null;        // the native server (createServer), idle or started; on a jsThreads thread its attachThread() handle
    this.table = null;         // on a jsThreads thread: the idle server whose route table match() uses
    this.handleAddress = null; // the host/port it was created with
    this.shadow = null;        // routes without the not-found catch-all (setNotFoundHandler)
    this.started = false;
    this.listening = false;
    this.info = null;          // start()'s result
    this.url = null;
    this.closePromise = null;
    this.closeResolve = null;
    this.closing = false;
    this.stoppedSeen = false;

    this.staging = null;
    this.index = null;
    this.ringU8 = [];
    this.ringU32 = [];
    this.methods = null;
    this.batch = new Array(BATCH).fill(null);
    this.batchLength = 0;
    this.afterFlush = [];
    this.inDrain = false;
    this.flushScheduled = false;
    this.nextId = 1;
    this.errorLog = this.logger === null ? new ErrorLog() : new logging.LoggerErrorLog(this.logger);
    this.warnedSent = false;

    this.events = new Events();        // event records (events.cjs)
    this.outbound = new Outbound(this);  // streamed replies, req.signal (stream-reply.cjs)
    this.bodies = new BodyStreams(this);  // streamed request bodies (body-stream.cjs)
    for (const type of [EVENT.BODY_DATA, EVENT.BODY_END, EVENT.BODY_ERROR]) {
      this.events.on(type, (w, event) => this.bodies.event(w, event));
    }

    this.ws = new WsHub(this);  // app.ws() routes and their sockets (ws.cjs)
    const wsRecord = (w, u8, u32, off) => this.ws.record(w, u8, u32, off);
    for (const type of Object.values(WS_EVENTS)) this.events.onRecord(type, wsRecord);

    this.drain = this.drain.bind(this);
    this.resumeDrain = this.resumeDrain.bind(this);
    this.resuming = false;  // resumeDrain() is scheduled
    this.flushTask = this.flushTask.bind(this);
  }

  checkOpen(what) {
    if (this.frozen) {
      throw new Error(`${what}: the app has started (listen(), inject() or ready() was called); ` +
        'register routes, hooks and handlers before that');
    }
  }

  // ---- registration ----

  addRoute(scope, method, path, options, handler) {
    this.checkOpen(`${method} ${path}`);
    if (typeof options === 'function' && handler === undefined) {
      handler = options;
      options = undefined;
    }
    if (typeof path !== 'string' || path[0] !== '/') {
      throw new TypeError(`route path must be a string starting with '/', got ${String(path)}`);
    }
    if (typeof handler !== 'function') throw new TypeError(`${method} ${path}: the handler must be a function`);
    const paths = joinPath(scope.prefix, path, this.ignoreTrailingSlash);
    const route = routeEntry(this.routes.length, paths[0], handler, scope, false);
    route.state = this;
    if (options !== undefined && options !== null) {
      if (typeof options !== 'object') throw new TypeError(`${method} ${path}: route options must be an object`);
      for (const key of Object.keys(options)) {
        if (!ROUTE_OPTIONS.has(key)) {
          throw new TypeError(`${method} ${path}: unknown route option ${key} (known: ${[...ROUTE_OPTIONS].join(', ')})`);
        }
        if (key === 'config') route.config = options.config;
        else if (key === 'body') route.body = checkBodyOption(method, path, options.body);
        else if (key === 'bodyLimit') continue;
        else if (key === 'strictContentType') {
          const v = options.strictContentType;
          if (v !== undefined && typeof v !== 'boolean') throw new TypeError(`${method} ${path}: route option strictContentType must be a boolean`);
          route.strictContentType = v;
        }
        else if (key === 'compression') route.compression = routeCompression(`${method} ${path}`, options.compression);
        else if (options[key] !== undefined) route.own[key] = toHookList(key, options[key], scope);
      }
      streamOptions(route, method, path, options);
      if (options[ANSWERS_ON_NEXT_TICK] === true) route.answersOnNextTick = true;
    }
    const methods = Array.isArray(method) ? method.map(checkMethod) : [checkMethod(method)];
    this.routes.push(route);
    for (const m of methods) {
      for (const p of paths) {
        const entry = { method: m, path: p, id: route.id };
        if (route.streamBody) {
          entry.streamBody = true;
          entry.bodyLimit = route.bodyLimit;
        }
        if (route.compression) Object.assign(entry, route.compression);
        this.routeConfigs.push(entry);
      }
    }
  }

  addFixed(scope, method, path, response) {
    this.checkOpen(`fixed ${method} ${path}`);
    if (typeof path !== 'string' || path[0] !== '/') {
      throw new TypeError(`route path must be a string starting with '/', got ${String(path)}`);
    }
    const m = checkMethod(method);
    const fixed = fixedResponse(response);
    for (const p of joinPath(scope.prefix, path, this.ignoreTrailingSlash)) {
      this.routeConfigs.push({ method: m, path: p, fixed });
    }
  }

  addStatic(scope, prefix, dir, options) {
    files.addStatic(this, scope, prefix, dir, options);
  }

  sendFile(reply, name, options) {
    files.sendFile(this, reply, name, options);
  }

  addHook(scope, name, fn) {
    this.checkOpen(`addHook(${name})`);
    if (!HOOK_NAMES.includes(name)) {
      throw new TypeError(`addHook(): unknown hook ${name} (one of ${HOOK_NAMES.join(', ')})`);
    }
    if (typeof fn !== 'function') throw new TypeError('addHook(): the hook must be a function');
    scope._scope.hooks[name].push(adaptHook(name, fn, scope));
  }

  setErrorHandler(scope, fn) {
    this.checkOpen('setErrorHandler()');
    if (typeof fn !== 'function') throw new TypeError('setErrorHandler(): the handler must be a function');
    scope._scope.errorHandler = fn;
    scope._scope.errorApp = scope;
  }

  // A not-found handler answers the paths under its scope's prefix that no route has (the
  // deepest prefix wins); one per prefix, as in Fastify.
  setNotFoundHandler(scope, fn) {
    this.checkOpen('setNotFoundHandler()');
    if (typeof fn !== 'function') throw new TypeError('setNotFoundHandler(): the handler must be a function');
    const s = scope._scope;
    for (const other of this.notFounds) {
      if (other.scope._scope.prefix === s.prefix) {
        throw new Error(`setNotFoundHandler(): a not-found handler is already set for the prefix '${s.prefix || '/'}'`);
      }
    }
    s.notFound = routeEntry(-1, s.prefix + '/*', fn, scope, true);
    s.notFound.state = this;
    this.notFounds.push(s.notFound);
  }

  // The scope that answers for a path no route matched (scope.cjs): its compiled hooks and error
  // handler are in `scope.compiled`, its not-found route in `scope.notFound`.
  scopeForPath(path) {
    return scopes.scopeForPath(this, path);
  }

  register(scope, plugin, options) {
    this.checkOpen('register()');
    if (plugin !== null && typeof plugin === 'object' && typeof plugin.default === 'function') plugin = plugin.default;
    if (typeof plugin !== 'function') throw new TypeError('register(): the plugin must be a function');
    if (options === undefined || options === null) options = {};
    if (typeof options !== 'object') throw new TypeError('register(): options must be an object');
    const child = scopes.childApp(scope, plugin, scope.prefix + normalizePrefix(options.prefix), this);
    let result;
    if (plugin.length >= 3) {
      result = new Promise((resolve, reject) => {
        plugin.call(child, child, options, (err) => (err ? reject(err) : resolve()));
      });
    } else {
      result = plugin.call(child, child, options);
    }
    if (isThenable(result)) {
      this.pending.push(Promise.resolve(result).then(undefined, (err) => {
        if (this.pluginError === null) this.pluginError = err;
      }));
    }
  }

  // ---- start-up ----

  ready() {
    if (this.readyPromise === null) this.readyPromise = this.prepare();
    return this.readyPromise;
  }

  async prepare() {
    while (this.pending.length > 0) {
      const list = this.pending;
      this.pending = [];
      await Promise.all(list);
    }
    if (this.pluginError !== null) throw this.pluginError;
    this.freeze();
  }

  freeze() {
    this.frozen = true;
    const b = loadBinding();
    this.methods = b.methods;
    const logHooks = this.requestLogging ? logging.requestLogHooks() : null;
    const first = logHooks === null ? {} : { onRequest: [logHooks.onRequest] };
    const last = logHooks === null ? {} : { onResponse: [logHooks.onResponse] };
    for (const s of this.scopes) s.compile(first, last);
    const compile = (route) => {
      const s = route.scope._scope;
      const c = s.compiled;
      if (route.body === undefined) route.body = this.bodyMode;
      if (route.strictContentType === undefined) route.strictContentType = this.strictContentType;
      let fast = route.body !== 'parse';
      for (const name of HOOK_NAMES) {
        route[name] = c[name].concat(route.own[name]);
        if (route[name].length > 0) fast = false;
      }
      route.fast = fast;
      route.trust = this.trust;
      route.errorHandler = c.errorHandler;
      route.errorApp = c.errorApp;
      route.Request = s.Request;
      route.Reply = s.Reply;
    };
    for (const route of this.routes) compile(route);
    for (const nf of this.notFounds) {
      compile(nf);
      nf.id = this.routes.length;
      this.routes.push(nf);
    }
    if (wantsEngineAnswers(this)) {
      // No bypass: the engine hands its 405/OPTIONS/413 answers over, and the handler timeout
      // runs here (the engine's own, BACKSTOP_MS later, only if JavaScript never answers).
      this.engineRoute = makeEngineRoute(this, this.rootScope);
      this.engineRoute.id = this.routes.length;
      this.routes.push(this.engineRoute);
      this.config.engineAnswers = this.engineRoute.id;
      const ms = this.emulate.handlerTimeoutMs;
      if (ms > 0) {
        this.timeouts = new HandlerTimeouts(this, ms);
        this.config.handlerTimeoutMs = ms + BACKSTOP_MS;
      }
    }
    this.createHandle('127.0.0.1', 0);
    if (this.notFounds.length !== 0) {
      this.shadow = b.createServer({ ...this.config, host: '127.0.0.1', port: 0, routes: this.routeConfigs },
        () => {});
    }
  }

  // The routes createServer gets: the user's, plus for each not-found handler a catch-all
  // '<prefix>/*' (and the prefix itself) for every method that has no such route of its own. Not
  // for HEAD: the router serves HEAD with the GET route when there is no HEAD route, and the GET
  // catch-all is then what HEAD falls back to.
  serverRoutes() {
    if (this.notFounds.length === 0) return files.engineRoutes(this, this.routeConfigs);
    const routes = this.routeConfigs.slice();
    for (const nf of this.notFounds) {
      const prefix = nf.scope._scope.prefix;
      const paths = prefix === '' ? ['/*'] : [prefix + '/*', prefix];
      for (const path of paths) {
        const taken = new Set();
        for (const r of this.routeConfigs) {
          if (r.path !== path) continue;
          if (r.method === 'ALL') for (const m of ALL_METHODS) taken.add(m);
          else taken.add(r.method);
        }
        for (const m of ROUTABLE) {
          if (m !== 'HEAD' && !taken.has(m)) routes.push({ method: m, path, id: nf.id });
        }
      }
    }
    return routes;
  }

  createHandle(host, port) {
    const b = loadBinding();
    this.handle = b.createServer({ ...this.config, host, port, routes: this.serverRoutes(), ws: this.ws.configs() }, this.drain);
    this.handleAddress = `${host}|${port}`;
  }

  // The handle whose route table binding.match() reads.
  routeHandle() {
    return this.table !== null ? this.table : this.handle;
  }

  destroyHandles() {
    const b = binding;
    if (this.handle !== null) {
      const h = this.handle;
      this.handle = null;
      b.destroy(h);
    }
    if (this.table !== null) {
      const h = this.table;
      this.table = null;
      b.destroy(h);
    }
    if (this.shadow !== null) {
      const h = this.shadow;
      this.shadow = null;
      b.destroy(h);
    }
  }

  async listen(options, hostArg) {
    let port = 0;
    let host = '127.0.0.1';
    if (typeof options === 'number' || typeof options === 'string') {
      port = Number(options);
      if (typeof hostArg === 'string') host = hostArg;
    } else if (options !== undefined && options !== null) {
      if (typeof options !== 'object') throw new TypeError('listen(): options must be { port, host }');
      for (const k of Object.keys(options)) {
        if (k !== 'port' && k !== 'host') throw new TypeError(`listen(): unknown option ${k}`);
      }
      if (options.port !== undefined && options.port !== null) port = Number(options.port);
      if (options.host !== undefined) host = options.host;
    }
    if (!Number.isInteger(port) || port < 0 || port > 65535) {
      throw new RangeError(`listen(): invalid port ${String(options && options.port !== undefined ? options.port : options)}`);
    }
    if (typeof host !== 'string' || host === '') throw new TypeError('listen(): host must be a string');
    if (host === 'localhost') host = '127.0.0.1';
    if (this.closePromise !== null) throw new Error('listen(): the app was closed');
    if (this.listening) throw new Error('listen(): the app is already listening');
    this.listening = true;
    try {
      await this.ready();
      if (this.closePromise !== null) throw new Error('listen(): the app was closed');
      if (this.jsThreads > 1 && this.ws.routes.length > 0) {
        throw new Error('createApp({ jsThreads }): WebSocket routes (app.ws) are served by one JavaScript ' +
          'thread only; leave jsThreads out (or 1) in an app with WebSocket routes');
      }
      if (this.role !== null) return this.attachThread();
      const hub = this.bind(host, port);
      if (hub !== undefined) await this.startThreads(hub);
      return this.url;
    } catch (err) {
      this.listening = false;
      throw err;
    }
  }

  // nexurejs/http's listen(): binds and starts at once, so that server.address() answers right
  // after it as on Node. For an app without plugins (ready at once) and without jsThreads.
  listenNow(host, port) {
    if (this.closePromise !== null) throw new Error('listen(): the app was closed');
    if (this.listening) throw new Error('listen(): the app is already listening');
    if (this.pending.length !== 0 || this.jsThreads > 1 || this.role !== null) {
      throw new Error('listenNow(): only for an app without plugins and without jsThreads');
    }
    if (host === 'localhost') host = '127.0.0.1';
    this.listening = true;
    try {
      if (this.readyPromise === null) {
        this.freeze();
        this.readyPromise = Promise.resolve();
      }
      this.bind(host, port);
      return this.url;
    } catch (err) {
      this.listening = false;
      throw err;
    }
  }

  // Starts the engine on host:port (the app is ready); returns the hub of jsThreads, if any.
  bind(host, port) {
    const b = binding;
    if (this.handleAddress !== `${host}|${port}`) {
      if (this.handle !== null) b.destroy(this.handle);
      this.handle = null;
      this.createHandle(host, port);
    }
    let info;
    try {
      info = b.start(this.handle);
    } catch (err) {
      // The handle may not be started twice: build a fresh one for a later listen().
      b.destroy(this.handle);
      this.handle = null;
      this.handleAddress = null;
      this.createHandle('127.0.0.1', 0);
      throw err;
    }
    this.useHandle(this.handle);
    this.started = true;
    this.info = { port: info.port, address: info.address ?? host, threads: info.threads };
    const shown = this.info.address.includes(':') ? `[${this.info.address}]` : this.info.address;
    this.url = `http://${shown}:${info.port}`;
    return info.hub;
  }

  // The staging buffer, the index and the request views of a started (or attached) handle.
  useHandle(h) {
    const b = binding;
    this.staging = new Staging(b.staging(h));
    this.index = b.index(h);
    const views = b.requestViews(h);
    this.ringU8 = views.map((ab) => Buffer.from(ab));
    this.ringU32 = views.map((ab) => new Uint32Array(ab));
  }

  // jsThreads, on the thread that listens: the engine runs; start the JavaScript threads and
  // wait until each has attached. If one fails, the app closes and listen() rejects with why.
  async startThreads(hub) {
    const role = { hub, info: this.info, url: this.url, signature: jsThreads.routeSignature(this.serverRoutes()) };
    this.pool = new jsThreads.ThreadPool(this.jsThreads, role, this.errorLog);
    try {
      await this.pool.start();
    } catch (err) {
      this.listening = true;  // close() below ends the listen() that is failing
      await this.close();
      throw err;
    }
  }

  // jsThreads, on one of the JavaScript threads: serve a lane of the main thread's engine
  // instead of starting a server (the port and host given to listen() are the main thread's).
  attachThread() {
    const role = this.role;
    if (jsThreads.routeSignature(this.serverRoutes()) !== role.signature) {
      const err = new Error(`createApp({ jsThreads }): JavaScript thread ${role.lane} registered other routes than ` +
        'the thread that listens; the app module must build the same app on every thread (no routes that ' +
        'depend on isMainThread, on timing or on the environment of one thread)');
      jsThreads.announce('failed', err.message);
      throw err;
    }
    this.table = this.handle;
    this.handle = null;
    this.handle = binding.attachThread(role.hub, role.lane, this.drain);
    this.useHandle(this.handle);
    this.started = true;
    this.info = role.info;
    this.url = role.url;
    jsThreads.announce('ready');
    return this.url;
  }

  close() {
    if (this.closePromise !== null) return this.closePromise;
    this.closePromise = new Promise((resolve) => { this.closeResolve = resolve; });
    if (!this.started) {
      if (this.frozen || this.readyPromise !== null) {
        // ready() may still be creating the handles: destroy them once it settled.
        this.ready().then(() => this.destroyHandles(), () => this.destroyHandles())
          .then(() => this.closeResolve());
      } else {
        this.closeResolve();
      }
    } else {
      this.closing = true;
      binding.stop(this.handle);
      // drain() runs once more when binding.stopped() turns true, and finishes the close.
    }
    return this.closePromise;
  }

  finishClose() {
    if (this.stoppedSeen) return;
    this.stoppedSeen = true;
    // Not from inside the drain callback: destroy() tears down the doorbell that called it.
    if (this.timeouts !== null) this.timeouts.stop();
    this.outbound.abortAll();  // streams still open: their sources are destroyed
    this.ws.closeAll();  // sockets whose close event was not read before their worker ended
    setImmediate(async () => {
      this.destroyHandles();
      this.started = false;
      this.listening = false;
      this.info = null;
      if (this.pool !== null) {
        const pool = this.pool;
        this.pool = null;
        await pool.close();
      }
      if (this.role !== null) jsThreads.announce('closed');
      this.closeResolve();
    });
  }

  // ---- the drain loop (PROTOCOL.md) ----

  // The drain yielded to let a batch's async work run (drain() below): go on.
  resumeDrain() {
    this.resuming = false;
    if (this.handle !== null && this.started && !this.stoppedSeen) this.bodies.writeCredits();
    this.drain();
  }

  drain() {
    const h = this.handle;
    if (h === null || !this.started || this.stoppedSeen) return;
    const b = binding;
    if (this.pool !== null) {
      // The JavaScript threads answer; this thread's drain only runs when the engine ended.
      if (b.stopped(h)) this.finishClose();
      return;
    }
    const index = this.index;
    const staging = this.staging;
    let staged = staging.pos;
    staging.pos = 0;
    this.inDrain = true;
    try {
      for (;;) {
        if (this.batchLength !== 0) this.retainBatch();
        let n;
        try {
          n = b.pull(h, staged, BATCH);
        } catch (err) {
          // A staged record was refused (a bug on this side): the records before it were handed
          // over, the batch was released; carry on with the next one.
          this.errorLog.log('the native binding refused staged responses', err);
          staged = 0;
          continue;
        }
        staged = 0;
        if (this.afterFlush.length !== 0) this.runAfterFlush();
        if (n === 0) break;
        const routes = this.routes;
        const methods = this.methods;
        if (this.timeouts !== null) this.timeouts.newBatch();
        let k = 0;
        let pending = false;  // a request of this batch is still being answered
        for (let i = 0, j = 0; i < n; i++, j += 3) {
          const w = index[j];
          const off = index[j + 1];
          const u8 = this.ringU8[w];
          const u32 = this.ringU32[w];
          const handler = u32[(off >>> 2) + REQ.HANDLER];
          // An event record's handler id (0xFFFFFFFF) is no array index: routes[] of it would
          // look a property up by its decimal string, once per WebSocket message.
          const route = handler === EVENT.HANDLER_ID ? undefined : routes[handler];
          if (route === undefined) {
            // An event record (handler id 0xFFFFFFFF): abort, writable, body pieces.
            this.events.dispatch(w, u8, u32, off);
            continue;
          }
          const req = new route.Request(u8, u32, off, w, route, methodOf(methods, u8, u32, off), this.nextId++);
          if (this.idSource !== null) this.assignId(req);
          const reply = new route.Reply(this, req);
          if (isStreamRequest(u8, off)) this.bodies.open(req, w);
          this.batch[k] = reply;
          if (route.fallback) this.batch[k] = this.fallback(route, req, reply);
          else this.dispatch(route, req, reply);
          const r = this.batch[k];
          if (r._phase !== STATE_DONE || r.request._running !== 0 || route.answersOnNextTick) {
            pending = true;
            if (this.timeouts !== null && r._phase === STATE_OPEN) this.timeouts.track(r);
          }
          k++;
        }
        this.batchLength = k;
        this.bodies.writeCredits();
        staged = staging.pos;
        staging.pos = 0;
        if (pending) {
          // Pulling again now would release this batch while its async hooks and handlers have
          // only started, so each of them would be copied out of the ring (retainBatch). Let
          // the microtasks run first and drain again right after them: those that only awaited
          // settled promises are done by then and keep reading the ring in place.
          if (staged !== 0) this.handOver(staged);
          this.resuming = true;
          setImmediate(this.resumeDrain);
          break;
        }
      }
    } finally {
      this.inDrain = false;
    }
    if (this.closing && b.stopped(h)) this.finishClose();
    // A JavaScript thread whose engine has ended closes its app.
    else if (this.role !== null && !this.closing && b.stopped(h)) this.close();
  }

  // A body-control record for a streamed body (body-stream.cjs), staged like a response.
  stageBodyControl(bs, op, value) {
    const h = this.handle;
    if (h === null || this.stoppedSeen || !this.started) return;
    const staging = this.staging;
    if (!staging.control(bs.worker, bs.ticket, op, value)) {
      this.flushStaged();
      staging.control(bs.worker, bs.ticket, op, value);
    }
    this.scheduleFlush();
  }

  // Hands the staged records over now (the staging buffer is full, or holds enough stashed
  // bytes that the backlog bound must see them).
  flushStaged() {
    const staged = this.staging.pos;
    if (staged === 0) return;
    this.staging.pos = 0;
    this.handOver(staged);
  }

  // Hands the first `staged` bytes of the staging buffer over (its position already reset).
  handOver(staged) {
    try {
      binding.flush(this.handle, staged);
    } catch (err) {
      this.errorLog.log('the native binding refused staged responses', err);
    }
  }

  // The current batch is about to be released by pull(): keep what is still in use.
  retainBatch() {
    const batch = this.batch;
    for (let i = 0; i < this.batchLength; i++) {
      const reply = batch[i];
      batch[i] = null;
      const req = reply.request;
      if (req._running === 0 && reply._phase === STATE_DONE) req._detach();
      else req._retain();
    }
    this.batchLength = 0;
  }

  flushTask() {
    this.flushScheduled = false;
    const h = this.handle;
    if (h === null || this.stoppedSeen || !this.started) return;
    // A drain resumes right after the microtasks (it yielded to them) and hands the staged
    // records over with its pull: one native call fewer.
    if (this.resuming) return;
    this.bodies.writeCredits();
    this.flushStaged();
    if (this.afterFlush.length !== 0) this.runAfterFlush();
  }

  runAfterFlush() {
    const list = this.afterFlush;
    this.afterFlush = [];
    for (let i = 0; i < list.length; i++) this.runOnResponse(list[i]);
  }

  // req.id from genReqId / requestIdHeader (logger.cjs); a failing genReqId keeps the number.
  assignId(req) {
    try {
      req.id = this.idSource(req, req.id);
    } catch (err) {
      this.errorLog.log('genReqId() failed; the request keeps a numeric id', err);
    }
  }

  // ---- the pipeline ----

  dispatch(route, req, reply) {
    if (!route.fast) {
      this.runHooked(route, req, reply);
      return;
    }
    let v;
    try {
      v = route.handler.call(route.scope, req, reply);
    } catch (err) {
      req._running--;
      this.fail(req, reply, err);
      return;
    }
    if (isThenable(v)) {
      this.awaitHandler(req, reply, v);
      return;
    }
    req._running--;
    if (v !== undefined && v !== reply) this.answer(reply, v);
  }

  // (The handler's own count is taken off when it settles: an error handler the handler timeout
  // started meanwhile keeps its own.)
  async awaitHandler(req, reply, promise) {
    let v;
    try {
      v = await promise;
    } catch (err) {
      req._running--;
      if (reply._timedOut) return;  // answered for already; the late error is moot
      this.fail(req, reply, err);
      return;
    }
    req._running--;
    if (v !== undefined && v !== reply) this.answer(reply, v);
  }

  // The pipeline of a route with hooks, as steps: its onRequest hooks, the body parse (a
  // `body: 'parse'` route), its preHandler hooks, then the handler. Steps run synchronously
  // until one returns a promise: only then does the rest wait for it (awaitHooked), so hooks
  // and handlers that return plain values cost no promise, and each that returns a promise one
  // await.
  runHooked(route, req, reply) {
    this.hookedFrom(route, req, reply, 0);
  }

  hookedFrom(route, req, reply, step) {
    const last = handlerStep(route);
    try {
      for (; step <= last; step++) {
        const r = this.hookedStep(route, req, reply, step);
        if (isThenable(r)) {
          this.awaitHooked(route, req, reply, step, r);
          return;
        }
        if (!this.hookedNext(reply, step, last, r)) break;
      }
    } catch (err) {
      if (!reply._timedOut) this.fail(req, reply, err);
    }
    req._running--;
  }

  // The rest of the pipeline once step `step` returned `promise`: in this one async frame, one
  // await per step that returns a promise (a frame per awaited step cost as much again).
  async awaitHooked(route, req, reply, step, promise) {
    const last = handlerStep(route);
    try {
      let v = await promise;
      while (this.hookedNext(reply, step, last, v)) {
        step++;
        v = this.hookedStep(route, req, reply, step);
        if (isThenable(v)) v = await v;
      }
    } catch (err) {
      if (!reply._timedOut) this.fail(req, reply, err);
    }
    req._running--;
  }

  // Runs step `step` of the pipeline (hookedFrom); returns what it returned.
  hookedStep(route, req, reply, step) {
    const a = route.onRequest.length;
    if (step < a) return route.onRequest[step](req, reply);
    if (step === a) {
      if (route.body === 'parse') {
        const err = req._parseBody();
        if (err !== null) throw err;
      }
      return undefined;
    }
    if (step < handlerStep(route)) return route.preHandler[step - a - 1](req, reply);
    return route.handler.call(route.scope, req, reply);
  }

  // After step `step` gave `v`: whether the next step runs. The handler's value is the answer;
  // a hook that answered (or a handler timeout) ends the pipeline.
  hookedNext(reply, step, last, v) {
    if (step === last) {
      if (v !== undefined && v !== reply) this.answer(reply, v);
      return false;
    }
    return reply._phase === STATE_OPEN && !reply._timedOut;
  }

  // A value a handler returned (or resolved with). After the handler timeout answered for it,
  // the value is dropped.
  answer(reply, v) {
    if (reply._timedOut) return;
    this.answerWith(reply, v);
  }

  // A value a handler or the error handler returned.
  answerWith(reply, v) {
    if (reply._phase === STATE_OPEN) this.send(reply, v);
    else if (!reply._timedOut) this.warnAlreadySent();
  }

  warnAlreadySent() {
    if (this.warnedSent) return;
    this.warnedSent = true;
    process.emitWarning('a reply was sent twice (reply.send() called again, or a value returned ' +
      'after reply.send()); the second payload is ignored. Further cases are not reported.',
    { code: 'NEXURE_REPLY_ALREADY_SENT' });
  }

  send(reply, payload) {
    reply._phase = STATE_SENDING;
    // Being answered (a streamed reply never reaches commit()): the JS handler timeout is over.
    if (reply._waiting !== null) this.timeouts.untrack(reply);
    const req = reply.request;
    let body;
    if (typeof payload === 'string') {
      body = payload;
      if (reply._type === null) reply._type = TEXT;
    } else if (payload === undefined) {
      body = null;
    } else if (payload instanceof Uint8Array) {
      body = payload;
      if (reply._type === null) reply._type = OCTET;
    } else if (payload instanceof ArrayBuffer) {
      body = Buffer.from(payload);
      if (reply._type === null) reply._type = OCTET;
    } else if (payload instanceof files.FileAnswer) {
      body = payload;  // reply.sendFile(): the engine sends the file (files.cjs)
    } else {
      if (isStreamPayload(payload)) {
        this.sendStream(reply, payload, false);
        return;
      }
      const invalid = payloadError(payload);
      if (invalid !== null) {
        this.fail(req, reply, invalid);
        return;
      }
      try {
        body = JSON.stringify(payload);
      } catch (err) {
        this.fail(req, reply, err);
        return;
      }
      if (body === undefined) body = null;
      else if (reply._type === null) reply._type = JSON_TYPE;
    }
    if (req._route.onSend.length !== 0) {
      this.runOnSend(req, reply, body);
      return;
    }
    try {
      this.commit(reply, body);
    } catch (err) {
      this.fail(req, reply, err);
    }
  }

  // The route's onSend hooks, each given the body and able to replace it, then the commit. As
  // the pipeline: synchronous until a hook returns a promise (awaitOnSend).
  runOnSend(req, reply, body) {
    this.onSendFrom(req, reply, body, 0);
  }

  onSendFrom(req, reply, body, i) {
    const hooks = req._route.onSend;
    try {
      for (; i < hooks.length; i++) {
        const r = hooks[i](req, reply, body);
        if (isThenable(r)) {
          req._running++;  // keeps the request readable while the hook runs (retainBatch)
          this.awaitOnSend(req, reply, body, i, r);
          return;
        }
        body = onSendBody(body, r);
      }
      this.commit(reply, body);
    } catch (err) {
      this.fail(req, reply, err);
    }
  }

  async awaitOnSend(req, reply, body, i, promise) {
    let next;
    try {
      next = onSendBody(body, await promise);
    } catch (err) {
      req._running--;
      this.fail(req, reply, err);
      return;
    }
    req._running--;
    this.onSendFrom(req, reply, next, i + 1);
  }

  // Hands the response over: a record in the staging buffer (or the inject result).
  commit(reply, body) {
    if (reply._phase === STATE_DONE) return;
    if (reply._waiting !== null) this.timeouts.untrack(reply);
    const req = reply.request;
    if (req._stream !== null && !req._stream.finished) {
      // Answered before its streamed body ended: the rest is dropped (by the engine too).
      if (req._inject !== null) req._stream.answered();
      else this.bodies.answered(req._stream);
    }
    if (req._inject !== null) {
      if (body instanceof files.FileAnswer) body = body.read();
      reply._phase = STATE_DONE;
      req._inject.finish(reply, body);
      this.afterCommit(req, reply);
      return;
    }
    const h = this.handle;
    if (h === null || this.stoppedSeen) {
      // The server is gone; the engine has answered or closed the connection already.
      reply._phase = STATE_DONE;
      return;
    }
    let fileFlag = 0;
    if (body instanceof files.FileAnswer) {
      body = body.encode();  // the record names the file; the worker sends it (PROTOCOL.md)
      fileFlag = files.FLAG_FILE;
    }
    let inline = body;
    let stashId = 0;
    let stashLength = 0;
    if (body !== null) {
      let big = null;
      if (typeof body === 'string') {
        if (body.length > RES.MAX_INLINE_BODY / 3 && Buffer.byteLength(body) > RES.MAX_INLINE_BODY) {
          big = Buffer.from(body, 'utf8');
        }
      } else if (body.length > RES.MAX_INLINE_BODY) {
        big = body;
      }
      if (big !== null) {
        stashId = binding.stash(h, big);
        stashLength = big.length;
        inline = null;
      }
    }
    const flags = (reply._close ? RES.FLAG_CLOSE : 0) | fileFlag | reply._compress;
    this.stageRecord(req._worker, req._u32, req._off >>> 2, reply.statusCode, flags, reply._type,
      reply._headers, inline, stashId, stashLength);
    reply._phase = STATE_DONE;
    if (req._watch !== null) this.outbound.answered(req);
    this.scheduleFlush();
    this.afterCommit(req, reply);
  }

  // Appends a response record to the staging buffer, handing the staged ones over first when
  // it is full.
  stageRecord(worker, ticketU32, ticketAt, status, flags, type, headers, body, stashId = 0, stashLength = 0) {
    const staging = this.staging;
    if (!staging.write(worker, ticketU32, ticketAt, status, flags, type, headers, body, stashId, stashLength)) {
      this.flushStaged();
      staging.write(worker, ticketU32, ticketAt, status, flags, type, headers, body, stashId, stashLength);
    }
  }

  // Staged records leave at the end of the drain, or from a microtask outside it.
  scheduleFlush() {
    if (!this.inDrain && !this.flushScheduled) {
      this.flushScheduled = true;
      queueMicrotask(this.flushTask);
    }
  }

  // reply.send(stream): onSend hooks see the stream (one may replace it: a stream, or a body),
  // then it is streamed (stream-reply.cjs). `sse`: the head goes out at once.
  sendStream(reply, source, sse) {
    const req = reply.request;
    if (req._route.onSend.length === 0) {
      this.outbound.start(req, reply, source, sse);
      return;
    }
    this.runOnSendStream(req, reply, source, sse);
  }

  async runOnSendStream(req, reply, source, sse) {
    req._running++;
    try {
      const hooks = req._route.onSend;
      for (let i = 0; i < hooks.length; i++) {
        let r = hooks[i](req, reply, source);
        if (isThenable(r)) r = await r;
        if (r === undefined || r === source) continue;
        if (isStreamPayload(r)) {
          source = r;
          continue;
        }
        if (typeof source.destroy === 'function') source.destroy();
        if (r === null || typeof r === 'string' || r instanceof Uint8Array) {
          this.commit(reply, r);
          return;
        }
        throw new TypeError('an onSend hook must return a string, a Buffer, a stream, null or undefined');
      }
      this.outbound.start(req, reply, source, sse);
    } catch (err) {
      this.fail(req, reply, err);
    } finally {
      req._running--;
    }
  }

  // reply.sse(source, options) (sse.cjs).
  sse(reply, source, options) {
    if (reply._phase !== STATE_OPEN) {
      this.warnAlreadySent();
      return;
    }
    reply._phase = STATE_SENDING;
    let frames;
    try {
      frames = sseSource(source, options);
    } catch (err) {
      this.fail(reply.request, reply, err);
      return;
    }
    reply._type = 'text/event-stream';
    reply.header('cache-control', 'no-cache');
    reply.header('x-accel-buffering', 'no');
    reply._length = null;
    this.sendStream(reply, frames, true);
  }

  afterCommit(req, reply) {
    if (req._route.onResponse.length === 0) return;
    req._running++;
    if (req._inject !== null) queueMicrotask(() => this.runOnResponse(reply));
    else this.afterFlush.push(reply);
  }

  async runOnResponse(reply) {
    const req = reply.request;
    try {
      const route = req._route;
      const hooks = route.onResponse;
      for (let i = 0; i < hooks.length; i++) {
        const r = hooks[i](req, reply);
        if (isThenable(r)) await r;
      }
    } catch (err) {
      this.errorLog.log('an onResponse hook failed', err);
    } finally {
      req._running--;
    }
  }

  // ---- errors ----

  fail(req, reply, err) {
    if (reply._phase === STATE_DONE) {
      this.errorLog.log(`error after the response to ${describe(req)} was sent`, err);
      return;
    }
    if (reply._errored) {
      this.plain500(req, reply, err);
      return;
    }
    reply._errored = true;
    reply._phase = STATE_OPEN;
    reply._type = null;
    reply.statusCode = statusOf(err);
    const route = req._route;
    const handler = route.errorHandler;
    if (handler === null) {
      this.defaultError(req, reply, err);
      return;
    }
    req._running++;
    let v;
    try {
      v = handler.call(route.errorApp, err, req, reply);
    } catch (err2) {
      req._running--;
      this.plain500(req, reply, err2);
      return;
    }
    if (isThenable(v)) {
      this.awaitErrorHandler(req, reply, v);
      return;
    }
    req._running--;
    if (v !== undefined && v !== reply) this.answerWith(reply, v);
  }

  async awaitErrorHandler(req, reply, promise) {
    let v;
    try {
      v = await promise;
    } catch (err) {
      req._running--;
      this.plain500(req, reply, err);
      return;
    }
    req._running--;
    if (v !== undefined && v !== reply) this.answerWith(reply, v);
  }

  defaultError(req, reply, err) {
    const status = reply.statusCode;
    if (status >= 500) this.errorLog.log(`${describe(req)} answered ${status}`, err);
    const body = { statusCode: status, error: reasonPhrase(status), message: messageOf(err) };
    if (err !== null && typeof err === 'object' && typeof err.code === 'string') body.code = err.code;
    this.send(reply, body);
  }

  // The answer when handling an error failed too: 500, text, no hooks.
  plain500(req, reply, err) {
    if (reply._phase === STATE_DONE) {
      this.errorLog.log(`error after the response to ${describe(req)} was sent`, err);
      return;
    }
    this.errorLog.log(`the error handler failed for ${describe(req)}; answered 500`, err);
    reply._phase = STATE_SENDING;
    reply.statusCode = 500;
    reply._type = 'text/plain';
    reply._headers = null;
    try {
      this.commit(reply, 'Internal Server Error\n');
    } catch (err2) {
      this.errorLog.log(`could not answer ${describe(req)}`, err2);
    }
  }

  // ---- not-found handling (setNotFoundHandler) ----

  // A request that reached a catch-all registered for a not-found handler: route it again
  // without the catch-alls, and answer as the engine would have (the real route, a fixed
  // response, 405, OPTIONS), or call the not-found handler. Returns the reply that answers (a new
  // one when the real route's scope has other request or reply classes).
  fallback(route, req, reply) {
    if (route.wsUpgrade !== undefined) return this.ws.upgrade(route.wsUpgrade, req, reply);
    if (route.engine) return runEngineAnswer(this, req, reply, engineStatusOf(req), null);
    let m;
    try {
      m = binding.match(this.shadow, req.method, req.path);
    } catch (err) {
      this.fail(req, reply, err);
      return reply;
    }
    switch (m.kind) {
      case 'found': {
        const target = this.routes[m.id];
        if (target.Request !== route.Request || target.Reply !== route.Reply) {
          const again = new target.Request(req._u8, req._u32, req._off, req._worker, target, req.method, req.id);
          again._inject = req._inject;
          req = again;
          reply = new target.Reply(this, req);
        }
        req._route = target;
        const params = {};
        for (const name of Object.keys(m.params)) params[name] = decodeString(m.params[name]);
        req._params = params;
        this.dispatch(target, req, reply);
        return reply;
      }
      case 'fixed':
        this.engineAnswer(req, reply, m.status, null, fixedHeaders(m.headers), m.body);
        return reply;
      case 'methodNotAllowed':
        // (A not-found handler makes the app take the engine's answers: engine-answers.cjs.)
        return runEngineAnswer(this, req, reply, 405, m);
      case 'options':
        return runEngineAnswer(this, req, reply, 204, m);
      case 'notImplemented':
        this.engineAnswer(req, reply, 501, 'text/plain', null, 'Not Implemented\n');
        return reply;
      default:
        // The '*' of the internal catch-all is not a parameter of the user's.
        req._params = {};
        reply.statusCode = 404;
        this.dispatch(route, req, reply);
        return reply;
    }
  }

  engineAnswer(req, reply, status, type, headers, body) {
    req._route = ENGINE_ROUTE;
    req._running = 0;
    reply._phase = STATE_SENDING;
    reply.statusCode = status;
    reply._type = type;
    reply._headers = headers;
    try {
      this.commit(reply, body);
    } catch (err) {
      this.plain500(req, reply, err);
    }
  }
}

// A fixed route's headers from binding.match() as a reply's header object.
function fixedHeaders(list) {
  const out = { __proto__: null };
  const pairs = Array.isArray(list) ? list : Object.entries(list || {});
  for (const [n, v] of pairs) {
    const k = n.toLowerCase();
    const prev = out[k];
    if (prev === undefined) out[k] = v;
    else if (Array.isArray(prev)) prev.push(v);
    else out[k] = [prev, v];
  }
  return out;
}

function decodeString(s) {
  const b = Buffer.from(s, 'latin1');
  return decodeComponent(b, 0, b.length, false);
}

function messageOf(err) {
  if (err instanceof Error) return err.message;
  if (err !== null && typeof err === 'object' && typeof err.message === 'string') return err.message;
  return String(err);
}

function describe(req) {
  let url = req._url;
  if (url === undefined) {
    try {
      url = req.url;
    } catch {
      url = '(released)';
    }
  }
  return `${req.method} ${url}`;
}

// ---- App: the public object (the root, or a plugin's scope with a prefix) -----------------

class App {
  constructor(state, prefix, scope) {
    this._state = state;
    this.prefix = prefix;
    this._scope = scope;
  }

  // The app's logger (logger.cjs): pino when createApp() got `logger`, else one that does nothing.
  get log() {
    return this._state.log;
  }

  route(options) {
    if (options === null || typeof options !== 'object') throw new TypeError('route(): options must be an object');
    const { method, url, path, handler, ...rest } = options;
    this._state.addRoute(this, method, url ?? path, rest, handler);
    return this;
  }

  get(path, options, handler) { this._state.addRoute(this, 'GET', path, options, handler); return this; }
  head(path, options, handler) { this._state.addRoute(this, 'HEAD', path, options, handler); return this; }
  post(path, options, handler) { this._state.addRoute(this, 'POST', path, options, handler); return this; }
  put(path, options, handler) { this._state.addRoute(this, 'PUT', path, options, handler); return this; }
  patch(path, options, handler) { this._state.addRoute(this, 'PATCH', path, options, handler); return this; }
  delete(path, options, handler) { this._state.addRoute(this, 'DELETE', path, options, handler); return this; }
  options(path, options, handler) { this._state.addRoute(this, 'OPTIONS', path, options, handler); return this; }
  all(path, options, handler) { this._state.addRoute(this, 'ALL', path, options, handler); return this; }

  fixed(method, path, response) {
    this._state.addFixed(this, method, path, response);
    return this;
  }

  // A WebSocket route (ws.cjs; napi/README.md "WebSocket").
  ws(path, behaviour) {
    const s = this._state;
    s.checkOpen(`ws(${path})`);
    if (typeof path !== 'string' || path[0] !== '/') {
      throw new TypeError(`ws(): the path must be a string starting with '/', got ${String(path)}`);
    }
    const full = joinPath(this.prefix, path, true)[0];
    const wsRoute = s.ws.add(full, behaviour);
    if (behaviour.upgrade !== undefined) {
      // Its upgrade requests come as request records to a pseudo-route (fallback() → ws.cjs).
      const route = routeEntry(s.routes.length, full, null, this, true);
      route.state = s;
      route.wsUpgrade = wsRoute;
      s.routes.push(route);
      wsRoute.upgradeId = route.id;
    }
    return this;
  }

  // Sends `data` to every subscriber of `topic` on every worker; false when not listening.
  publish(topic, data, isBinary, compress) {
    return this._state.ws.publishAll(topic, data, isBinary, compress);
  }

  addHook(name, fn) {
    this._state.addHook(this, name, fn);
    return this;
  }

  // Serves the files of `dir` at GET '<prefix>/*' (files.cjs; napi/README.md "Files").
  static(prefix, dir, options) {
    this._state.addStatic(this, prefix, dir, options);
    return this;
  }

  setErrorHandler(fn) {
    this._state.setErrorHandler(this, fn);
    return this;
  }

  setNotFoundHandler(fn) {
    this._state.setNotFoundHandler(this, fn);
    return this;
  }

  register(plugin, options) {
    this._state.register(this, plugin, options);
    return this;
  }

  async ready() {
    await this._state.ready();
    return this;
  }

  listen(options, host) {
    return this._state.listen(options, host);
  }

  close() {
    return this._state.close();
  }

  inject(options) {
    return inject(this._state, options);
  }

  // { address, family, port } while listening, else null.
  address() {
    const info = this._state.info;
    if (info === null) return null;
    return { address: info.address, family: info.address.includes(':') ? 'IPv6' : 'IPv4', port: info.port };
  }

  // { port, address, threads, url } while listening, else null.
  get server() {
    const s = this._state;
    return s.info === null ? null : { ...s.info, url: s.url };
  }
}

scopes.install(App.prototype, scopes.appMethods);
cookies.install(App.prototype, cookies.appMethods);

function createApp(options) {
  const state = new State(options);
  const app = new App(state, '', state.rootScope);
  state.root = app;
  return app;
}

module.exports = { createApp, App, State, loadBinding, ROUTABLE, TEXT, JSON_TYPE, OCTET, ANSWERS_ON_NEXT_TICK };
