// SIGINT/SIGTERM: drain once and exit 0; a second signal, given later, exits at once.
import type { Logger } from './logger.js';

/**
 * Signals this soon after the first are copies of it, not an operator insisting: Ctrl-C in a terminal reaches both
 * `npm start` and the gateway, and npm forwards its copy; systemd's default stop signals every process of the unit.
 */
export const DUPLICATE_SIGNAL_MS = 1000;

export function installShutdown(log: Logger, close: () => Promise<void>): void {
  let firstAt = 0;
  const onSignal = (signal: NodeJS.Signals) => {
    if (firstAt) {
      if (Date.now() - firstAt < DUPLICATE_SIGNAL_MS) return;
      log.warn({ signal }, 'second signal: exiting without finishing the drain');
      process.exit(1);
    }
    firstAt = Date.now();
    log.info({ signal }, 'shutting down: draining clients, upstreams and shards');
    close().then(
      // 0, unless a start that the signal waited for failed and set its own code.
      () => process.exit(process.exitCode ?? 0),
      (err: unknown) => {
        log.error({ err }, 'error while shutting down');
        process.exit(1);
      },
    );
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
}
