// The account fields' rules, one definition for every way in: registration, profile changes, npm run user:create.
import { z } from 'zod';

export const emailField = z.string().trim().max(254, 'must be at most 254 characters').email('must be an email address, e.g. ada@example.com');
export const displayNameField = z.string().trim().min(1, 'must not be empty').max(64, 'must be at most 64 characters');
