// The OpenAPI 3.1 document of every registered route, built from the same schemas that validate the routes.
import { STATUS_CODES } from 'node:http';
import { z } from 'zod';
import type { RegisteredRoute } from './http-router.js';
import type { Logger } from './logger.js';

type Json = Record<string, unknown>;

/**
 * The body of every coded error, whatever route answers it (core/http-router.ts's errorBody and invoke); a route's
 * `schema.response` entry that names it is documented as a reference to the shared schema.
 */
export const errorEnvelope = z.object({
  success: z.literal(false),
  error: z.object({
    code: z.string().meta({ description: 'Stable error code (TG_ERR_… or a plugin\'s own): see the README\'s table of errors', examples: ['TG_ERR_VALIDATION'] }),
    message: z.string().meta({ description: 'What went wrong and what to do' }),
    hint: z.string().optional().meta({ description: 'What to check, where the message alone does not say' }),
    details: z.array(z.object({ field: z.string(), message: z.string() })).optional()
      .meta({ description: 'TG_ERR_VALIDATION: each field that is not valid ("email", "items.0.price") and what it needs' }),
  }),
});

/** The document's schema of a success answer, `{"success":true,"data":…}`, for a route's `schema.response`. */
export function okAnswer<T extends z.ZodType>(data: T) {
  return z.object({ success: z.literal(true), data });
}

/** The shared error answers, by name in components.responses, and the statuses they stand for. */
const ERROR_RESPONSES: Record<string, { status?: number; description: string }> = {
  BadRequest: { status: 400, description: 'The request is not valid: TG_ERR_VALIDATION (error.details names each field) or a code of the route\'s own (TG_ERR_INVALID_SYMBOL, …); TG_ERR_INVALID_JSON for a body that is not JSON' },
  Unauthorized: { status: 401, description: 'No valid credential: TG_ERR_AUTH_REQUIRED, TG_ERR_TOKEN_INVALID or TG_ERR_TOKEN_EXPIRED' },
  Forbidden: { status: 403, description: 'The caller may not: TG_ERR_FORBIDDEN (the admin role), or a plan\'s rule for the data this route answers with' },
  PayloadTooLarge: { status: 413, description: 'TG_ERR_BODY_TOO_LARGE: the body is over this route\'s limit' },
  TooManyRequests: { status: 429, description: 'TG_ERR_REQUEST_LIMIT: wait for the seconds in Retry-After' },
  Error: { description: 'A coded error: error.code says which (TG_ERR_INTERNAL 500, TG_ERR_ROUTE_TIMEOUT 504, TG_ERR_SHUTTING_DOWN 503, …)' },
};

const BODY_METHODS = new Set(['post', 'put', 'patch']);

/** One response of `schema.response`: a schema, or a description of a body that is not JSON. */
interface ResponseDoc {
  description?: string;
  contentType?: string;
  schema?: unknown;
}

function isSchema(value: unknown): boolean {
  return typeof value === 'object' && value !== null && ('~standard' in value || '_zod' in value || typeof (value as { safeParse?: unknown }).safeParse === 'function');
}

/** What `~standard.jsonSchema` offers: zod 4.2 and later, and other libraries that implement Standard JSON Schema. */
interface StandardJsonSchema {
  '~standard'?: { jsonSchema?: Partial<Record<'input' | 'output', (options: { target: string; libraryOptions?: Json }) => Json>> };
}

/**
 * The JSON Schema (draft 2020-12, OpenAPI 3.1's dialect) of a schema: what it accepts (`input`: a transform or a
 * pipe shows its input side, a default makes a property optional) or what it gives (`output`). A schema
 * converts itself when it can (a plugin's own copy of zod); a zod 4 schema that cannot is converted by the gateway's.
 * Types JSON Schema cannot express (a date, a custom check) become `{}`; undefined when there is nothing to convert.
 */
export function jsonSchemaOf(schema: unknown, io: 'input' | 'output'): Json | undefined {
  const convert = (schema as StandardJsonSchema | null)?.['~standard']?.jsonSchema?.[io];
  if (typeof convert === 'function') return convert({ target: 'draft-2020-12', libraryOptions: { unrepresentable: 'any' } });
  if (typeof schema === 'object' && schema !== null && '_zod' in schema) {
    return z.toJSONSchema(schema as z.ZodType, { io, target: 'draft-2020-12', unrepresentable: 'any' }) as Json;
  }
  return undefined;
}

/** `/api/v1/orders/:id` → `/api/v1/orders/{id}`. */
function templateOf(path: string): string {
  return path.split('/').map((seg) => (seg.startsWith(':') ? `{${seg.slice(1)}}` : seg)).join('/');
}

function ownerTag(owner: string): string {
  const m = /^plugin "(.+)"$/.exec(owner);
  return m ? m[1]! : 'core';
}

/** Walks a JSON value, replacing each `$ref` by `map(ref)`. */
function rewriteRefs(value: unknown, map: (ref: string) => string): unknown {
  if (Array.isArray(value)) return value.map((v) => rewriteRefs(v, map));
  if (value === null || typeof value !== 'object') return value;
  const out: Json = {};
  for (const [k, v] of Object.entries(value)) out[k] = k === '$ref' && typeof v === 'string' ? map(v) : rewriteRefs(v, map);
  return out;
}

function hasRootRef(value: unknown): boolean {
  if (Array.isArray(value)) return value.some(hasRootRef);
  if (value === null || typeof value !== 'object') return false;
  return Object.entries(value).some(([k, v]) => (k === '$ref' && v === '#') || hasRootRef(v));
}

/** Builds the document: routes in registration order, each with its operation from its options and schema. */
class DocumentBuilder {
  /** components.schemas: the error envelope, and what the routes' schemas define for reuse. */
  readonly schemas: Record<string, unknown>;
  readonly securitySchemes: Record<string, Json> = {};
  private readonly operationIds = new Set<string>();

  constructor(private readonly log: Logger) {
    const { $schema: _dialect, ...envelope } = jsonSchemaOf(errorEnvelope, 'input')!;
    this.schemas = { Error: envelope };
  }

  /**
   * A schema as OpenAPI embeds it: without `$schema`, and with its `$defs` (zod's for reused or recursive parts)
   * moved to components.schemas, since a `#/…` reference inside the document points at the document's root.
   */
  embed(json: Json, name: string): Json {
    const { $schema: _dialect, $defs, ...rest } = json;
    const defs = ($defs ?? {}) as Record<string, unknown>;
    const selfRef = hasRootRef(rest);
    if (Object.keys(defs).length === 0 && !selfRef) return rest;
    const names = new Map<string, string>();
    for (const key of Object.keys(defs)) names.set(key, this.freeName(key));
    const rootName = selfRef ? this.freeName(name) : '';
    const map = (ref: string): string => {
      if (ref === '#') return `#/components/schemas/${rootName}`;
      const m = /^#\/\$defs\/(.+)$/.exec(ref);
      return m && names.has(m[1]!) ? `#/components/schemas/${names.get(m[1]!)}` : ref;
    };
    for (const [key, def] of Object.entries(defs)) this.schemas[names.get(key)!] = rewriteRefs(def, map);
    const body = rewriteRefs(rest, map) as Json;
    if (!selfRef) return body;
    this.schemas[rootName] = body;
    return { $ref: `#/components/schemas/${rootName}` };
  }

  private freeName(base: string): string {
    const clean = base.replace(/[^A-Za-z0-9._-]/g, '_') || 'Schema';
    let name = clean;
    for (let i = 2; Object.hasOwn(this.schemas, name); i++) name = `${clean}_${i}`;
    this.schemas[name] = {};
    return name;
  }

  /** A part's JSON Schema, or undefined (logged) when it cannot be converted: the route is documented without it. */
  convert(schema: unknown, io: 'input' | 'output', route: RegisteredRoute, what: string, name: string): Json | undefined {
    try {
      const json = jsonSchemaOf(schema, io);
      if (json === undefined) this.log.warn({ route: `${route.verb} ${route.path}`, part: what }, 'OpenAPI: a schema that converts to no JSON Schema (use zod 4): the document leaves it out');
      return json && this.embed(json, name);
    } catch (err) {
      this.log.warn({ route: `${route.verb} ${route.path}`, part: what, err: err instanceof Error ? err.message : String(err) }, 'OpenAPI: a schema could not be converted to JSON Schema: the document leaves it out');
      return undefined;
    }
  }

  operationId(route: RegisteredRoute): string {
    const base = route.verb.toLowerCase() + route.path.replace(/[^A-Za-z0-9]+(.)?/g, (_, c: string | undefined) => (c ? c.toUpperCase() : ''));
    let id = base;
    for (let i = 2; this.operationIds.has(id); i++) id = `${base}${i}`;
    this.operationIds.add(id);
    return id;
  }

  security(route: RegisteredRoute): Array<Record<string, string[]>> | undefined {
    const { auth, apiKeyHeader } = route.opts;
    if (auth) {
      this.securitySchemes.bearerAuth = { type: 'http', scheme: 'bearer', bearerFormat: 'JWT', description: 'An access token from POST /api/v1/auth/login (or register, refresh)' };
      this.securitySchemes.apiKey = { type: 'apiKey', in: 'header', name: 'X-API-Key', description: 'An API key from POST /api/v1/users/me/api-keys' };
      return auth === 'optional' ? [{ bearerAuth: [] }, { apiKey: [] }, {}] : [{ bearerAuth: [] }, { apiKey: [] }];
    }
    if (apiKeyHeader) {
      const name = `apiKey_${apiKeyHeader.replace(/[^A-Za-z0-9]+/g, '_')}`;
      this.securitySchemes[name] = { type: 'apiKey', in: 'header', name: apiKeyHeader, description: `An API key in ${apiKeyHeader}; the route also checks the request's signature` };
      return [{ [name]: [] }];
    }
    return undefined;
  }

  operation(route: RegisteredRoute): Json {
    const { opts } = route;
    const schema = opts.schema ?? {};
    const id = this.operationId(route);
    const op: Json = { operationId: id, tags: schema.tags ?? [ownerTag(route.owner)] };
    if (schema.summary) op.summary = schema.summary;
    if (schema.description) op.description = schema.description;

    const parameters: Json[] = [];
    const pathNames = route.path.split('/').filter((s) => s.startsWith(':')).map((s) => s.slice(1));
    const params = schema.params ? this.convert(schema.params, 'input', route, 'params', `${id}_params`) : undefined;
    const paramProps = (params?.properties ?? {}) as Record<string, Json>;
    for (const name of pathNames) {
      const prop = paramProps[name] ?? { type: 'string' };
      parameters.push({ name, in: 'path', required: true, schema: prop, ...(typeof prop.description === 'string' ? { description: prop.description } : {}) });
    }
    const query = schema.query ? this.convert(schema.query, 'input', route, 'query', `${id}_query`) : undefined;
    if (query) {
      const required = new Set((query.properties && Array.isArray(query.required) ? query.required : []) as string[]);
      for (const [name, prop] of Object.entries((query.properties ?? {}) as Record<string, Json>)) {
        parameters.push({ name, in: 'query', required: required.has(name), schema: prop, ...(typeof prop.description === 'string' ? { description: prop.description } : {}) });
      }
    }
    if (parameters.length) op.parameters = parameters;

    const hasBody = BODY_METHODS.has(route.method);
    if (opts.rawBody) {
      op.requestBody = { description: 'Read as bytes, as sent (its signature covers them)', content: { '*/*': { schema: {} } } };
    } else if (schema.body) {
      const body = this.convert(schema.body, 'input', route, 'body', `${id}_body`);
      let optional = false;
      try {
        optional = (schema.body as { safeParse(v: unknown): { success: boolean } }).safeParse(undefined).success;
      } catch {
        // A schema that throws on undefined does not accept it.
      }
      op.requestBody = { required: !optional, content: { 'application/json': { schema: body ?? {} } } };
    } else if (hasBody) {
      op.requestBody = { required: false, content: { 'application/json': { schema: {} } } };
    }

    const responses: Json = {};
    for (const [status, doc] of Object.entries(schema.response ?? {})) {
      if (doc === undefined) continue;
      const entry: ResponseDoc = isSchema(doc) ? { schema: doc } : (doc as ResponseDoc);
      const json = entry.schema === undefined ? undefined
        : entry.schema === errorEnvelope ? { $ref: '#/components/schemas/Error' }
          // Input mode for answers too: zod's output mode closes every object (additionalProperties: false), and an
          // answer may gain a field without breaking its clients.
          : this.convert(entry.schema, 'input', route, `response ${status}`, `${id}_${status}`);
      const response: Json = { description: entry.description ?? STATUS_CODES[Number(status)] ?? 'Answer' };
      // No body at all (101) unless a schema or a content type says what it is.
      if (json !== undefined || entry.contentType !== undefined) {
        response.content = { [entry.contentType ?? 'application/json']: { schema: json ?? (entry.contentType?.startsWith('application/json') ? {} : { type: 'string' }) } };
      }
      responses[status] = response;
    }
    if (!Object.keys(responses).some((s) => Number(s) < 400)) responses['200'] = { description: 'OK', content: { 'application/json': { schema: {} } } };
    if (opts.errorShape) {
      // Such a route speaks another API's errors (e.g. Binance's {code, msg}): its own responses say how.
      responses.default ??= { description: 'An error, in the shape of the API this route is compatible with' };
    } else {
      const ref = (name: string) => ({ $ref: `#/components/responses/${name}` });
      if (schema.params || schema.query || schema.body || hasBody) responses['400'] ??= ref('BadRequest');
      if (opts.auth) responses['401'] ??= ref('Unauthorized');
      if (opts.auth === 'admin' || opts.channel) responses['403'] ??= ref('Forbidden');
      if (hasBody) responses['413'] ??= ref('PayloadTooLarge');
      if (route.path.startsWith('/api/')) responses['429'] ??= ref('TooManyRequests');
      responses.default = ref('Error');
    }
    op.responses = responses;

    const security = this.security(route);
    if (security) op.security = security;
    return op;
  }
}

export interface OpenApiOptions {
  version: string;
  log: Logger;
}

/** The document of the routes as registered (a GET's HEAD twin is described once, in the document's description). */
export function buildOpenApi(routes: readonly RegisteredRoute[], opts: OpenApiOptions): Json {
  const builder = new DocumentBuilder(opts.log);
  const paths: Record<string, Json> = {};
  const tags: string[] = [];
  for (const route of routes) {
    const op = builder.operation(route);
    for (const tag of op.tags as string[]) if (!tags.includes(tag)) tags.push(tag);
    const key = templateOf(route.path);
    (paths[key] ??= {})[route.verb.toLowerCase()] = op;
  }
  const responses: Record<string, Json> = {};
  for (const [name, r] of Object.entries(ERROR_RESPONSES)) {
    responses[name] = { description: r.description, content: { 'application/json': { schema: { $ref: '#/components/schemas/Error' } } } };
  }
  return {
    openapi: '3.1.1',
    info: {
      title: 'tickgate',
      version: opts.version,
      description: 'The HTTP API of this tickgate gateway, built from the schemas its routes validate with: every route of the core and of the plugins it runs. '
        + 'Every GET route also answers HEAD. Market data streams over the WebSocket at /ws (its protocol is in the README). '
        + 'Errors are `{"success":false,"error":{"code","message","hint"?}}` with a stable code.',
      license: { name: 'MIT', identifier: 'MIT' },
    },
    tags: tags.map((name) => ({ name })),
    paths,
    components: {
      schemas: builder.schemas,
      responses,
      ...(Object.keys(builder.securitySchemes).length ? { securitySchemes: builder.securitySchemes } : {}),
    },
  };
}
