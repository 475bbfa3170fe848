'use strict';
// Fastify 5 + @fastify/compress serving the same answer, at the same levels (gzip 6, brotli 4,
// the plugin's default quality). Prints "listening on http://HOST:PORT".
const fastify = require('fastify')({ logger: false });
const zlib = require('node:zlib');
const DATA = require('./data.js');

const off = process.env.COMPRESSION === 'off';
async function main() {
  if (!off) {
    await fastify.register(require('@fastify/compress'), {
      threshold: 1024,
      encodings: ['br', 'gzip'],
      zlibOptions: { level: 6 },
      brotliOptions: { params: { [zlib.constants.BROTLI_PARAM_QUALITY]: 4 } },
    });
  }
  fastify.get('/data', (req, reply) => {
    reply.type('application/json').send(DATA);
  });
  const url = await fastify.listen({ port: Number(process.env.PORT || 0), host: '127.0.0.1' });
  console.log(`fastify listening on ${url}`);
}
main();
