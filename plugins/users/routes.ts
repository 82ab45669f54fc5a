// The users plugin's routes: a user's own profile, password and API keys; the admin's user list and powers.
import { z } from 'zod';
import type { AcceptorApi, RouteRequest } from '../../core/plugin-api.js';
import { TickgateError } from '../../core/errors.js';
import { validateBody } from '../../core/validation.js';
import { ROLES, type AdminUser, type UserStore } from './user-store.js';
import { displayNameField } from './fields.js';

const displayName = displayNameField;

const profilePatch = z.object({ displayName }).partial().strict();
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

function ok(data: unknown, status = 200) {
  return { status, body: { success: true, data } };
}

function me(req: RouteRequest): string {
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
  }, { auth: 'user' });

  api.route('patch', `${base}/me`, async (req) => {
    if (req.body !== null && typeof req.body === 'object' && ('role' in req.body || 'disabled' in req.body)) {
      throw new TickgateError('TG_ERR_FORBIDDEN', 'Your role and state are changed by an admin (PATCH /api/v1/users/:id), not by you');
    }
    const patch = validateBody(profilePatch, req.body ?? {});
    return ok({ user: await store.updateProfile(me(req), patch) });
  }, { auth: 'user', maxBodyBytes: 4096 });

  api.route('post', `${base}/me/password`, async (req) => {
    const body = validateBody(passwordChange, req.body);
    const id = req.identity!;
    await store.changePassword(id.userId, body.currentPassword, body.newPassword, id.credential.kind === 'token' ? id.credential.id : undefined);
    return ok({ changed: true, otherSessionsRevoked: true });
  }, { auth: 'user', maxBodyBytes: 4096 });

  api.route('get', `${base}/me/api-keys`, async (req) => ok({ keys: await store.listApiKeys(me(req)) }), { auth: 'user' });

  api.route('post', `${base}/me/api-keys`, async (req) => {
    const { name } = validateBody(apiKeyCreate, req.body);
    return ok(await store.createApiKey(me(req), name), 201);
  }, { auth: 'user', maxBodyBytes: 4096 });

  api.route('del', `${base}/me/api-keys/:id`, async (req) => {
    await store.revokeApiKey(me(req), req.params.id!);
    return ok({ revoked: true });
  }, { auth: 'user' });

  api.route('get', base, async (req) => {
    const q = validateBody(listQuery, Object.fromEntries(req.query));
    const page = await store.list({ page: q.page, pageSize: q.pageSize, q: q.q || undefined });
    return ok({ ...page, users: page.users.map(forAdmin) });
  }, { auth: 'admin' });

  api.route('get', `${base}/:id`, async (req) => ok({ user: forAdmin(await store.getForAdmin(req.params.id!)) }), { auth: 'admin' });

  api.route('patch', `${base}/:id`, async (req) => {
    const patch = validateBody(adminPatch, req.body);
    return ok({ user: forAdmin(await store.adminUpdate(me(req), req.params.id!, patch as Parameters<UserStore['adminUpdate']>[2])) });
  }, { auth: 'admin', maxBodyBytes: 4096 });

  api.route('del', `${base}/:id`, async (req) => {
    await store.delete(me(req), req.params.id!);
    return ok({ deleted: true });
  }, { auth: 'admin' });
}
