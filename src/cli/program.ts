/**
 * The `concord` command line (main.ts runs it): key commands against a cluster, `status`,
 * `server` (one member), `dev` (a local three-member cluster) and `bench`.
 * Exit codes: see exit-codes.ts (0 ok, 1 not found, 2 usage, 3 failure, 4 authentication failed, 5 permission denied).
 */
import { Command, CommanderError } from 'commander';
import { ConcordError, ConcordErrorCode } from '../common/errors.js';
import { registerBenchCommand } from './commands/bench.js';
import { registerDevCommand } from './commands/dev.js';
import { registerKvCommands } from './commands/kv-commands.js';
import { registerAuthCommands } from './commands/auth-commands.js';
import { registerLeaseCommands } from './commands/lease.js';
import { registerWatchCommands } from './commands/watch.js';
import { registerTxnCommand } from './commands/txn.js';
import { registerServerCommand } from './commands/server.js';
import { registerStatusCommand } from './commands/status.js';
import { registerEndpointCommands } from './commands/endpoint.js';
import { registerMemberCommands } from './commands/member.js';
import { registerSnapshotCommands } from './commands/snapshot.js';
import { CliExit, ExitCode } from './exit-codes.js';
import { cliVersion } from './version.js';

export function buildProgram(): Command {
  const program = new Command();
  program
    .name('concord')
    .description('Concord: a replicated, linearizable key-value store on Raft')
    .version(cliVersion, '-V, --version')
    // Settings inherited by every subcommand created below.
    .exitOverride()
    .showHelpAfterError('(add --help for usage)')
    .configureHelp({ sortSubcommands: false, showGlobalOptions: false })
    .addHelpText(
      'after',
      `
Exit codes: 0 ok, 1 key/user/role not found (or compare-and-set failed), 2 usage error, 3 other failure,
4 authentication failed, 5 permission denied.

Examples:
  concord dev                      start a local 3-member cluster (Ctrl-C stops it)
  concord put hello world          write a key
  concord get hello                read it back (linearizable)
  concord status                   every member's role, term and indexes
  concord endpoint health          whether every member is healthy (exit 3 if not)
  concord member list              members, roles, URLs, how far each trails the leader
  concord member add n4 --peer-url tcp://10.0.0.4:7101 --learner
  concord snapshot save backup.db  back up the whole store (consistent, from the leader)
  concord user add root            add a user (asks for the password on a terminal)
  concord auth enable --user root  require logins from now on`,
    );
  registerKvCommands(program);
  registerWatchCommands(program);
  registerAuthCommands(program);
  registerLeaseCommands(program);
  registerTxnCommand(program);
  registerStatusCommand(program);
  registerEndpointCommands(program);
  registerMemberCommands(program);
  registerSnapshotCommands(program);
  registerServerCommand(program);
  registerDevCommand(program);
  registerBenchCommand(program);
  return program;
}

/** Runs the CLI and returns its exit code (the process is not exited here). */
export async function runCli(argv: readonly string[]): Promise<number> {
  const program = buildProgram();
  try {
    await program.parseAsync([...argv], { from: 'user' });
    return ExitCode.Ok;
  } catch (error) {
    return reportError(error);
  }
}

function reportError(error: unknown): number {
  if (error instanceof CommanderError) {
    // Commander has already printed the message (or the help / version).
    if (error.code === 'commander.helpDisplayed' || error.code === 'commander.version' || error.exitCode === 0) return ExitCode.Ok;
    return ExitCode.Usage;
  }
  if (error instanceof CliExit) {
    process.stderr.write(`concord: ${error.message}\n`);
    return error.exitCode;
  }
  if (error instanceof ConcordError && error.code === ConcordErrorCode.InvalidConfig) {
    process.stderr.write(`concord: ${error.message}\n`);
    return ExitCode.Usage;
  }
  const message = error instanceof Error ? error.message : String(error);
  const code = error instanceof ConcordError ? ` [${error.code}]` : '';
  process.stderr.write(`concord: ${message}${code}\n`);
  if (process.env['CONCORD_DEBUG'] && error instanceof Error) process.stderr.write(`${error.stack ?? ''}\n`);
  return ExitCode.Failure;
}

