// The auth plugin's error codes (a built-in plugin: TG_ERR_ codes, in the README's one error table).
import { defineErrors } from '../../core/errors.js';

export const AUTH_ERRORS = defineErrors('TG_ERR_', {
  TG_ERR_INVALID_CREDENTIALS: { status: 401, message: 'Email or password is incorrect' },
  TG_ERR_REFRESH_INVALID: { status: 401, message: 'This refresh token is not valid (unknown, expired or signed out): sign in again with POST /api/v1/auth/login' },
  TG_ERR_REFRESH_REUSED: { status: 401, message: 'This refresh token was already used: the session is revoked in case it was stolen; sign in again' },
  TG_ERR_SESSION_REVOKED: { status: 401, message: 'This session was signed out: sign in again with POST /api/v1/auth/login' },
  TG_ERR_REGISTRATION_CLOSED: { status: 403, message: 'Registration is closed on this server: ask an administrator for an account' },
});
