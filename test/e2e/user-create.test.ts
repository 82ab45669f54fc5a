// `npm run user:create`: the first admin, from the command line, beside a running gateway or before the first start.
import t from 'tap';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PACKAGE_ROOT } from '../../core/config.js';
import { startAccounts } from '../helpers/accounts.js';
import { testDatabase } from '../helpers/database.js';

const dir = mkdtempSync(join(tmpdir(), 'tickgate-user-create-'));
t.teardown(() => rmSync(dir, { recursive: true, force: true }));

/** Runs the README's command with the password on stdin; resolves with its exit code and output. */
function userCreate(config: string, args: string[], password: string): Promise<{ code: number | null; out: string; err: string }> {
  return new Promise((resolve) => {
    const child = spawn('npm', ['run', '--silent', 'user:create', '--', ...args], { cwd: PACKAGE_ROOT, env: { ...process.env, TICKGATE_CONFIG: config }, stdio: ['pipe', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    child.on('exit', (code) => resolve({ code, out, err }));
    child.stdin.end(`${password}\n`);
  });
}

t.test('creates an admin beside the running gateway, who can then sign in and use admin routes', async (t) => {
  const db = await testDatabase(t);
  const s = await startAccounts(t, { db });
  const config = join(dir, 'running.yaml');
  writeFileSync(config, `plugins:\n  - market\n  - name: db\n    config: ${JSON.stringify(db.config)}\n  - users\n  - auth\n`);
  const made = await userCreate(config, ['--email', 'Chief@Example.com', '--admin', '--display-name', 'Chief'], 'the chief passphrase');
  t.equal(made.code, 0, made.err);
  t.match(made.out, /^created admin chief@example\.com \(id [0-9a-f-]{36}\)\n$/);
  const login = await s.login('chief@example.com', 'the chief passphrase');
  t.match(login.user, { role: 'admin', displayName: 'Chief' });
  t.equal((await s.call('GET', '/api/v1/users', { token: login.accessToken })).status, 200);
  const again = await userCreate(config, ['--email', 'chief@example.com'], 'the chief passphrase');
  t.equal(again.code, 1);
  t.match(again.err, /already exists/);
  const weak = await userCreate(config, ['--email', 'weak@example.com'], 'short');
  t.equal(weak.code, 1);
  t.match(weak.err, /at least 10 characters/);
});

t.test('before the first start it creates the database; without --email it says how to call it', async (t) => {
  const data = join(dir, 'fresh-data');
  const config = join(dir, 'fresh.yaml');
  writeFileSync(config, `plugins:\n  - market\n  - name: db\n    config: { dataDir: ${JSON.stringify(data)} }\n  - users\n  - auth\n`);
  const made = await userCreate(config, ['--email', 'first@example.com', '--admin'], 'the very first passphrase');
  t.equal(made.code, 0, made.err);
  t.match(made.out, /created admin first@example\.com/);
  const usage = await userCreate(config, [], '');
  t.equal(usage.code, 2);
  t.match(usage.err, /--email is required\nusage: npm run user:create -- --email/);
  // Registration's rules, before any password is asked for.
  const notEmail = await userCreate(config, ['--email', 'not-an-email'], '');
  t.equal(notEmail.code, 2);
  t.match(notEmail.err, /^user:create: --email must be an email address, e\.g\. ada@example\.com\nusage:/m);
  const emptyName = await userCreate(config, ['--email', 'second@example.com', '--display-name', '  '], '');
  t.equal(emptyName.code, 2);
  t.match(emptyName.err, /--display-name must not be empty/);
});
