'use strict';
// Plugin encapsulation, as Fastify does it. Every `register()` makes a child scope: the plugin
// gets a child App (an object whose prototype is the parent App, so the parent's decorators are
// visible and the child's are not visible to the parent) and a Scope that holds what the plugin
// adds: hooks, an error handler, a not-found handler, request and reply decorators. What a scope
// adds applies to its own routes and its children's, never to its parent's or siblings'.
// A plugin marked like `fastify-plugin` does it (`plugin[Symbol.for('skip-override')] = true`)
// gets the parent App itself: what it adds belongs to the parent scope (its `prefix` option is
// ignored, as in Fastify).
//
// Everything is compiled once when the app starts (State.freeze): each scope's hook lists are
// its parent's followed by its own, its error handler is the nearest one up the chain, and its
// Request and Reply classes are its parent's, extended only when it declares decorators — so an
// app without request/reply decorators uses the base classes, and one with them keeps one
// hidden class per scope (decorated fields are set in the constructor, in declaration order).

const { Request } = require('./request.cjs');
const { Reply } = require('./reply.cjs');

const HOOK_NAMES = ['onRequest', 'preHandler', 'onSend', 'onResponse'];
const SKIP_OVERRIDE = Symbol.for('skip-override');

class Scope {
  constructor(parent, prefix) {
    this.parent = parent;
    this.prefix = prefix;
    this.hooks = { onRequest: [], preHandler: [], onSend: [], onResponse: [] };
    this.errorHandler = null;
    this.errorApp = null;     // `this` of the error handler
    this.notFound = null;     // the pseudo-route of setNotFoundHandler() (app.cjs)
    this.requestDecorators = new Map();  // name → { kind: 'field' | 'method' | 'accessor', value }
    this.replyDecorators = new Map();
    // Set by compile():
    this.compiled = null;     // { onRequest, preHandler, onSend, onResponse, errorHandler, errorApp }
    this.Request = null;
    this.Reply = null;
  }

  // `first` and `last`: app-wide hooks (request logging) that the root puts before and after its
  // own; the other scopes inherit them with the root's lists.
  compile(first, last) {
    const p = this.parent === null ? null : this.parent.compiled;
    const c = { errorHandler: null, errorApp: null };
    for (const name of HOOK_NAMES) {
      const inherited = p === null ? (first[name] || []) : p[name];
      c[name] = inherited.concat(this.hooks[name]);
    }
    if (p === null) {
      for (const name of HOOK_NAMES) if (last[name]) c[name] = c[name].concat(last[name]);
    }
    if (this.errorHandler !== null) {
      c.errorHandler = this.errorHandler;
      c.errorApp = this.errorApp;
    } else if (p !== null) {
      c.errorHandler = p.errorHandler;
      c.errorApp = p.errorApp;
    }
    this.compiled = c;
    this.Request = extend(this.parent === null ? Request : this.parent.Request, this.requestDecorators, 'Request');
    this.Reply = extend(this.parent === null ? Reply : this.parent.Reply, this.replyDecorators, 'Reply');
  }

  hasRequestDecorator(name) {
    for (let s = this; s !== null; s = s.parent) if (s.requestDecorators.has(name)) return true;
    return BUILTIN_REQUEST.has(name);
  }

  hasReplyDecorator(name) {
    for (let s = this; s !== null; s = s.parent) if (s.replyDecorators.has(name)) return true;
    return BUILTIN_REPLY.has(name);
  }
}

function propertyNames(proto, sample) {
  const names = new Set(Object.getOwnPropertyNames(proto));
  for (const k of Object.keys(sample)) names.add(k);
  names.delete('constructor');
  return names;
}

// What a request and a reply already have (fields and prototype members): decorating them is an
// error, as overriding them would break the pipeline.
const BUILTIN_REQUEST = propertyNames(Request.prototype,
  new Request(null, null, 0, -1, null, 'GET', 0));
const BUILTIN_REPLY = propertyNames(Reply.prototype, new Reply(null, null));

// A subclass of `Base` with the scope's decorators, or `Base` itself when there are none.
function extend(Base, decorators, what) {
  if (decorators.size === 0) return Base;
  const fieldNames = [];
  const fieldValues = [];
  for (const [name, d] of decorators) {
    if (d.kind === 'field') {
      fieldNames.push(name);
      fieldValues.push(d.value);
    }
  }
  const n = fieldNames.length;
  const Decorated = what === 'Request'
    ? class extends Base {
      constructor(u8, u32, off, worker, route, method, id) {
        super(u8, u32, off, worker, route, method, id);
        for (let i = 0; i < n; i++) this[fieldNames[i]] = fieldValues[i];
      }
    }
    : class extends Base {
      constructor(state, request) {
        super(state, request);
        for (let i = 0; i < n; i++) this[fieldNames[i]] = fieldValues[i];
      }
    };
  for (const [name, d] of decorators) {
    if (d.kind === 'method') {
      Object.defineProperty(Decorated.prototype, name, { value: d.value, writable: true, configurable: true });
    } else if (d.kind === 'accessor') {
      Object.defineProperty(Decorated.prototype, name, { get: d.value.getter, set: d.value.setter, configurable: true });
    }
  }
  return Decorated;
}

// A decorator's value as Fastify takes it: a function (a method), `{ getter, setter }` (an
// accessor), or a primitive or null (a field set on every instance). Objects and arrays would be
// shared by every request: that is refused, as Fastify 5 does.
function describe(what, name, value) {
  if (typeof value === 'function') return { kind: 'method', value };
  if (value !== null && typeof value === 'object') {
    if (typeof value.getter === 'function' || typeof value.setter === 'function') {
      return { kind: 'accessor', value };
    }
    throw new TypeError(`${what}('${String(name)}'): an object or array would be shared by every ` +
      'request; decorate with null and set the value in an onRequest hook, or use { getter }');
  }
  return { kind: 'field', value };
}

function checkName(what, name) {
  if (typeof name !== 'string' && typeof name !== 'symbol') {
    throw new TypeError(`${what}(): the name must be a string or a symbol`);
  }
}

function checkDependencies(what, name, dependencies, has) {
  if (dependencies === undefined) return;
  if (!Array.isArray(dependencies)) throw new TypeError(`${what}('${String(name)}'): dependencies must be an array of names`);
  for (const dep of dependencies) {
    if (!has(dep)) {
      throw new Error(`${what}('${String(name)}'): it depends on the decorator '${String(dep)}', which is missing; ` +
        'declare that one first');
    }
  }
}

// The methods App takes over (app.cjs installs them on App.prototype).
const appMethods = {
  decorate(name, value, dependencies) {
    checkName('decorate', name);
    this._state.checkOpen(`decorate('${String(name)}')`);
    if (name in this) {
      throw new Error(`decorate('${String(name)}'): the app already has it (a decorator or a built-in member)`);
    }
    checkDependencies('decorate', name, dependencies, (d) => d in this);
    if (value !== null && typeof value === 'object' &&
        (typeof value.getter === 'function' || typeof value.setter === 'function')) {
      Object.defineProperty(this, name, { get: value.getter, set: value.setter, configurable: true, enumerable: true });
    } else {
      this[name] = value;
    }
    return this;
  },

  decorateRequest(name, value, dependencies) {
    checkName('decorateRequest', name);
    this._state.checkOpen(`decorateRequest('${String(name)}')`);
    const scope = this._scope;
    if (scope.hasRequestDecorator(name)) {
      throw new Error(`decorateRequest('${String(name)}'): requests already have it (a decorator or a built-in member)`);
    }
    checkDependencies('decorateRequest', name, dependencies, (d) => scope.hasRequestDecorator(d));
    scope.requestDecorators.set(name, describe('decorateRequest', name, value));
    return this;
  },

  decorateReply(name, value, dependencies) {
    checkName('decorateReply', name);
    this._state.checkOpen(`decorateReply('${String(name)}')`);
    const scope = this._scope;
    if (scope.hasReplyDecorator(name)) {
      throw new Error(`decorateReply('${String(name)}'): replies already have it (a decorator or a built-in member)`);
    }
    checkDependencies('decorateReply', name, dependencies, (d) => scope.hasReplyDecorator(d));
    scope.replyDecorators.set(name, describe('decorateReply', name, value));
    return this;
  },

  hasDecorator(name) {
    return name in this;
  },

  hasRequestDecorator(name) {
    return this._scope.hasRequestDecorator(name);
  },

  hasReplyDecorator(name) {
    return this._scope.hasReplyDecorator(name);
  },
};

// The App a plugin is called with: a child of `parent` (own scope, `prefix` appended), or, for
// a plugin marked skip-override, `parent` itself.
function childApp(parent, plugin, prefix, state) {
  if (plugin[SKIP_OVERRIDE] === true) return parent;
  const child = Object.create(parent);
  child.prefix = prefix;
  child._scope = new Scope(parent._scope, prefix);
  state.scopes.push(child._scope);
  return child;
}

// The scope whose handlers and hooks answer for `path` when no route of the app matched it:
// the one whose not-found handler covers the longest prefix of the path, else the root.
// (One place decides it, for the not-found handler and for the engine's own answers.)
function scopeForPath(state, path) {
  let best = state.rootScope;
  let bestLength = -1;
  for (const scope of state.scopes) {
    if (scope.notFound === null) continue;
    const p = scope.prefix;
    if (p.length > bestLength && coversPath(p, path)) {
      best = scope;
      bestLength = p.length;
    }
  }
  return best;
}

// Whether the prefix covers the path (the path is the prefix, or below it). A prefix segment
// that is a parameter (`/orgs/:org`) matches any non-empty segment.
function coversPath(prefix, path) {
  if (prefix === '') return true;
  if (!prefix.includes(':')) return path === prefix || path.startsWith(prefix + '/');
  const want = prefix.split('/');
  const got = path.split('/');
  if (got.length < want.length) return false;
  for (let i = 1; i < want.length; i++) {
    const w = want[i];
    if (w.startsWith(':') && !w.startsWith('::')) {
      if (got[i] === '') return false;
    } else if (w.replace(/::/g, ':') !== got[i]) {
      return false;
    }
  }
  return true;
}

function install(proto, methods) {
  for (const name of Object.keys(methods)) {
    Object.defineProperty(proto, name, { value: methods[name], writable: true, configurable: true });
  }
}

module.exports = { Scope, HOOK_NAMES, SKIP_OVERRIDE, appMethods, childApp, scopeForPath, install };
