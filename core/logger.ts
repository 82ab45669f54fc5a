// Structured pino logging: one root logger, children per component, secrets and tokens redacted.
import { pino, type Logger, type LevelWithSilent } from 'pino';

export type { Logger };

const REDACT_PATHS = [
  'token',
  '*.token',
  'query.token',
  'headers.authorization',
  '*.headers.authorization',
  'password',
  '*.password',
  'secret',
  '*.secret',
  'refreshToken',
  '*.refreshToken',
  'accessToken',
  '*.accessToken',
  'apiKey',
  '*.apiKey',
  'headers["x-api-key"]',
  '*.headers["x-api-key"]',
  'currentPassword',
  '*.currentPassword',
  'newPassword',
  '*.newPassword',
];

export function createLogger(level: LevelWithSilent, bindings: Record<string, unknown> = {}): Logger {
  return pino({
    level,
    base: { pid: process.pid, ...bindings },
    redact: { paths: REDACT_PATHS, censor: '[redacted]' },
    timestamp: pino.stdTimeFunctions.isoTime,
  });
}
