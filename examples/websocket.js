'use strict';
// WebSocket with nexurejs: the engine speaks the protocol (handshake, frames, permessage-deflate,
// pings, topics across workers); JavaScript gets whole messages.
//   node examples/websocket.js        (PORT and HOST as in hello.js)
//   /echo  sends every message back, text as text and binary as binary
//   /chat  subscribes each client to the topic "room" and publishes what it receives to every
//          client in the room, its sender included
// Try it with `npx wscat -c ws://127.0.0.1:3000/chat` in two terminals.
const { createApp } = require('nexurejs');

const app = createApp();

app.ws('/echo', {
  compression: true,
  message(ws, message, isBinary) {
    ws.send(message, isBinary);
  },
});

app.ws('/chat', {
  open(ws) {
    ws.subscribe('room');
  },
  message(ws, message, isBinary) {
    // app.publish reaches every subscriber on every worker, the sender included (ws.publish
    // would leave the sender out). The message is framed once per worker, not per client.
    app.publish('room', message, isBinary);
  },
});

const port = Number(process.env.PORT ?? 3000);
const host = process.env.HOST || '127.0.0.1';

app.listen({ port, host }).then((url) => {
  console.log(`listening on ${url}`);
}, (err) => {
  console.error(err.message);
  process.exit(1);
});

// Ctrl-C / SIGTERM: stop accepting; open sockets get a close frame (1001), then exit.
for (const signal of ['SIGINT', 'SIGTERM']) {
  process.once(signal, () => {
    app.close().then(() => process.exit(0));
  });
}
