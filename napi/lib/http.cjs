'use strict';
// nexurejs/http: a node:http-compatible server on the engine (README, "nexurejs/http").
//
//   const http = require('nexurejs/http');
//   http.createServer(expressApp).listen(3000);
//
// createServer() returns a Server whose 'request' events carry Node's own http.IncomingMessage
// and http.ServerResponse (http-exchange.cjs), so Express, Koa, Fastify (serverFactory) and Hono
// (@hono/node-server) run unchanged. Under it is a nexurejs app with one catch-all route that
// streams request bodies: the engine parses, routes nothing, and keeps connections, order and
// backpressure; Node's ServerResponse writes the bytes of each answer.
//
// What Node's server does that this one does not is refused with an error that says so
// (unsupportedOption, the 'newListener' check, the methods at the end): README lists them.

const EventEmitter = require('node:events');
const nodeHttp = require('node:http');
const { createApp, ANSWERS_ON_NEXT_TICK } = require('./app.cjs');
const { serve } = require('./http-exchange.cjs');

// The methods the catch-all route takes: the ones the engine names, and OTHER for every other
// one (WebDAV's and custom methods). CONNECT is refused by the engine (tunnels are not offered).
const METHODS = ['GET', 'HEAD', 'POST', 'PUT', 'DELETE', 'OPTIONS', 'TRACE', 'PATCH', 'OTHER'];

// Where listen() without a host binds: every interface, IPv6 and IPv4 (a dual-stack socket), as
// Node does.
const DEFAULT_HOST = '::';

// createServer options Node has and this server does not honour: refused by name.
const UNSUPPORTED_OPTIONS = new Set([
  'insecureHTTPParser', 'requireHostHeader', 'rejectNonStandardBodyWrites', 'uniqueHeaders',
  'joinDuplicateHeaders', 'highWaterMark', 'connectionsCheckingInterval', 'requestTimeout',
  'headersTimeout', 'keepAliveInitialDelay', 'noDelay', 'keepAlive', 'maxHeaderSize',
]);
// Server events that never fire here (no per-connection objects, no upgrades yet): listening
// for them is refused, so that nothing waits for them silently.
const UNSUPPORTED_EVENTS = new Map([
  ['upgrade', "the 'upgrade' event (WebSocket libraries) is not supported yet by nexurejs/http; use nexurejs's own app.ws() routes"],
  ['connect', "the 'connect' event (HTTP CONNECT tunnels) is not supported by nexurejs/http"],
  ['checkContinue', "the 'checkContinue' event is not supported by nexurejs/http: the engine sends 100 Continue when the request body is first read"],
  ['checkExpectation', "the 'checkExpectation' event is not supported by nexurejs/http: the engine answers unknown expectations itself"],
]);

function unsupported(what) {
  const err = new Error(`nexurejs/http: ${what}`);
  err.code = 'NEXURE_ERR_HTTP_UNSUPPORTED';
  return err;
}

function checkTimeout(name, v) {
  if (!Number.isInteger(v) || v < 0) {
    throw new TypeError(`nexurejs/http: ${name} must be an integer >= 0 (milliseconds), got ${v}`);
  }
  return v;
}

class Server extends EventEmitter {
  constructor(options, requestListener) {
    super();
    if (typeof options === 'function') {
      requestListener = options;
      options = {};
    } else if (options === undefined || options === null) {
      options = {};
    } else if (typeof options !== 'object') {
      throw new TypeError('nexurejs/http: createServer(options, listener): options must be an object');
    }
    this.IncomingMessageClass = nodeHttp.IncomingMessage;
    this.ServerResponseClass = nodeHttp.ServerResponse;
    this.keepAliveTimeout = 5000;
    this.timeout = 0;
    this.maxHeadersCount = null;
    this.maxRequestsPerSocket = 0;
    let engine = {};
    for (const key of Object.keys(options)) {
      const v = options[key];
      if (v === undefined) continue;
      switch (key) {
        case 'IncomingMessage':
          if (typeof v !== 'function' || !(v.prototype instanceof nodeHttp.IncomingMessage || v === nodeHttp.IncomingMessage)) {
            throw new TypeError('nexurejs/http: option IncomingMessage must be http.IncomingMessage or a class derived from it');
          }
          this.IncomingMessageClass = v;
          break;
        case 'ServerResponse':
          if (typeof v !== 'function' || !(v.prototype instanceof nodeHttp.ServerResponse || v === nodeHttp.ServerResponse)) {
            throw new TypeError('nexurejs/http: option ServerResponse must be http.ServerResponse or a class derived from it');
          }
          this.ServerResponseClass = v;
          break;
        case 'keepAliveTimeout': this.keepAliveTimeout = checkTimeout(key, v); break;
        case 'nexure':
          if (v === null || typeof v !== 'object') throw new TypeError('nexurejs/http: option nexure must be an object (createApp options)');
          engine = v;
          break;
        default:
          if (UNSUPPORTED_OPTIONS.has(key)) throw unsupported(`createServer option ${key} is not supported (README, "nexurejs/http")`);
          throw new TypeError(`nexurejs/http: unknown createServer option ${key}`);
      }
    }
    this.engineOptions = engine;
    this.app = null;
    this.listening = false;
    this.closing = false;
    this.on('newListener', (name) => {
      const why = UNSUPPORTED_EVENTS.get(name);
      if (why !== undefined) throw unsupported(why);
    });
    if (requestListener !== undefined) {
      if (typeof requestListener !== 'function') throw new TypeError('nexurejs/http: the request listener must be a function');
      this.on('request', requestListener);
    }
  }

  // listen(port[, host][, backlog][, callback]), listen(options[, callback]), listen([callback]).
  listen(...args) {
    let callback;
    if (typeof args[args.length - 1] === 'function') callback = args.pop();
    let port = 0;
    let host;
    if (args[0] !== null && typeof args[0] === 'object') {
      const o = args[0];
      if (o.path !== undefined) throw unsupported('listening on a Unix socket path is not supported');
      port = o.port ?? 0;
      host = o.host;
    } else {
      if (args[0] !== undefined && args[0] !== null) port = args[0];
      if (typeof args[1] === 'string') host = args[1];
    }
    if (typeof port === 'string' && !/^\d+$/.test(port)) throw unsupported(`listening on a Unix socket path (${port}) is not supported`);
    if (typeof port === 'string' && /^\d+$/.test(port)) port = Number(port);
    if (!Number.isInteger(port) || port < 0 || port > 65535) {
      const err = new RangeError(`nexurejs/http: listen(): port must be an integer 0-65535, got ${String(port)}`);
      err.code = 'ERR_SOCKET_BAD_PORT';
      throw err;
    }
    if (this.app !== null) {
      const err = new Error('nexurejs/http: listen() was called already; close() the server first');
      err.code = 'ERR_SERVER_ALREADY_LISTEN';
      throw err;
    }
    if (callback !== undefined) this.once('listening', callback);
    const app = this.makeApp();
    this.app = app;
    // Bound at once, as Node's server is: address() answers right after listen() (supertest and
    // others read it there); 'listening' and 'error' follow on the next tick, as on Node.
    try {
      app._state.listenNow(host ?? DEFAULT_HOST, port);
    } catch (err) {
      this.app = null;
      // As Node's listen errors: the errno's name in `code` (from the engine), and where.
      err.syscall ??= 'listen';
      err.address ??= host ?? DEFAULT_HOST;
      err.port ??= port;
      process.nextTick(() => this.emit('error', err));
      return this;
    }
    this.listening = true;
    process.nextTick(() => this.emit('listening'));
    return this;
  }

  makeApp() {
    const app = createApp({
      handlerTimeoutMs: 0,
      idleTimeoutMs: this.keepAliveTimeout,
      ...this.engineOptions,
    });
    const handler = (req, reply) => serve(this, app._state, req, reply);
    const options = { body: 'stream', [ANSWERS_ON_NEXT_TICK]: true };
    app.route({ method: METHODS, url: '/*', ...options, handler });
    app.route({ method: METHODS, url: '/', ...options, handler });
    return app;
  }

  address() {
    return this.app === null || !this.listening ? null : this.app.address();
  }

  // Node's net.Server holds its listening handle here, and libraries test it to know whether
  // the server listens (supertest closes the servers it started only when it is set).
  get _handle() {
    return this.listening && this.app !== null ? this.app._state.handle : null;
  }

  close(callback) {
    if (typeof callback === 'function') {
      if (this.app === null) {
        const err = new Error('Server is not running.');
        err.code = 'ERR_SERVER_NOT_RUNNING';
        process.nextTick(callback, err);
        return this;
      }
      this.once('close', callback);
    }
    const app = this.app;
    if (app === null || this.closing) return this;
    this.closing = true;
    app.close().then(() => {
      this.app = null;
      this.listening = false;
      this.closing = false;
      this.emit('close');
    }, (err) => this.emit('error', err));
    return this;
  }

  setTimeout(ms, callback) {
    this.timeout = checkTimeout('setTimeout(ms)', ms);
    if (typeof callback === 'function') this.on('timeout', callback);
    return this;
  }

  // A 'request' listener threw. Node's server lets the exception crash the process; this one
  // reports it and answers 500 (or cuts an answer already begun), so one bad request does not
  // take the service down.
  listenerFailed(err, res) {
    if (this.listenerCount('error') > 0) this.emit('error', err);
    else console.error('nexurejs/http: a request listener threw:', err);
    if (!res.headersSent) {
      res.statusCode = 500;
      res.setHeader('content-length', 0);
      res.end();
    } else if (!res.writableEnded) {
      res.destroy();
    }
  }

  // close() has the engine close the idle connections and let the busy ones finish their
  // answers (bounded by its drain timeout). closeIdleConnections() leaves the idle ones to that
  // (Fastify calls it just before close()); closeAllConnections(), which Node uses to cut busy
  // connections at once, cannot be done before close(): refused, rather than doing nothing.
  closeAllConnections() {
    if (!this.closing) throw unsupported('closeAllConnections() works only after close() (which closes idle connections and lets busy ones finish)');
  }

  closeIdleConnections() {
    // Idle connections close at close(), by the engine; until then they stay (keepAliveTimeout).
  }

  ref() { return this; }
  unref() { return this; }

  [Symbol.asyncDispose]() {
    return new Promise((resolve) => this.close(() => resolve()));
  }
}

function createServer(options, requestListener) {
  return new Server(options, requestListener);
}

module.exports = {
  createServer,
  Server,
  IncomingMessage: nodeHttp.IncomingMessage,
  ServerResponse: nodeHttp.ServerResponse,
  OutgoingMessage: nodeHttp.OutgoingMessage,
  STATUS_CODES: nodeHttp.STATUS_CODES,
  METHODS: nodeHttp.METHODS,
  validateHeaderName: nodeHttp.validateHeaderName,
  validateHeaderValue: nodeHttp.validateHeaderValue,
  maxHeaderSize: nodeHttp.maxHeaderSize,
};
