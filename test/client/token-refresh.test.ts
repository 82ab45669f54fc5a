// The SDK's in-band auth: a token function renews the identity before it expires, and after the server ends it.
import t from 'tap';
import WebSocket from 'ws';
import { TickgateClient, type AccountData } from '../../client/index.js';
import { startAccounts } from '../helpers/accounts.js';
import { until } from '../helpers/stack.js';

t.test('a private channel is held across token expiries and a sign-out, with fresh tokens from the function', async (t) => {
  const stack = await startAccounts(t, { auth: { accessTokenTtlSeconds: 3 } });
  const session = await stack.register();
  const tokens: string[] = [];
  let refreshToken = session.refreshToken;
  // A real client's token function: the refresh route (rotating refresh tokens), or a new login once signed out.
  const fresh = async (): Promise<string> => {
    let res = await stack.call('POST', '/api/v1/auth/refresh', { body: { refreshToken } });
    if (res.status !== 200) res = await stack.call('POST', '/api/v1/auth/login', { body: { email: session.user.email, password: session.password } });
    refreshToken = res.body.data.refreshToken;
    tokens.push(res.body.data.accessToken);
    return res.body.data.accessToken;
  };
  const client = new TickgateClient({ url: stack.wsUrl, WebSocket, token: fresh, refreshBeforeMs: 1500, reconnectMinMs: 50, reconnectMaxMs: 200 });
  t.teardown(() => client.close());
  const events: AccountData[] = [];
  const ended: string[] = [];
  const channelErrors: string[] = [];
  client.on('error', (e) => ended.push(e.code));
  // The server's answers to the SDK's resubscribes of the channel (with `since`): the channel is held again.
  let retaken = 0;
  client.on('recovery', (channel) => {
    if (channel === `account:${session.user.id}`) retaken++;
  });
  client.subscribe(`account:${session.user.id}`, { data: (d) => events.push(d), error: (e) => channelErrors.push(e.code) });
  await until(() => tokens.length >= 1, 'the first token');

  // Past the first token's life: renewed in band before it ran out, so the channel never dropped.
  await until(() => tokens.length >= 3, 'two renewals', 15_000);
  t.same(ended, [], 'the identity never lapsed');
  const rename = async (name: string) => {
    const res = await stack.call('PATCH', '/api/v1/users/me', { token: tokens.at(-1)!, body: { displayName: name } });
    t.equal(res.status, 200);
  };
  await rename('Ada');
  await until(() => events.some((e) => e.event === 'profile.updated' && (e.user as { displayName: string }).displayName === 'Ada'), 'the account event on the held channel');

  // Signed out elsewhere: the server ends the identity; the SDK signs in again and takes the channel back.
  const out = await stack.call('POST', '/api/v1/auth/logout', { body: { refreshToken } });
  t.equal(out.status, 200);
  await until(() => ended.includes('TG_ERR_SESSION_REVOKED'), 'the server ended the identity');
  const renewals = tokens.length;
  const held = retaken;
  await until(() => tokens.length > renewals, 'a new sign-in');
  // An account event published before the channel is taken again has nobody to reach (the channel closed with its
  // last subscriber), so the rename waits for the resubscribe's answer.
  await until(() => retaken > held, 'the channel taken again');
  await rename('Grace');
  await until(() => events.some((e) => e.event === 'profile.updated' && (e.user as { displayName: string }).displayName === 'Grace'), 'the account event after signing in again');
  t.same(channelErrors, [], 'the subscription itself never ended');
});
