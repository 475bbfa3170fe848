'use strict';
// Request ids and logging, as Fastify 5 does them:
// - `genReqId(req)` and `requestIdHeader` (default false; when set, that request header, if
//   present and not empty, is the id): `req.id`. Without either, ids are numbers counted per app
//   (nothing is computed per request).
// - `logger`: `true` (pino at level info), pino options, or a pino instance (also accepted as
//   `loggerInstance`, Fastify 5's name). `app.log` is the logger; `req.log` is a child with
//   `{ reqId: req.id }` (label `requestIdLogLabel`), created on first use. With request logging
//   (on unless `disableRequestLogging`), every request that reaches JavaScript logs
//   `incoming request` and `request completed` (with `res.statusCode` and `responseTime` in ms) at
//   level info. Without a logger, `app.log` and `req.log` are a logger that does nothing (one
//   shared object) and the request path does no logging work at all.

const { performance } = require('node:perf_hooks');

function noop() {}

// The logger of an app without `logger`: every method is a no-op, child() is itself.
const SILENT = Object.freeze({
  level: 'silent',
  fatal: noop, error: noop, warn: noop, info: noop, debug: noop, trace: noop, silent: noop,
  child() { return SILENT; },
  isLevelEnabled() { return false; },
});

const LOG_METHODS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'child'];

function isLogger(v) {
  return v !== null && typeof v === 'object' && LOG_METHODS.every((m) => typeof v[m] === 'function');
}

// The logger for createApp()'s `logger` / `loggerInstance` value (null when logging is off).
function createLogger(logger, instance) {
  if (instance !== undefined && instance !== null) {
    if (!isLogger(instance)) {
      throw new TypeError('createApp(): option loggerInstance must be a pino-style logger ' +
        `(with ${LOG_METHODS.join(', ')})`);
    }
    if (logger !== undefined && logger !== false) {
      throw new TypeError('createApp(): give either logger (true or pino options) or loggerInstance, not both');
    }
    return instance;
  }
  if (logger === undefined || logger === false || logger === null) return null;
  if (isLogger(logger)) return logger;
  const pino = require('pino');
  if (logger === true) return pino({ level: 'info' });
  if (typeof logger !== 'object') {
    throw new TypeError('createApp(): option logger must be true, pino options, or a pino instance');
  }
  const { stream, ...options } = logger;
  return stream === undefined ? pino(options) : pino(options, stream);
}

// Where 5xx errors and internal failures are reported when the app has a logger (instead of
// errors.cjs's bounded stderr log).
class LoggerErrorLog {
  constructor(log) {
    this.logger = log;
  }

  log(what, err) {
    this.logger.error({ err }, what);
  }
}

// How `req.id` is made when `genReqId` or `requestIdHeader` is given (null otherwise: the number).
function createIdSource(genReqId, requestIdHeader) {
  if (genReqId !== undefined && genReqId !== null && typeof genReqId !== 'function') {
    throw new TypeError('createApp(): option genReqId must be a function (req) => id');
  }
  let header = null;
  if (requestIdHeader !== undefined && requestIdHeader !== false && requestIdHeader !== null) {
    if (requestIdHeader === true) header = 'request-id';
    else if (typeof requestIdHeader === 'string' && requestIdHeader !== '') header = requestIdHeader.toLowerCase();
    else throw new TypeError('createApp(): option requestIdHeader must be a header name, true (request-id) or false');
  }
  const gen = typeof genReqId === 'function' ? genReqId : null;
  if (gen === null && header === null) return null;
  return (req, n) => {
    if (header !== null) {
      const v = req.headers[header];
      if (typeof v === 'string' && v !== '') return v;
    }
    return gen !== null ? gen(req) : `req-${n.toString(36)}`;
  };
}

// What `incoming request` logs of a request (Fastify's req serializer, as far as it is known).
function describeRequest(req) {
  const out = { method: req.method, url: req.url, host: req.headers.host };
  const socket = req.socket;
  if (socket !== undefined && socket !== null) {
    out.remoteAddress = socket.remoteAddress;
    out.remotePort = socket.remotePort;
  }
  return out;
}

// The hooks that log every request (added first and last to each route's lists).
function requestLogHooks() {
  return {
    onRequest(req) {
      req._logStart = performance.now();
      req.log.info({ req: describeRequest(req) }, 'incoming request');
    },
    onResponse(req, reply) {
      const responseTime = performance.now() - req._logStart;
      req.log.info({ res: { statusCode: reply.statusCode }, responseTime }, 'request completed');
    },
  };
}

module.exports = { SILENT, createLogger, createIdSource, LoggerErrorLog, requestLogHooks, describeRequest };
