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
];

export function createLogger(level: LevelWithSilent, bindings: Record<string, unknown> = {}): Logger {
  return pino({
    level,
    base: { pid: process.pid, ...bindings },
    redact: { paths: REDACT_PATHS, censor: '[redacted]' },
    timestamp: pino.stdTimeFunctions.isoTime,
  });
}

/** Removes credentials from a URL before it is logged: token-like query values and user:password parts. */
export function redactUrl(url: string): string {
  return url
    .replace(/([?&](?:token|access_token|signature|apikey|api_key|key)=)[^&#]*/gi, '$1[redacted]')
    .replace(/\/\/[^/@\s]+@/, '//[redacted]@');
}
