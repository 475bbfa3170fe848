'use strict';
// A WebSocket server for nexload's --ws tests (tests/load/nexload_ws_test.cc), built on the `ws`
// package (a devDependency: npm install) — a strict implementation that is not ours. Listens on
// 127.0.0.1, port 0, and prints "listening on http://127.0.0.1:PORT".
//   /echo      echoes every message with its opcode
//   /chat      pub/sub: every message goes to every /chat client, the sender included
//   /chat-others  the same, the sender left out
//   /close     closes with 1008 'go away' when the first message arrives
//   /refuse    answers the upgrade with 403 Forbidden
//   /bad-accept  answers 101 with a wrong Sec-WebSocket-Accept
//   GET /stats (plain HTTP): {"connections", "messages", "bytes"} received over WebSockets so far
const http = require('node:http');
const { WebSocketServer } = require('ws');

const stats = { connections: 0, messages: 0, bytes: 0 };
const chat = new Set();
const server = http.createServer((req, res) => {
  if (req.url === '/stats') {
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify(stats));
    return;
  }
  res.writeHead(404);
  res.end();
});
const wss = new WebSocketServer({ noServer: true, maxPayload: 64 * 1024 * 1024, perMessageDeflate: false });

server.on('upgrade', (req, socket, head) => {
  const path = req.url;
  if (path === '/refuse') {
    socket.end('HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\nConnection: close\r\n\r\n');
    return;
  }
  if (path === '/bad-accept') {
    socket.end('HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n' +
               'Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n');
    return;
  }
  wss.handleUpgrade(req, socket, head, (ws) => {
    ++stats.connections;
    const count = (data) => {
      ++stats.messages;
      stats.bytes += data.length;
    };
    if (path === '/echo') {
      ws.on('message', (data, isBinary) => {
        count(data);
        ws.send(data, { binary: isBinary });
      });
    } else if (path === '/chat' || path === '/chat-others') {
      chat.add(ws);
      ws.on('close', () => chat.delete(ws));
      ws.on('message', (data, isBinary) => {
        count(data);
        for (const peer of chat) {
          if (peer === ws && path === '/chat-others') continue;
          if (peer.readyState === peer.OPEN) peer.send(data, { binary: isBinary });
        }
      });
    } else if (path === '/close') {
      ws.on('message', (data) => {
        count(data);
        ws.close(1008, 'go away');
      });
    } else {
      ws.close(1011, 'no such endpoint');
    }
  });
});

server.listen(0, '127.0.0.1', () => {
  console.log(`listening on http://127.0.0.1:${server.address().port}`);
});
process.on('SIGTERM', () => process.exit(0));
