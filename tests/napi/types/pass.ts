// Must type-check with `tsc -p tests/napi/types/tsconfig.json` (tests/napi/types.test.js).
// Equal<> assertions pin the inferred types exactly; @ts-expect-error lines pin what must be
// rejected, so the test fails if the declarations become looser.
import nexurejs, { createApp, httpError } from 'nexurejs';
import type { App, Reply, Request, RouteParams, InjectResponse, EngineError, EngineErrorCode } from 'nexurejs';

type Equal<A, B> = (<T>() => T extends A ? 1 : 2) extends (<T>() => T extends B ? 1 : 2) ? true : false;
function assert<T extends true>(): T | undefined { return undefined; }

// ---- parameter inference ----
assert<Equal<RouteParams<'/users/:id'>, { id: string }>>();
assert<Equal<RouteParams<'/users/:userId/posts/:post_id'>, { userId: string; post_id: string }>>();
assert<Equal<RouteParams<'/geo/:lat-:lng'>, { lat: string; lng: string }>>();
assert<Equal<RouteParams<'/files/:name.json'>, { name: string }>>();
assert<Equal<RouteParams<'/static/*'>, { '*': string }>>();
assert<Equal<RouteParams<'/u/:id/*'>, { id: string; '*': string }>>();
assert<Equal<RouteParams<'/a::b'>, {}>>();
assert<Equal<RouteParams<'/a::b/:c'>, { c: string }>>();
assert<Equal<RouteParams<'/'>, {}>>();
assert<Equal<RouteParams<string>, Record<string, string>>>();

const app: App = createApp({ threads: 1, handlerTimeoutMs: 1000, limits: { maxBodySize: 1024 } });

app.get('/users/:id', (req) => {
  assert<Equal<typeof req.params, { id: string }>>();
  const id: string = req.params.id;
  return { id };
});

app.get('/geo/:lat-:lng', { config: { cache: true } }, async (req, reply) => {
  const lat: number = Number(req.params.lat) + Number(req.params.lng);
  reply.code(200).header('x-lat', String(lat)).type('text/plain');
  return String(lat);
});

app.get('/static/*', (req) => req.params['*']);

app.post('/items', async (req, reply) => {
  const item = await req.json<{ name: string }>();
  const text: string = await req.text();
  const len: number = req.body.length;
  const q = req.query.page;
  const h: string | undefined = req.header('user-agent');
  const cookies: string[] | undefined = req.header('set-cookie');
  reply.status(201).send({ name: item.name, text, len, q, h, cookies });
});

// A path that is not a literal: any name, typed string.
const dynamic: string = '/x/:y';
app.get(dynamic, (req) => req.params.anything);

app.route({ method: ['GET', 'POST'], url: '/r/:slug', handler: (req) => req.params.slug });
app.all('/any', () => 'any');
app.fixed('GET', '/health', { status: 200, headers: { 'content-type': 'text/plain' }, body: 'ok' });

app.addHook('onRequest', async (req, reply) => { reply.header('x-id', req.id); });
app.addHook('preHandler', (req, reply, done) => { done(); });
app.addHook('onSend', async (req, reply, payload) => (typeof payload === 'string' ? payload.toUpperCase() : payload));
app.addHook('onResponse', (req) => { void req.url; });
app.setErrorHandler((err, req, reply) => reply.code(500).send({ message: String(err) }));
// The engine's own answers arrive as EngineErrors (no bypass).
app.setErrorHandler((err: EngineError, req, reply) => {
  const code: EngineErrorCode = err.code;
  if (code === 'FST_ERR_METHOD_NOT_ALLOWED') reply.header('allow', err.allow ?? '');
  return { statusCode: err.statusCode, code, limit: err.limit };
});
app.setNotFoundHandler((req, reply) => reply.code(404).send(`no ${req.url}`));

app.register(async (scope, opts) => {
  scope.get('/items/:itemId', (req) => req.params.itemId);
  void opts.prefix;
}, { prefix: '/api' });

async function main(): Promise<void> {
  const url: string = await app.listen({ port: 0, host: '127.0.0.1' });
  const res: InjectResponse = await app.inject({ method: 'POST', url: '/items', body: { name: 'x' } });
  const n: number = res.statusCode;
  const body: { name: string } = res.json();
  void [url, n, body, app.address()?.port, app.server?.threads];
  await app.close();
}
void main;

const reply = null as unknown as Reply;
reply.code(200).header('a', 'b').headers({ c: 'd' }).type('x').send('s');
const req = null as unknown as Request<{ id: string }>;
const idOk: string = req.params.id;
void idOk;
void nexurejs.createApp;
const e = httpError(404, 'nope');
const sc: number = e.statusCode;
void sc;

// ---- what must be rejected ----
// @ts-expect-error: not a parameter of this route
app.get('/users/:id', (req) => req.params.name);
// @ts-expect-error: the catch-all is named '*'
app.get('/files/*', (req) => req.params.rest);
// @ts-expect-error: unknown option
createApp({ thread: 2 });
// @ts-expect-error: unknown hook
app.addHook('onRequests', () => {});
// @ts-expect-error: an onSend hook returns a payload, not a number
app.addHook('onSend', () => 42);
// @ts-expect-error: status codes are numbers
reply.code('200');

// ---- cookies, logging, ids, body parsing, decorators (issue 18) ----
declare module 'nexurejs' {
  interface RequestDecorations { user: string | null }
  interface App { db: { query(sql: string): unknown } }
}
const logged = createApp({
  logger: { level: 'info' }, cookieSecret: ['new', 'old'], requestIdHeader: 'x-request-id',
  genReqId: (req) => `id-${req.method}`, body: 'parse', strictContentType: true,
});
logged.decorate('db', { query: (sql: string) => sql });
logged.decorateRequest('user', null);
logged.post('/login', { body: 'parse', strictContentType: false }, (req, reply) => {
  req.log.info({ id: req.id }, 'login');
  const session: string | undefined = req.cookies.session;
  const check = req.unsignCookie(session ?? '');
  const valid: boolean = check.valid;
  const user: string | null = req.user;
  reply.setCookie('session', 'v', { signed: true, httpOnly: true, sameSite: 'lax', maxAge: 60 })
    .clearCookie('old', { path: '/' });
  reply.log.warn('done');
  return { valid, user, renew: check.renew, value: check.value, db: logged.db.query('select 1') };
});
logged.log.info('started');
const hasIt: boolean = logged.hasDecorator('db') && logged.hasRequestDecorator('user');
// @ts-expect-error body modes are 'buffer' and 'parse'
logged.get('/x', { body: 'json' }, () => hasIt);
logged.inject({ url: '/login', cookies: { session: 'v' } }).then((r) => {
  const first: string = r.cookies[0].name;
  return first;
});

// ---- streamed replies, Server-Sent Events, req.signal ----
app.get('/numbers/:count', (req, reply) => {
  const signal: AbortSignal = req.signal;
  async function* lines(n: number) {
    for (let i = 1; i <= n && !signal.aborted; i++) yield `${i}\n`;
  }
  return reply.header('content-type', 'text/plain').send(lines(Number(req.params.count)));
});
app.get('/events', (req, reply) => {
  async function* events() {
    yield 'plain data';
    yield { event: 'tick', data: { n: 1 }, id: 1, retry: 1000 };
  }
  reply.sse(events(), { heartbeat: 15000 });
});
app.get('/web', (req, reply) => reply.send(new ReadableStream<Uint8Array>()));
// @ts-expect-error heartbeat is a number of milliseconds
app.get('/sse-bad', (req, reply) => reply.sse([], { heartbeat: 'often' }));

// ---- the client, streamed bodies ----
const proxied = createApp({ trustProxy: ['10.0.0.0/8', 'loopback'] });
createApp({ trustProxy: 2 });
createApp({ trustProxy: (address: string, hop: number) => address === '10.0.0.1' || hop < 1 });
proxied.post('/upload/:name', { body: 'stream', bodyLimit: 1024 ** 3 }, async (req) => {
  const ip: string | undefined = req.ip;
  const ips: string[] | undefined = req.ips;
  const port: number | undefined = req.socket.remotePort;
  const proto: string = req.protocol + req.hostname + req.host;
  let bytes = 0;
  for await (const chunk of req) bytes += chunk.length;
  req.stream().pause().resume();
  return { name: req.params.name, bytes, ip, ips, port, proto };
});
proxied.inject({ method: 'POST', url: '/upload/a', remoteAddress: '::1', payload: 'x' });
// @ts-expect-error body is 'buffer', 'parse' or 'stream'
proxied.post('/bad', { body: 'file' }, () => 'x');

// ---- WebSocket (app.ws, app.publish) ----
import { SENT, BACKPRESSURE, DROPPED } from 'nexurejs';
import type { WebSocket as NexureSocket, SendResult } from 'nexurejs';
app.ws<{ name: string }>('/chat', {
  compression: { threshold: 128 },
  maxPayload: 64 * 1024,
  open(ws) {
    ws.data.name = ws.remoteAddress;
    ws.subscribe('room');
  },
  message(ws, message, isBinary) {
    assert<Equal<typeof ws, NexureSocket<{ name: string }>>>();
    const r: SendResult = ws.send(message, isBinary);
    if (r === BACKPRESSURE || r === DROPPED || r === SENT) ws.publish('room', new Uint8Array(2), true);
    app.publish('room', typeof message === 'string' ? message : message.buffer);
  },
  close(ws, code: number, reason: string) {
    ws.data.name = `${code} ${reason}`;
  },
});
app.ws<{ user: string }>('/u', {
  upgrade: async (req) => ({ user: String(req.headers['x-user'] ?? '') }),
  open: (ws) => { const u: string = ws.data.user; ws.send(u); },
});
// @ts-expect-error the upgrade hook's result is the socket's data type
app.ws<{ user: string }>('/v', { upgrade: () => ({ user: 1 }) });
// @ts-expect-error a message is not a number
app.ws('/n', { open: (ws) => ws.send(1) });
