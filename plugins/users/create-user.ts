// `npm run user:create -- --email ada@example.com [--admin] [--display-name Ada]`: creates an account (the first
// admin, typically) in the database the configuration names; the password comes from stdin or a hidden prompt.
import { parseArgs } from 'node:util';
import { read } from 'read';
import { loadConfig, ConfigError, type Config } from '../../core/config.js';
import { createLogger } from '../../core/logger.js';
import { TickgateError } from '../../core/errors.js';
import { EXIT_CODES } from '../../core/cli.js';
import dbPlugin from '../db/index.js';
import usersPlugin from './index.js';
import { openDatabase } from '../db/database.js';
import { USERS_MIGRATIONS } from './migrations.js';
import { UserStore } from './user-store.js';
import { displayNameField, emailField } from './fields.js';

const USAGE = 'usage: npm run user:create -- --email <email> [--admin] [--display-name <name>]   (password on stdin, or asked for)';

function fail(message: string, code: number): never {
  process.stderr.write(`user:create: ${message}\n`);
  process.exit(code);
}

/** A plugin's config section as the gateway would validate it. */
function pluginConfig<C>(config: Config, name: string, schema: { safeParse(v: unknown): { success: true; data: C } | { success: false; error: { issues: ReadonlyArray<{ path: readonly PropertyKey[]; message: string }> } } }): C {
  const entry = config.plugins.find((p) => p.name === name);
  if (!entry) fail(`config (${config.source}) loads no "${name}" plugin: accounts need the db, users and auth plugins`, EXIT_CODES.CONFIG);
  const parsed = schema.safeParse(entry.config);
  if (!parsed.success) fail(`invalid configuration for plugin "${name}": ${parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`, EXIT_CODES.CONFIG);
  return parsed.data;
}

async function readPassword(): Promise<string> {
  if (!process.stdin.isTTY) {
    let text = '';
    for await (const chunk of process.stdin) text += String(chunk);
    return text.replace(/\r?\n$/, '');
  }
  const first = await read({ prompt: 'Password: ', silent: true, replace: '*' });
  const second = await read({ prompt: 'Again: ', silent: true, replace: '*' });
  if (first !== second) fail('the two passwords differ: nothing was created', 1);
  return first;
}

let args;
try {
  args = parseArgs({ options: { email: { type: 'string' }, admin: { type: 'boolean', default: false }, 'display-name': { type: 'string' }, help: { type: 'boolean', short: 'h' } } }).values;
} catch (err) {
  fail(`${(err as Error).message}\n${USAGE}`, EXIT_CODES.CONFIG);
}
if (args.help) {
  process.stdout.write(`${USAGE}\n`);
  process.exit(0);
}
if (!args.email) fail(`--email is required\n${USAGE}`, EXIT_CODES.CONFIG);
// The rules registration applies, checked before the password is asked for.
const email = emailField.safeParse(args.email);
if (!email.success) fail(`--email ${email.error.issues[0]!.message}\n${USAGE}`, EXIT_CODES.CONFIG);
const displayName = args['display-name'] === undefined ? undefined : displayNameField.safeParse(args['display-name']);
if (displayName && !displayName.success) fail(`--display-name ${displayName.error.issues[0]!.message}\n${USAGE}`, EXIT_CODES.CONFIG);

let config: Config;
try {
  config = loadConfig();
} catch (err) {
  if (err instanceof ConfigError) fail(err.message, EXIT_CODES.CONFIG);
  throw err;
}
const dbConfig = pluginConfig(config, 'db', dbPlugin.configSchema!);
const usersConfig = pluginConfig(config, 'users', usersPlugin.configSchema!);
const log = createLogger(config.log.level === 'info' ? 'warn' : config.log.level, { component: 'user:create' });

const password = await readPassword();
const db = await openDatabase({ ...dbConfig, attach: true }, log).catch((err: Error) => fail(err.message, 1));
try {
  await db.migrate('users', USERS_MIGRATIONS);
  const store = new UserStore(db, usersConfig, log);
  const user = await store.create({ email: email.data, password, displayName: displayName?.data, role: args.admin ? 'admin' : 'user' });
  process.stdout.write(`created ${user.role} ${user.email} (id ${user.id})\n`);
} catch (err) {
  await db.close();
  if (err instanceof TickgateError) fail(err.details ? `${err.message}: ${err.details.map((d) => `${d.field} ${d.message}`).join('; ')}` : err.message, 1);
  throw err;
}
await db.close();
