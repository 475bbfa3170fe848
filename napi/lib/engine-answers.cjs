'use strict';
// No bypass (issue 18): the answers the engine would give itself to a request that matched the
// app — 405 (the path exists under other methods), 204 + Allow (OPTIONS without a route), 413 (a
// body over the limit) — are handed to JavaScript instead when the app can shape them (it has
// hooks, an error handler or a not-found handler). The engine sends such a request with request
// flag bit 1 and the status it would have answered (PROTOCOL.md, offsets 69–70), under the
// handler id of the pseudo-route made here. Here they run the onRequest hooks of the scope that
// owns the path (a CORS preflight is answered by a plain onRequest hook), then:
//   405 → the error handler with FST_ERR_METHOD_NOT_ALLOWED (statusCode 405, `Allow` set);
//   204 → the automatic answer, 204 with `Allow`, through onSend/onResponse;
//   413 → the error handler with FST_ERR_CTP_BODY_TOO_LARGE (the body was never read).
// Apps without hooks or handlers keep the engine's own answers: no JavaScript runs for them.
//
// Which hooks and error handler apply is decided by ownerOf(): those of the scope (plugin
// encapsulation, scope.cjs) that owns the path — the scope of a route the path has under another
// method, else the scope whose not-found handler covers it — or, for a 413, the matched route's.

const { REQ } = require('./records.cjs');
const { STATE_OPEN } = require('./reply.cjs');
const { ERRORS } = require('./errors.cjs');
const scopes = require('./scope.cjs');

// True when the app has something that can see or shape an engine answer (after the scopes were
// compiled: their hook lists include what they inherit, and request logging's).
function wantsEngineAnswers(state) {
  if (state.notFounds.length !== 0) return true;
  for (const s of state.scopes) {
    const c = s.compiled;
    if (c.errorHandler !== null) return true;
    for (const name of scopes.HOOK_NAMES) if (c[name].length > 0) return true;
  }
  return false;
}

// The pseudo-route of a scope's engine answers: its hooks, error handler and classes. The root
// scope's is registered with the engine (createServer's `engineAnswers` is its id); the others
// are only looked up (ownerOf).
function makeEngineRoute(state, scope) {
  let route = state.engineRoutes.get(scope);
  if (route !== undefined) return route;
  const c = scope.compiled;
  route = {
    id: -1, path: '', handler: null, scope: null, config: {}, fast: false, fallback: true, engine: true,
    onRequest: c.onRequest, preHandler: c.preHandler, onSend: c.onSend, onResponse: c.onResponse,
    errorHandler: c.errorHandler, errorApp: c.errorApp, Request: scope.Request, Reply: scope.Reply,
    body: 'buffer', strictContentType: true, trust: state.trust,
  };
  state.engineRoutes.set(scope, route);
  return route;
}

// The status the engine handed over with this request, or 0 for an ordinary request.
function engineStatusOf(req) {
  const u8 = req._u8;
  const off = req._off;
  if ((u8[off + REQ.REQUEST_FLAGS_BYTE] & REQ.FLAG_ENGINE_ANSWER) === 0) return 0;
  return u8[off + REQ.ENGINE_STATUS_BYTE] | (u8[off + REQ.ENGINE_STATUS_BYTE + 1] << 8);
}

// The route table without the not-found catch-all (binding.match() on it).
function routeTable(state) {
  return state.shadow !== null ? state.shadow : state.routeHandle();
}

// The route whose hooks and error handler apply to an engine answer for `req` with `status`:
// for a 413, the route the request matched; else the engine route of the scope that owns the
// path. `m` is the request's match in the route table without the not-found catch-alls.
function ownerOf(state, req, m, status) {
  const binding = require('./binding.cjs');
  if (status === 413 && m.kind === 'found') return state.routes[m.id];
  if (typeof m.allow === 'string') {
    // A route the path has under another method says which scope the path belongs to.
    for (const method of m.allow.split(', ')) {
      if (method === 'HEAD' || method === 'OPTIONS') continue;
      let other;
      try {
        other = binding.match(routeTable(state), method, req.path);
      } catch {
        break;
      }
      if (other.kind === 'found') return makeEngineRoute(state, state.routes[other.id].scope._scope);
      break;
    }
  }
  return makeEngineRoute(state, scopes.scopeForPath(state, req.path));
}

// A request the engine handed over (the engine pseudo-route), or a request that reached a
// not-found catch-all whose path exists under other methods (`m` from State.fallback()).
// Returns the reply that answers (a new one when the owner's scope has other request or reply
// classes).
function runEngineAnswer(state, req, reply, status, m) {
  const binding = require('./binding.cjs');
  if (m === null) {
    try {
      m = binding.match(routeTable(state), req.method, req.path);
    } catch (err) {
      req._running--;
      state.fail(req, reply, err);
      return reply;
    }
  }
  // A 413 for a path that turns out to have no route for this method (the not-found catch-all
  // took it at the head) is that method's answer instead.
  if (status === 413 && m.kind !== 'found') {
    if (m.kind === 'methodNotAllowed') status = 405;
    else if (m.kind === 'options') status = 204;
  }
  const route = ownerOf(state, req, m, status);
  if (route.Request !== req._route.Request || route.Reply !== req._route.Reply) {
    const again = new route.Request(req._u8, req._u32, req._off, req._worker, route, req.method, req.id);
    again._inject = req._inject;
    req = again;
    reply = new route.Reply(state, req);
  }
  req._route = route;
  if (route.engine || route.fallback) req._params = {};
  let err = null;
  let allow = null;
  switch (status) {
    case 405:
      allow = m.allow ?? '';
      err = ERRORS.methodNotAllowed(req.method, req.path, allow);
      break;
    case 204:
      allow = m.allow ?? '';
      break;
    case 413:
      err = ERRORS.bodyTooLarge(state.emulate.maxBodySize);
      break;
    default:
      err = ERRORS.engine(status);
  }
  onRequestThen(state, route, req, reply, err, allow);
  return reply;
}

// The owner's onRequest hooks; unless one answered: the error (through the error handler) or,
// for OPTIONS, the automatic 204 with Allow (through onSend).
async function onRequestThen(state, route, req, reply, err, allow) {
  try {
    const hooks = route.onRequest;
    for (let i = 0; i < hooks.length; i++) {
      const r = hooks[i](req, reply);
      if (r !== null && typeof r === 'object' && typeof r.then === 'function') await r;
      if (reply._phase !== STATE_OPEN) return;
    }
    if (allow !== null) reply.header('allow', allow);
    if (err !== null) {
      state.fail(req, reply, err);
    } else {
      reply.statusCode = 204;
      state.send(reply, undefined);
    }
  } catch (e) {
    state.fail(req, reply, e);
  } finally {
    req._running--;
  }
}

module.exports = { wantsEngineAnswers, makeEngineRoute, engineStatusOf, runEngineAnswer, ownerOf };
