'use strict';
// ultimate-express (Express's API on uWebSockets.js; its uWS dependency is overridden with the
// npm republish, bench/compare/package.json) for scripts/compare.sh: APP=hello answers GET
// /plaintext, APP=api the small API (api-shape.js) as an Express app writes it: an auth
// middleware, a middleware that adds x-request-id, a router with a param.
//   PORT=8080 [HOST=127.0.0.1] [APP=hello|api] node bench/compare/servers/ultimate-express.js
const { BEARER, user, listenAddress, appKind, load } = require('./api-shape.js');

const { port, host } = listenAddress('ultimate-express.js');
const kind = appKind('ultimate-express.js');
const express = load('ultimate-express.js', 'ultimate-express');

const app = express();
app.set('etag', false);
app.set('x-powered-by', false);
if (kind === 'hello') {
  const hello = (req, res) => {
    res.type('text/plain').send('Hello, World!');
  };
  app.get('/', hello);
  app.get('/plaintext', hello);
} else {
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
}
app.listen(port, host, () => {
  console.log(`ultimate-express listening on http://${host}:${port}`);
});
for (const signal of ['SIGINT', 'SIGTERM']) {
  process.once(signal, () => process.exit(0));
}
