/**
 * A standalone entry for one member, without the CLI:
 *   node dist/src/server/main.js --name n1 --data-dir DIR --client-url ... --peer-url ... --initial-cluster ...
 * Same flags, env vars and config file as `concord server` (which is what
 * users run); tests may use this one to exercise the server alone.
 */
import { loadServerConfig, parseServerFlags } from './config.js';
import { createLogger } from './logger.js';
import { startServer } from './server.js';
import { shutdownOnSignals } from './signals.js';
import { ServerExitCode } from './exit-codes.js';

async function main(): Promise<void> {
  const { flags } = parseServerFlags();
  const config = loadServerConfig({ flags });
  const logger = createLogger({ level: config.logLevel, format: config.logFormat, bindings: { member: config.name } });
  const server = await startServer(config, logger);
  shutdownOnSignals(server, logger);
  void server.failed.then(() => {
    logger.flush?.();
    process.exit(ServerExitCode.StorageFailed);
  });
  void server.removed.then(() => {
    logger.flush?.();
    process.exit(ServerExitCode.Removed);
  });
}

main().catch((error: unknown) => {
  const e = error as { code?: string; message?: string };
  process.stderr.write(`concord server: ${e.message ?? String(error)}${e.code ? ` [${e.code}]` : ''}\n`);
  process.exit(1);
});
