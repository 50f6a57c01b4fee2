/**
 * Process-level wiring for `concord server`: graceful shutdown on SIGINT and
 * SIGTERM (stop accepting, finish in-flight requests, hand over leadership,
 * flush, exit 0). A second signal while shutting down exits at once (1).
 */
import type { RunningServer } from './server.js';
import type { Logger } from './logger.js';

export interface ShutdownOnSignalsOptions {
  /** Called with the exit code once the server is closed; default: process.exit. */
  readonly exit?: (code: number) => void;
  readonly signals?: readonly NodeJS.Signals[];
}

/**
 * Installs SIGINT/SIGTERM handlers that close `server` gracefully and exit.
 * Returns a function that removes the handlers.
 */
export function shutdownOnSignals(server: RunningServer, logger: Logger, options: ShutdownOnSignalsOptions = {}): () => void {
  const exit = options.exit ?? ((code: number) => process.exit(code));
  const signals = options.signals ?? (['SIGINT', 'SIGTERM'] as const);
  let closing = false;
  const onSignal = (signal: NodeJS.Signals): void => {
    if (closing) {
      logger.warn({ signal }, 'second signal during shutdown: exiting now');
      exit(1);
      return;
    }
    closing = true;
    logger.info({ signal }, 'shutting down gracefully');
    server.close().then(
      () => {
        logger.info('shutdown complete');
        logger.flush?.();
        exit(0);
      },
      (error: unknown) => {
        logger.error({ err: error }, 'shutdown failed');
        logger.flush?.();
        exit(1);
      },
    );
  };
  for (const signal of signals) process.on(signal, onSignal);
  return () => {
    for (const signal of signals) process.off(signal, onSignal);
  };
}
