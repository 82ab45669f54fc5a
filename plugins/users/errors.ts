// The users plugin's error codes (a built-in plugin: TG_ERR_ codes, in the README's one error table).
import { defineErrors } from '../../core/errors.js';

export const USERS_ERRORS = defineErrors('TG_ERR_', {
  TG_ERR_EMAIL_TAKEN: { status: 409, message: 'An account with this email already exists: sign in (POST /api/v1/auth/login) or use another email' },
  TG_ERR_USER_NOT_FOUND: { status: 404, message: 'No user with this id' },
  TG_ERR_WRONG_PASSWORD: { status: 403, message: 'The current password is not correct: nothing was changed' },
  TG_ERR_SELF_CHANGE: { status: 409, message: 'An admin cannot demote, disable or delete their own account: ask another admin' },
  TG_ERR_API_KEY_NOT_FOUND: { status: 404, message: 'You have no API key with this id: GET /api/v1/users/me/api-keys lists them' },
  TG_ERR_API_KEY_LIMIT: { status: 409, message: 'This account holds the most API keys it may: revoke one you no longer use' },
  TG_ERR_TOO_MANY_ATTEMPTS: { status: 429, message: 'Too many attempts: wait for the time in Retry-After, then try again' },
  TG_ERR_ACCOUNT_DISABLED: { status: 403, message: 'This account is disabled: contact an administrator' },
});
