/**
 * `concord server`: run one member. Flags are generated from the server's
 * option table (src/server/config.ts), so every setting has a flag, an
 * environment variable and a config-file key, with precedence
 * flags > env > file > defaults.
 */
import type { Command } from 'commander';
import { CliExit, ExitCode } from '../exit-codes.js';
// Only the option table here: the server itself (storage, raft, pino) is
// loaded when the command runs, so that every other command starts fast.
import { serverConfigOptions } from '../../server/config.js';

export function registerServerCommand(program: Command): void {
  const command = program
    .command('server')
    .description('run one cluster member (SIGINT/SIGTERM shut it down gracefully)')
    .option('--config <file>', 'JSON config file with any of the settings below (keys as in camelCase)');
  for (const option of serverConfigOptions) {
    const defaults = option.defaultValue !== undefined ? ` (default: ${String(option.defaultValue)})` : '';
    // No commander default: an unset flag must leave room for the env var and the config file.
    command.option(option.kind === 'boolean' ? option.flag : `${option.flag} <value>`, `${option.description}${defaults}; env ${option.env}`);
  }
  command.addHelpText(
    'after',
    `
Example (member n1 of three):
  concord server --name n1 --data-dir data/n1 \\
    --client-url tcp://127.0.0.1:7001 --peer-url tcp://127.0.0.1:7101 \\
    --initial-cluster n1=tcp://127.0.0.1:7101,n2=tcp://127.0.0.1:7102,n3=tcp://127.0.0.1:7103
A restarted member needs only --data-dir and its URLs.`,
  );
  command.action(async (flags: Record<string, string | undefined>) => {
    const { createLogger, loadServerConfig, shutdownOnSignals, startServer, ServerExitCode } = await import('../../server/index.js');
    const config = loadServerConfig({ flags });
    const logger = createLogger({ level: config.logLevel, format: config.logFormat, bindings: { member: config.name } });
    const server = await startServer(config, logger);
    // Resolves when a signal has shut the server down; main exits with the code.
    const exitCode = await new Promise<number>((resolve) => {
      shutdownOnSignals(server, logger, { exit: resolve });
      // A real storage failure (EIO): the member has stopped itself; exit with its own documented code.
      void server.failed.then(() => {
        logger.flush?.();
        process.exit(ServerExitCode.StorageFailed);
      });
      // Removed from the cluster (`concord member remove`): it has stopped itself and said why.
      void server.removed.then(() => {
        logger.flush?.();
        process.exit(ServerExitCode.Removed);
      });
    });
    if (exitCode !== 0) throw new CliExit(ExitCode.Failure, 'the server did not shut down cleanly');
  });
}
