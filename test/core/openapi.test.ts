// GET /openapi.json and GET /docs: a valid OpenAPI 3.1 document of every registered route, schemas that validate
// before the handler with the coded 400, and a browsable page whose files the gateway serves itself.
import t from 'tap';
import { fileURLToPath } from 'node:url';
import { Validator } from '@seriousme/openapi-schema-validator';
import { validateBody } from '../../core/validation.js';
import { z } from 'zod';
import { HttpRouter, type RegisteredRoute } from '../../core/http-router.js';
import type { RouteTarget } from '../../core/app-group.js';
import { ErrorRegistry } from '../../core/errors.js';
import { createLogger } from '../../core/logger.js';
import { startPayments, type PaymentsStack } from '../plugins/payments/helpers.js';
import { makeAdmin, PASSWORD } from '../helpers/accounts.js';

// A gateway with every built-in plugin and a plugin loaded by path: a few starts of the embedded database.
t.setTimeout(150_000);

const fixture = { path: fileURLToPath(new URL('../fixtures/schema-plugin/index.js', import.meta.url)) };
const METHODS = ['get', 'put', 'post', 'delete', 'options', 'head', 'patch', 'trace'];

type Json = Record<string, any>;

/** The value a local reference (`#/components/…`) points at, or undefined. */
function resolve(doc: Json, ref: string): unknown {
  if (!ref.startsWith('#/')) return undefined;
  return ref.slice(2).split('/').reduce<any>((node, part) => node?.[part.replace(/~1/g, '/').replace(/~0/g, '~')], doc);
}

function refsOf(value: unknown, out: string[] = []): string[] {
  if (Array.isArray(value)) for (const v of value) refsOf(v, out);
  else if (value !== null && typeof value === 'object') {
    for (const [k, v] of Object.entries(value)) {
      if (k === '$ref' && typeof v === 'string') out.push(v);
      else refsOf(v, out);
    }
  }
  return out;
}

/** The keys of a zod object schema, seen through zod's own API (not through the document). */
function shapeKeys(schema: unknown): string[] | undefined {
  const shape = (schema as { shape?: Record<string, unknown> } | undefined)?.shape;
  return shape ? Object.keys(shape) : undefined;
}

let s: PaymentsStack;
let doc: Json;

t.before(async () => {
  s = await startPayments(t, { extraBefore: ['signals', 'trading', 'binance-relay', 'dashboard', fixture] });
  const res = await fetch(`${s.httpUrl}/openapi.json`);
  t.equal(res.status, 200, 'GET /openapi.json answers');
  t.match(res.headers.get('content-type'), /^application\/json/);
  doc = await res.json() as Json;
});

t.test('the document is valid OpenAPI 3.1 by a maintained validator, and every reference in it resolves', async (t) => {
  const validator = new Validator();
  // A copy: resolving the references rewrites the object.
  const result = await validator.validate(structuredClone(doc));
  t.ok(result.valid, `valid: ${JSON.stringify(result.errors ?? [], null, 1).slice(0, 3000)}`);
  t.equal(validator.version, '3.1');
  const refs = refsOf(doc);
  t.ok(refs.length > 0, 'it has references (the shared error schema at least)');
  for (const ref of new Set(refs)) t.ok(resolve(doc, ref) !== undefined, `${ref} resolves`);
  t.doesNotThrow(() => validator.resolveRefs(), 'the validator resolves them too');
});

t.test('every route the router registered appears, with its method, path parameters, auth and schema parts, and nothing else', async (t) => {
  const routes: readonly RegisteredRoute[] = s.server.httpRoutes;
  const owners = new Set(routes.map((r) => r.owner));
  for (const owner of ['the core', 'plugin "market"', 'plugin "users"', 'plugin "auth"', 'plugin "signals"', 'plugin "trading"', 'plugin "payments"', 'plugin "schemas"']) {
    t.ok(owners.has(owner), `${owner} registered routes`);
  }
  let operations = 0;
  for (const p of Object.values(doc.paths as Json)) operations += Object.keys(p).filter((k) => METHODS.includes(k)).length;
  t.equal(operations, routes.length, 'one operation per registered route: none missing, none invented');

  const schemes = doc.components?.securitySchemes ?? {};
  for (const route of routes) {
    const name = `${route.verb} ${route.path}`;
    const template = route.path.replace(/:([^/]+)/g, '{$1}');
    const op = doc.paths[template]?.[route.verb.toLowerCase()] as Json | undefined;
    if (!op) {
      t.fail(`${name} is in the document`);
      continue;
    }
    const params = (op.parameters ?? []) as Json[];
    for (const [, param] of route.path.matchAll(/:([^/]+)/g)) {
      t.ok(params.some((p) => p.in === 'path' && p.name === param && p.required === true), `${name}: path parameter ${param}`);
    }
    const schema = route.opts.schema;
    for (const key of shapeKeys(schema?.query) ?? []) t.ok(params.some((p) => p.in === 'query' && p.name === key), `${name}: query parameter ${key}`);
    if (schema?.body) {
      const body = op.requestBody?.content?.['application/json']?.schema as Json | undefined;
      t.ok(body, `${name}: its body schema`);
      for (const key of shapeKeys(schema.body) ?? []) t.ok(body?.properties?.[key] !== undefined, `${name}: body property ${key}`);
    }
    if (schema?.summary) t.equal(op.summary, schema.summary, `${name}: its summary`);
    const security = op.security as Array<Record<string, string[]>> | undefined;
    if (route.opts.auth) {
      t.ok(security?.length, `${name}: needs a credential (auth ${route.opts.auth})`);
      for (const req of security ?? []) for (const scheme of Object.keys(req)) t.ok(schemes[scheme], `${name}: scheme ${scheme} is defined`);
      t.equal(security?.some((req) => Object.keys(req).length === 0), route.opts.auth === 'optional', `${name}: anonymous callers only if auth is optional`);
      t.ok(op.responses['401'], `${name}: documents the 401`);
    } else if (!route.opts.apiKeyHeader) {
      t.equal(security, undefined, `${name}: no credential needed`);
    }
    if (!route.opts.errorShape) t.ok(op.responses.default, `${name}: its coded errors`);
  }
});

t.test('the answers documented with a schema are what the routes answer (every GET route callable without input)', async (t) => {
  const boss = await s.register();
  await makeAdmin(s.db, boss.user.id);
  const token = (await s.login(boss.user.email, PASSWORD)).accessToken;
  let checked = 0;
  for (const route of s.server.httpRoutes) {
    if (route.verb !== 'GET' || /:(?!symbol\b)/.test(route.path)) continue;
    const path = route.path.replace(':symbol', 'BTCUSDT');
    const answer = await s.call('GET', path, { token });
    const documented = route.opts.schema?.response?.[answer.status] as { safeParse?(v: unknown): { success: boolean; error?: unknown } } | undefined;
    if (typeof documented?.safeParse !== 'function') continue;
    const parsed = documented.safeParse(answer.body);
    t.ok(parsed.success, `${path} ${answer.status}: as documented${parsed.success ? '' : `: ${JSON.stringify(parsed.error).slice(0, 500)}`}`);
    checked++;
  }
  t.ok(checked >= 15, `${checked} answers checked against their schemas`);
});

t.test('the documented error schema is the one errors are answered with', async (t) => {
  const documented = resolve(doc, '#/components/schemas/Error') as Json;
  const answers = [
    await s.call('GET', '/api/v1/nowhere'),
    await s.call('GET', '/api/v1/market/ticker/NOPEUSDT'),
    await s.call('POST', '/api/v1/auth/register', { body: { email: 'not an email' } }),
  ];
  for (const a of answers) {
    t.equal(a.body.success, false);
    for (const key of documented.required) t.ok(key in a.body, `${a.status}: ${key}`);
    for (const key of documented.properties.error.required) t.ok(key in a.body.error, `${a.status}: error.${key}`);
    for (const key of Object.keys(a.body.error)) t.ok(documented.properties.error.properties[key], `${a.status}: error.${key} is documented`);
  }
  t.ok(answers.some((a) => a.body.error.hint !== undefined) && answers.some((a) => a.body.error.details !== undefined), 'hint and details were both seen');
});

t.test('a schema validates before the handler: the coded 400 as validateBody gives it, and the handler gets parsed values', async (t) => {
  const route = s.server.httpRoutes.find((r) => r.path === '/api/v1/schemas/items/:id')!;
  const calls = async () => (await s.call('GET', '/api/v1/schemas/calls')).body.data.calls as number;
  const before = await calls();

  const made = await s.call('POST', '/api/v1/schemas/items/7?verbose=yes', { body: { name: '  lamp ' } });
  t.equal(made.status, 201);
  t.same(made.body.data, { id: 7, idType: 'number', verbose: 'yes', name: 'lamp', tags: [] }, 'coerced, trimmed, defaults filled in');
  t.equal((await s.call('POST', '/api/v1/schemas/items/8', { body: { name: 'x' } })).body.data.verbose, 'no', 'a query default');

  const bad = { name: '', extra: true };
  const answer = await s.call('POST', '/api/v1/schemas/items/7', { body: bad });
  t.equal(answer.status, 400);
  let expected: Json | undefined;
  try {
    validateBody(route.opts.schema!.body!, bad);
  } catch (err) {
    expected = err as Json;
  }
  t.same(answer.body.error, { code: expected!.code, message: expected!.message, details: expected!.details }, 'the same code, message and details as validateBody');
  t.equal(answer.body.error.code, 'TG_ERR_VALIDATION');
  t.same(answer.body.error.details.map((d: Json) => d.field).sort(), ['(body)', 'name'], 'each field named (an unknown key is the body\'s)');

  const param = await s.call('POST', '/api/v1/schemas/items/0', { body: { name: 'x' } });
  t.same([param.status, param.body.error.code, param.body.error.details[0].field], [400, 'TG_ERR_VALIDATION', 'id'], 'a path parameter');
  const query = await s.call('POST', '/api/v1/schemas/items/1?verbose=maybe&verbose=yes', { body: { name: 'x' } });
  t.same([query.status, query.body.error.details[0].field], [400, 'verbose'], 'a query parameter (its first value)');
  const missing = await s.call('POST', '/api/v1/schemas/items/1');
  t.same([missing.status, missing.body.error.code], [400, 'TG_ERR_VALIDATION'], 'no body where one is required');
  t.equal(await calls(), before + 2, 'the handler ran for the two valid requests only');

  const plain = await s.call('GET', '/api/v1/schemas/plain/hello?q=1&q=2');
  t.same(plain.body.data, { word: 'hello', q: '1', searchParams: true }, 'a route without a schema gets the request as before');

  const user = await s.register();
  const orders = await s.call('GET', '/api/v1/orders?limit=0', { token: user.accessToken });
  t.same([orders.status, orders.body.error.code, orders.body.error.details?.[0]?.field], [400, 'TG_ERR_VALIDATION', 'limit'], 'a built-in route\'s query');
  const anonymous = await s.call('GET', '/api/v1/orders?limit=0');
  t.equal(anonymous.status, 401, 'who may call is checked before the input');
  const depth = await s.call('GET', '/api/v1/market/depth/BTCUSDT?limit=abc');
  t.same([depth.status, depth.body.error], [400, { code: 'TG_ERR_INVALID_ARGUMENT', message: 'limit must be an integer from 1 to 100' }], 'a check that names its own code keeps it');
});

t.test('/docs serves the page, the files it names (with their content types) and the document it loads', async (t) => {
  const pageUrl = `${s.httpUrl}/docs`;
  const page = await fetch(pageUrl);
  t.equal(page.status, 200);
  t.match(page.headers.get('content-type'), /^text\/html/);
  const csp = page.headers.get('content-security-policy') ?? '';
  t.match(csp, /script-src 'self'/, 'its own scripts may run');
  t.notMatch(csp, /https?:|\*/, 'nothing from elsewhere');
  const html = await page.text();
  const assets = [...html.matchAll(/(?:src|href)="([^"]+)"/g)].map((m) => new URL(m[1]!, pageUrl));
  t.ok(assets.some((u) => u.pathname.endsWith('.js')) && assets.some((u) => u.pathname.endsWith('.css')), 'scripts and a style sheet');
  let initScript = '';
  for (const url of assets) {
    t.equal(url.origin, new URL(pageUrl).origin, `${url.pathname}: from the gateway itself`);
    const res = await fetch(url);
    t.equal(res.status, 200, url.pathname);
    t.match(res.headers.get('content-type'), url.pathname.endsWith('.css') ? /^text\/css/ : /^text\/javascript/, `${url.pathname}: its content type`);
    const body = Buffer.from(await res.arrayBuffer());
    t.ok(body.length > 0, `${url.pathname}: not empty`);
    t.equal(Number(res.headers.get('content-length')), body.length, `${url.pathname}: its length`);
    const head = await fetch(url, { method: 'HEAD' });
    t.equal(Number(head.headers.get('content-length')), body.length, `${url.pathname}: HEAD gives the same length`);
    const text = body.toString();
    if (text.includes('SwaggerUIBundle(')) initScript = text;
  }
  t.ok(assets.length >= 3, 'the bundle, its styles and the script that starts it');
  const docUrl = /url:\s*'([^']+)'/.exec(initScript)?.[1];
  t.ok(docUrl, 'the page loads a document');
  const loaded = await fetch(new URL(docUrl!, pageUrl));
  t.same(await loaded.json(), doc, 'the page loads this document');
  const unknown = await s.call('GET', '/docs/secrets.txt');
  t.same([unknown.status, unknown.body.error.code], [404, 'TG_ERR_NOT_FOUND'], 'no other file');
});

t.test('a schema the router could not apply is refused when the route is registered', async (t) => {
  const app = new Proxy({}, { get: () => () => undefined }) as RouteTarget;
  const router = new HttpRouter(app, createLogger('silent'), {
    timeoutMs: 1000, errors: new ErrorRegistry(), clientAddress: () => '', access: {} as never, channelAccess: () => undefined,
  });
  const handler = () => ({ body: {} });
  t.throws(() => router.route('get', '/a', handler, { schema: { body: z.object({}) } as never }), /schema\.body needs a method that carries a body/);
  t.throws(() => router.route('post', '/b', handler, { rawBody: true, schema: { body: z.object({}) } }), /cannot check a rawBody route's bytes/);
  t.throws(() => router.route('get', '/c', handler, { schema: { query: { type: 'object' } } as never }), /schema\.query must be a zod schema/);
  router.route('post', '/d', handler, { schema: { summary: 'fine', body: z.object({ a: z.string() }) } });
  t.same(router.routes.map((r) => `${r.verb} ${r.path}`), ['POST /d'], 'only the route that was taken is listed');
});
