// The accounts' answers as the OpenAPI document shows them: a user, as themselves and as an admin sees them, an API key.
import { z } from 'zod';
import { ROLES } from './user-store.js';

export const publicUserAnswer = z.object({
  id: z.string(),
  email: z.string(),
  displayName: z.string(),
  role: z.enum(ROLES as [string, ...string[]]),
  createdAt: z.string().meta({ description: 'ISO 8601' }),
});

export const adminUserAnswer = publicUserAnswer.extend({
  disabled: z.boolean(),
  disabledAt: z.string().nullable(),
  updatedAt: z.string(),
}).catchall(z.unknown()).meta({ description: 'With the fields other plugins add (the payments plugin\'s plan)' });

export const apiKeyAnswer = z.object({
  id: z.string(),
  name: z.string(),
  prefix: z.string().meta({ description: 'The key\'s first characters, to tell keys apart' }),
  createdAt: z.string(),
  lastUsedAt: z.string().nullable(),
});
