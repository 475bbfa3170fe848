'use strict';
// nexurejs for bench/ws/run.sh: the endpoints of examples/websocket.js with the method's one
// engine worker (the example takes the default, one per core) and no compression (nexload offers
// none anyway). Port from PORT (0: any); prints "listening on http://HOST:PORT". BORROW_MESSAGES=1
// lends binary messages to the handlers (borrowMessages), as uWebSockets.js lends its ArrayBuffer.
//   /echo  sends every message back with its opcode;
//   /chat  subscribes each client to the topic "room" and publishes what it receives with
//          app.publish: every subscriber, the sender included (as uws.js does).
const path = require('node:path');
const { createApp } = require(path.join(__dirname, '..', '..', '..', 'napi', 'lib', 'index.cjs'));

const app = createApp({ threads: 1, pinThreads: false });
const borrowMessages = process.env.BORROW_MESSAGES === '1';
app.ws('/echo', {
  borrowMessages,
  message(ws, message, isBinary) {
    ws.send(message, isBinary);
  },
});
app.ws('/chat', {
  borrowMessages,
  open(ws) {
    ws.subscribe('room');
  },
  message(ws, message, isBinary) {
    app.publish('room', message, isBinary);
  },
});
app.listen({ port: Number(process.env.PORT || 0), host: '127.0.0.1' }).then((url) => {
  console.log(`nexurejs listening on ${url}`);
}, (err) => {
  console.error(err.message);
  process.exit(1);
});
