'use strict';
// The smallest nexurejs server: GET / (and GET /plaintext, the path the benchmarks use) answer
// "Hello, World!" from a JavaScript handler.
//   node examples/hello.js            (PORT=8080 HOST=0.0.0.0 node examples/hello.js)
// In your own project, after `npm install nexurejs`, the same require('nexurejs') works; inside
// this checkout it resolves to the package itself (Node's self-reference through "exports").
const { createApp } = require('nexurejs');

const app = createApp();
const hello = () => 'Hello, World!';
app.get('/', hello);
app.get('/plaintext', hello);

const port = Number(process.env.PORT ?? 3000);
const host = process.env.HOST || '127.0.0.1';

app.listen({ port, host }).then((url) => {
  console.log(`listening on ${url}`);
}, (err) => {
  console.error(err.message);
  process.exit(1);
});

// Ctrl-C / SIGTERM: stop accepting, let in-flight requests finish, exit.
for (const signal of ['SIGINT', 'SIGTERM']) {
  process.once(signal, () => {
    app.close().then(() => process.exit(0));
  });
}
