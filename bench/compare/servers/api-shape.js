'use strict';
// The "small API" every compare server answers the same way (BENCHMARKING.md, issue 20), each
// with its framework's own means (hooks, middleware or plain code):
//   GET /api/v1/users/:id with "Authorization: Bearer bench-token" → 200 application/json
//   {"id":"<id>","name":"User <id>","roles":["reader"]}, with an x-request-id header (a number
//   per request) added on the way out; without that token → 401.
// And the hello world: GET /plaintext → 200 text/plain "Hello, World!".

const TOKEN = 'bench-token';
const BEARER = `Bearer ${TOKEN}`;

function user(id) {
  return { id, name: `User ${id}`, roles: ['reader'] };
}

// PORT (required, 0-65535) and HOST (default 127.0.0.1) from the environment; exits with a
// message naming the server when PORT is not a port.
function listenAddress(name) {
  const port = Number.parseInt(process.env.PORT ?? '', 10);
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    console.error(`${name}: PORT must be a TCP port (0-65535), got '${process.env.PORT ?? ''}'`);
    process.exit(2);
  }
  return { port, host: process.env.HOST || '127.0.0.1' };
}

// APP from the environment: 'hello' (default) or 'api'.
function appKind(name) {
  const app = process.env.APP || 'hello';
  if (app !== 'hello' && app !== 'api') {
    console.error(`${name}: APP must be 'hello' or 'api', got '${app}'`);
    process.exit(2);
  }
  return app;
}

// Loads a bench-only package from bench/compare/node_modules, or exits naming the fix.
function load(name, pkg) {
  try {
    return require(pkg);
  } catch (err) {
    console.error(`${name}: cannot load ${pkg} (${err.code || err.message}); run 'npm ci' in ${require('node:path').resolve(__dirname, '..')}`);
    process.exit(1);
  }
}

// HTTP from the environment: 'node' (default: Node's own http module) or 'nexurejs' (the
// node:http-compatible server of nexurejs/http, issue 21). Returns { http, kind }.
function httpModule(name) {
  const kind = process.env.HTTP || 'node';
  if (kind === 'node') return { http: require('node:http'), kind };
  if (kind === 'nexurejs') {
    return { http: require(require('node:path').join(__dirname, '..', '..', '..', 'napi', 'lib', 'http.cjs')), kind };
  }
  console.error(`${name}: HTTP must be 'node' or 'nexurejs', got '${kind}'`);
  process.exit(2);
}

// Every connection closed now where the server can (Node's closeAllConnections; nexurejs/http
// closes them itself in close()).
function closeAll(server) {
  if (process.env.HTTP !== 'nexurejs') server.closeAllConnections();
}

// The app of Express (or of ultimate-express, which has its API) answering APP: hello (GET /
// and /plaintext) or the small API (an auth middleware, one adding x-request-id, a router).
function expressApp(express, kind) {
  const app = express();
  app.set('etag', false);
  app.set('x-powered-by', false);
  if (kind === 'hello') {
    const hello = (req, res) => {
      res.type('text/plain').send('Hello, World!');
    };
    app.get('/', hello);
    app.get('/plaintext', hello);
    return app;
  }
  let nextId = 0;
  app.use((req, res, next) => {
    res.setHeader('x-request-id', String(++nextId));
    next();
  });
  app.use((req, res, next) => {
    if (req.headers.authorization !== BEARER) {
      res.status(401).json({ error: 'missing or wrong bearer token' });
      return;
    }
    next();
  });
  const router = express.Router();
  router.get('/users/:id', (req, res) => {
    res.json(user(req.params.id));
  });
  app.use('/api/v1', router);
  return app;
}

module.exports = { TOKEN, BEARER, user, listenAddress, appKind, load, httpModule, closeAll, expressApp };
