'use strict';
// uWebSockets.js (bench/compare's "uWebSockets.js": "npm:uwebsockets@3.0.6", a republish of uWS.js
// v20) for scripts/compare.sh: APP=hello answers GET /plaintext, APP=api the small API
// (api-shape.js) written by hand, as a uWS.js app would: the token checked in the handler, the
// JSON and x-request-id written in one cork.
//   PORT=8080 [HOST=127.0.0.1] [APP=hello|api] node bench/compare/servers/uws.js
const { BEARER, user, listenAddress, appKind, load } = require('./api-shape.js');

const { port, host } = listenAddress('uws.js');
const kind = appKind('uws.js');
const uWS = load('uws.js', 'uWebSockets.js');

const app = uWS.App();
if (kind === 'hello') {
  const hello = (res) => {
    res.cork(() => {
      res.writeHeader('content-type', 'text/plain').end('Hello, World!');
    });
  };
  app.get('/', hello);
  app.get('/plaintext', hello);
} else {
  let nextId = 0;
  app.get('/api/v1/users/:id', (res, req) => {
    const authorized = req.getHeader('authorization') === BEARER;
    const id = req.getParameter(0);
    const requestId = String(++nextId);
    res.cork(() => {
      if (!authorized) {
        res.writeStatus('401 Unauthorized').writeHeader('x-request-id', requestId)
          .writeHeader('content-type', 'application/json')
          .end('{"error":"missing or wrong bearer token"}');
        return;
      }
      res.writeHeader('x-request-id', requestId).writeHeader('content-type', 'application/json')
        .end(JSON.stringify(user(id)));
    });
  });
}
app.any('/*', (res) => {
  res.writeStatus('404 Not Found').end('not found\n');
});
let token = null;
app.listen(host, port, (t) => {
  if (!t) {
    console.error(`uws.js: cannot listen on ${host}:${port}`);
    process.exit(1);
  }
  token = t;
  console.log(`uws listening on http://${host}:${uWS.us_socket_local_port(t)}`);
});
for (const signal of ['SIGINT', 'SIGTERM']) {
  process.once(signal, () => {
    if (token !== null) uWS.us_listen_socket_close(token);
    process.exit(0);
  });
}
