// The users plugin's routes: a user's own profile, password and API keys; the admin's user list and powers.
import { z } from 'zod';
import type { AcceptorApi, RouteRequest } from '../../core/plugin-api.js';
import { TickgateError } from '../../core/errors.js';
import { okAnswer } from '../../core/openapi.js';
import { ROLES, type AdminUser, type UserStore } from './user-store.js';
import { displayNameField } from './fields.js';
import { adminUserAnswer, apiKeyAnswer, publicUserAnswer } from './answers.js';

const displayName = displayNameField;

/** `role` and `disabled` in a user's own PATCH: refused as such (403), whatever else the body holds. */
const adminsOnly = z.unknown()
  .refine(() => false, { message: 'Your role and state are changed by an admin (PATCH /api/v1/users/:id), not by you', params: { code: 'TG_ERR_FORBIDDEN' } })
  .meta({ not: {}, description: 'Not yours to change: 403 TG_ERR_FORBIDDEN (an admin changes it, PATCH /api/v1/users/:id)' });
/** An empty body (or null) changes nothing. */
const profilePatch = z.object({ displayName, role: adminsOnly, disabled: adminsOnly }).partial().strict().nullish();
const passwordChange = z.object({
  currentPassword: z.string().min(1, 'is required'),
  newPassword: z.string().min(1, 'is required'),
}).strict();
const apiKeyCreate = z.object({ name: z.string().trim().min(1, 'must not be empty').max(64, 'must be at most 64 characters') }).strict();
const adminPatch = z.object({
  role: z.enum(ROLES as [string, ...string[]], { message: `must be one of ${ROLES.join(', ')}` }),
  disabled: z.boolean(),
  displayName,
}).partial().strict().refine((p) => Object.keys(p).length > 0, { message: 'send at least one of role, disabled, displayName' });
const idParam = z.object({ id: z.string() });
const TAGS = ['users'];
const userAnswer = okAnswer(z.object({ user: publicUserAnswer }));
const adminAnswer = okAnswer(z.object({ user: adminUserAnswer }));

function ok(data: unknown, status = 200) {
  return { status, body: { success: true, data } };
}

function me(req: RouteRequest<unknown, unknown, unknown>): string {
  return req.identity!.userId;
}

export function userRoutes(api: AcceptorApi, store: UserStore, maxPageSize: number, adminFields: ReadonlyMap<string, (userId: string) => unknown> = new Map()): void {
  /** A user as admins see them, with the fields other plugins add (a plan). */
  const forAdmin = (u: AdminUser): AdminUser & Record<string, unknown> => {
    if (adminFields.size === 0) return u as AdminUser & Record<string, unknown>;
    const out: AdminUser & Record<string, unknown> = { ...u };
    for (const [name, value] of adminFields) out[name] = value(u.id);
    return out;
  };
  const base = '/api/v1/users';
  const listQuery = z.object({
    page: z.coerce.number().int().min(1).default(1),
    pageSize: z.coerce.number().int().min(1).max(maxPageSize).default(Math.min(50, maxPageSize)),
    q: z.string().trim().max(256).optional(),
  });

  api.route('get', `${base}/me`, async (req) => {
    const user = await store.get(me(req));
    if (!user) throw new TickgateError('TG_ERR_TOKEN_INVALID', 'This account no longer exists');
    return ok({ user });
  }, { auth: 'user', schema: { tags: TAGS, summary: 'Your account', response: { 200: userAnswer } } });

  api.route('patch', `${base}/me`, async (req) => ok({ user: await store.updateProfile(me(req), req.body ?? {}) }), {
    auth: 'user', maxBodyBytes: 4096,
    schema: { tags: TAGS, summary: 'Changes your profile (your display name)', body: profilePatch, response: { 200: userAnswer } },
  });

  api.route('post', `${base}/me/password`, async (req) => {
    const body = req.body;
    const id = req.identity!;
    await store.changePassword(id.userId, body.currentPassword, body.newPassword, id.credential.kind === 'token' ? id.credential.id : undefined);
    return ok({ changed: true, otherSessionsRevoked: true });
  }, {
    auth: 'user', maxBodyBytes: 4096,
    schema: {
      tags: TAGS, summary: 'Changes your password and ends your other sessions (the new one must pass the password policy)', body: passwordChange,
      response: { 200: okAnswer(z.object({ changed: z.literal(true), otherSessionsRevoked: z.literal(true) })) },
    },
  });

  api.route('get', `${base}/me/api-keys`, async (req) => ok({ keys: await store.listApiKeys(me(req)) }), {
    auth: 'user', schema: { tags: TAGS, summary: 'Your API keys (without the keys themselves)', response: { 200: okAnswer(z.object({ keys: z.array(apiKeyAnswer) })) } },
  });

  api.route('post', `${base}/me/api-keys`, async (req) => ok(await store.createApiKey(me(req), req.body.name), 201), {
    auth: 'user', maxBodyBytes: 4096,
    schema: {
      tags: TAGS, summary: 'Creates an API key: the key (X-API-Key) and its signing secret are shown this once', body: apiKeyCreate,
      response: { 201: okAnswer(apiKeyAnswer.extend({ key: z.string(), secret: z.string().meta({ description: 'Signs the Binance-compatible routes\' requests (HMAC-SHA256)' }) })) },
    },
  });

  api.route('del', `${base}/me/api-keys/:id`, async (req) => {
    await store.revokeApiKey(me(req), req.params.id);
    return ok({ revoked: true });
  }, { auth: 'user', schema: { tags: TAGS, summary: 'Revokes one of your API keys', params: idParam, response: { 200: okAnswer(z.object({ revoked: z.literal(true) })) } } });

  api.route('get', base, async (req) => {
    const q = req.query;
    const page = await store.list({ page: q.page, pageSize: q.pageSize, q: q.q || undefined });
    return ok({ ...page, users: page.users.map(forAdmin) });
  }, {
    auth: 'admin',
    schema: {
      tags: TAGS, summary: 'The users, a page at a time, oldest first (q: a part of the email, case-insensitively)', query: listQuery,
      response: { 200: okAnswer(z.object({ users: z.array(adminUserAnswer), page: z.number().int(), pageSize: z.number().int(), total: z.number().int() })) },
    },
  });

  api.route('get', `${base}/:id`, async (req) => ok({ user: forAdmin(await store.getForAdmin(req.params.id)) }), {
    auth: 'admin', schema: { tags: TAGS, summary: 'One user', params: idParam, response: { 200: adminAnswer } },
  });

  api.route('patch', `${base}/:id`, async (req) => ok({ user: forAdmin(await store.adminUpdate(me(req), req.params.id, req.body as Parameters<UserStore['adminUpdate']>[2])) }), {
    auth: 'admin', maxBodyBytes: 4096,
    schema: { tags: TAGS, summary: 'Changes a user\'s role, state or display name (not your own role or state)', params: idParam, body: adminPatch, response: { 200: adminAnswer } },
  });

  api.route('del', `${base}/:id`, async (req) => {
    await store.delete(me(req), req.params.id);
    return ok({ deleted: true });
  }, { auth: 'admin', schema: { tags: TAGS, summary: 'Deletes a user: the account, its sessions and keys go, and its connections are signed out', params: idParam, response: { 200: okAnswer(z.object({ deleted: z.literal(true) })) } } });
}
