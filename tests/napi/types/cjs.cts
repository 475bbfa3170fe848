// The package's types from a CommonJS module (the "require" condition of the exports map).
import nexurejs = require('nexurejs');

const app = nexurejs.createApp({ threads: 1 });
app.post('/cjs/:id', async (req, reply) => {
  reply.code(201);
  return { id: req.params.id, body: await req.json<{ a: number }>() };
});
void nexurejs.default.createApp;
