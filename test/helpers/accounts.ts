// A gateway with the account plugins (db, users, auth) on a test database, and small REST helpers for their API.
import type { Test } from 'tap';
import { startStack, type Stack, type StackOptions } from './stack.js';
import { testDatabase, type TestDatabase } from './database.js';

export interface AccountsStack extends Stack {
  db: TestDatabase;
  /** A JSON request; `token` goes in `Authorization: Bearer`. */
  call(method: string, path: string, opts?: { body?: unknown; token?: string; headers?: Record<string, string> }): Promise<{ status: number; body: any; headers: Headers }>;
  /** Registers a user (a unique email unless given) and returns the register answer's data. */
  register(opts?: { email?: string; password?: string; displayName?: string }): Promise<Session>;
  login(email: string, password: string): Promise<Session>;
}

export interface Session {
  user: { id: string; email: string; displayName: string; role: string; createdAt: string };
  accessToken: string;
  refreshToken: string;
  expiresIn: number;
  password: string;
}

export const PASSWORD = 'correct horse battery staple';
let counter = 0;

export async function startAccounts(t: Test, opts: StackOptions & { auth?: Record<string, unknown>; users?: Record<string, unknown>; db?: TestDatabase; extraPlugins?: unknown[] } = {}): Promise<AccountsStack> {
  const db = opts.db ?? await testDatabase(t);
  const config = (opts.config ?? {}) as Record<string, unknown>;
  const stack = await startStack(t, {
    ...opts,
    config: {
      ...config,
      plugins: ['market', { name: 'db', config: db.config }, { name: 'users', config: opts.users ?? {} }, { name: 'auth', config: { ...opts.auth } }, ...(opts.extraPlugins ?? [])],
    } as StackOptions['config'],
  });
  const call: AccountsStack['call'] = async (method, path, o = {}) => {
    const headers: Record<string, string> = { ...o.headers };
    if (o.body !== undefined) headers['content-type'] = 'application/json';
    if (o.token) headers.authorization = `Bearer ${o.token}`;
    const res = await fetch(stack.httpUrl + path, { method, headers, body: o.body === undefined ? undefined : typeof o.body === 'string' ? o.body : JSON.stringify(o.body) });
    const text = await res.text();
    let body: unknown;
    try {
      body = JSON.parse(text);
    } catch {
      body = text;
    }
    return { status: res.status, body, headers: res.headers };
  };
  const register: AccountsStack['register'] = async (r = {}) => {
    const email = r.email ?? `user${process.pid}-${++counter}-${Date.now()}@example.com`;
    const password = r.password ?? PASSWORD;
    const res = await call('POST', '/api/v1/auth/register', { body: { email, password, ...(r.displayName ? { displayName: r.displayName } : {}) } });
    if (res.status !== 201) throw new Error(`register failed: ${res.status} ${JSON.stringify(res.body)}`);
    return { ...res.body.data, password };
  };
  const login: AccountsStack['login'] = async (email, password) => {
    const res = await call('POST', '/api/v1/auth/login', { body: { email, password } });
    if (res.status !== 200) throw new Error(`login failed: ${res.status} ${JSON.stringify(res.body)}`);
    return { ...res.body.data, password };
  };
  return { ...stack, db, call, register, login };
}

/**
 * Runs SQL on the stack's database beside the gateway: on the PostgreSQL test database, or on the embedded one
 * through the socket the running gateway serves it on (its data directory's lock file names it).
 */
export async function sqlOn(db: TestDatabase, text: string, params: unknown[] = []): Promise<any[]> {
  const pg = (await import('pg')).default;
  let client: InstanceType<typeof pg.Client>;
  if (db.mode === 'postgres') client = new pg.Client({ connectionString: db.config.url });
  else {
    const { readFileSync } = await import('node:fs');
    const { join } = await import('node:path');
    const lock = JSON.parse(readFileSync(join(db.config.dataDir, 'tickgate-db.lock'), 'utf8')) as { socketDir: string };
    client = new pg.Client({ host: lock.socketDir, port: 5432, user: 'postgres', database: 'postgres' });
  }
  await client.connect();
  try {
    return (await client.query(text, params)).rows;
  } finally {
    await client.end();
  }
}

/** Makes a registered user an admin, as `npm run user:create -- --admin` would have. */
export async function makeAdmin(db: TestDatabase, userId: string): Promise<void> {
  await sqlOn(db, "UPDATE users SET role = 'admin' WHERE id = $1", [userId]);
}
