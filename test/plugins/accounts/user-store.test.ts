// The user store's change listeners: a change answers only after its listeners have done their part (a password
// change after the other sessions have ended), and a listener's failure is the change's failure, not a silent one.
import t from 'tap';
import { openDatabase } from '../../../plugins/db/database.js';
import { USERS_MIGRATIONS } from '../../../plugins/users/migrations.js';
import { UserStore } from '../../../plugins/users/user-store.js';
import { createLogger } from '../../../core/logger.js';
import { testDatabase } from '../../helpers/database.js';

const tdb = await testDatabase(t);
const db = await openDatabase({ ...tdb.config, poolMax: 2, acquireTimeoutMs: 5000 }, createLogger('silent'));
t.teardown(() => db.close());
await db.migrate('users', USERS_MIGRATIONS);
const store = new UserStore(db, { passwordMinLength: 10, maxApiKeysPerUser: 3, passwordChangeFailuresPer15Minutes: 10 });
const PASSWORD = 'correct horse battery staple';

let hold: Promise<void> | undefined;
let entered: (() => void) | undefined;
const heard: string[] = [];
store.onChange(async (change) => {
  if (change.event === 'password.changed') {
    entered?.();
    await hold;
  }
  if (change.event === 'profile.updated') throw new Error('this listener fails');
});
store.onChange((change) => {
  heard.push(change.event);
});

t.test('changePassword resolves only after the listeners have', async (t) => {
  const u = await store.create({ email: `wait-${Date.now()}@example.com`, password: PASSWORD });
  let release!: () => void;
  hold = new Promise((r) => (release = r));
  let done = false;
  const reached = new Promise<void>((r) => (entered = r));
  const changing = store.changePassword(u.id, PASSWORD, 'a whole new passphrase', undefined).then(() => (done = true));
  await reached;
  await new Promise((r) => setImmediate(r));
  t.equal(done, false, 'the listener is running, and the change still waits for it');
  release();
  await changing;
  t.equal(done, true);
});

t.test('a listener that fails makes the change fail', async (t) => {
  const u = await store.create({ email: `fail-${Date.now()}@example.com`, password: PASSWORD });
  hold = Promise.reject(new Error('sessions could not be ended'));
  hold.catch(() => undefined);
  await t.rejects(store.changePassword(u.id, PASSWORD, 'a whole new passphrase', undefined), /sessions could not be ended/);
  hold = undefined;
});

t.test('for a change that stands once committed, a failing listener is logged and the others still hear it', async (t) => {
  const u = await store.create({ email: `profile-${Date.now()}@example.com`, password: PASSWORD });
  heard.length = 0;
  const user = await store.updateProfile(u.id, { displayName: 'Changed' });
  t.equal(user.displayName, 'Changed', 'the change is answered');
  t.same(heard, ['profile.updated'], 'the other listener heard it');
});
