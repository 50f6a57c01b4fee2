/**
 * The options every client command takes (etcdctl's names) and the one
 * place a command connects: `--endpoints`, `--user NAME[:PASSWORD]`,
 * `--cacert`, `--cert`, `--key`, each with its CONCORD_* environment
 * variable, and the mapping of auth refusals to their exit codes with a
 * message that names the user and the key.
 */
import { readFileSync } from 'node:fs';
import type { Command } from 'commander';
import { connect, AuthenticationFailedError, PermissionDeniedError, type ConnectOptions, type KvClient } from '../client/index.js';
import { ConcordError } from '../common/errors.js';
import { ErrorCode } from '../protocol/index.js';
import { resolveEndpoints, endpointsEnv } from './endpoints.js';
import { CliExit, ExitCode } from './exit-codes.js';
import { parsePositiveInteger } from './parse.js';
import { readHiddenLine } from './password-prompt.js';

export const userEnv = 'CONCORD_USER';
export const passwordEnv = 'CONCORD_PASSWORD';
export const cacertEnv = 'CONCORD_CACERT';
export const certEnv = 'CONCORD_CERT';
export const keyEnv = 'CONCORD_KEY';

/** Options every client command takes. */
export interface ClientCommandOptions {
  readonly endpoints?: string;
  readonly json?: boolean;
  readonly timeout: number;
  readonly user?: string;
  readonly cacert?: string;
  readonly cert?: string;
  readonly key?: string;
}

export function addClientOptions(command: Command): Command {
  return command
    .option('--endpoints <urls>', `comma-separated client URLs (default: $${endpointsEnv}, else the dev cluster's tcp://127.0.0.1:7001..7003)`)
    .option('--json', 'print the result as JSON')
    .option('--timeout <ms>', 'deadline for the request, retries included', parsePositiveInteger, 5000)
    .option('--user <name[:password]>', `log in as this user (default: $${userEnv}; password: after the colon, else $${passwordEnv}, else asked on the terminal)`)
    .option('--cacert <file>', `verify tls:// members with this PEM CA bundle (default: $${cacertEnv})`)
    .option('--cert <file>', `client certificate (PEM) for tls:// members (default: $${certEnv})`)
    .option('--key <file>', `private key of --cert (default: $${keyEnv})`);
}

export interface Credentials {
  readonly user: string;
  readonly password: string;
}

/** What a command is doing, for error messages: e.g. `put "a/1"`. */
export type Action = string;

/**
 * The user and password to log in with, or null (none given). The password
 * comes from `NAME:PASSWORD`, else CONCORD_PASSWORD, else a prompt without
 * echo when stdin is a terminal; without any, a usage error (exit 2).
 */
export async function resolveCredentials(
  flag: string | undefined,
  env: NodeJS.ProcessEnv = process.env,
  prompt: (question: string) => Promise<string> = promptOnTerminal,
): Promise<Credentials | null> {
  const given = flag !== undefined && flag !== '' ? flag : env[userEnv];
  if (given === undefined || given === '') return null;
  const colon = given.indexOf(':');
  const user = colon < 0 ? given : given.slice(0, colon);
  if (user === '') throw new CliExit(ExitCode.Usage, '--user needs a user name before the colon');
  if (colon >= 0) return { user, password: given.slice(colon + 1) };
  const fromEnv = env[passwordEnv];
  if (fromEnv !== undefined && fromEnv !== '') return { user, password: fromEnv };
  return { user, password: await prompt(`Password for ${user}: `) };
}

async function promptOnTerminal(question: string): Promise<string> {
  if (process.stdin.isTTY !== true) {
    throw new CliExit(ExitCode.Usage, `no password for the user: give --user NAME:PASSWORD or $${passwordEnv} (stdin is not a terminal to ask on)`);
  }
  return readHiddenLine(question);
}

function readPem(file: string, what: string): Buffer {
  try {
    return readFileSync(file);
  } catch (error) {
    throw new CliExit(ExitCode.Usage, `cannot read the ${what} ${JSON.stringify(file)}: ${(error as Error).message}`);
  }
}

/** The client TLS options from --cacert/--cert/--key (or their env), or undefined when none is given. */
export function resolveTls(options: Pick<ClientCommandOptions, 'cacert' | 'cert' | 'key'>, env: NodeJS.ProcessEnv = process.env): ConnectOptions['tls'] {
  const pick = (flag: string | undefined, name: string): string | undefined => (flag !== undefined && flag !== '' ? flag : env[name] || undefined);
  const ca = pick(options.cacert, cacertEnv);
  const cert = pick(options.cert, certEnv);
  const key = pick(options.key, keyEnv);
  if ((cert === undefined) !== (key === undefined)) throw new CliExit(ExitCode.Usage, '--cert and --key go together (or CONCORD_CERT and CONCORD_KEY)');
  if (ca === undefined && cert === undefined) return undefined;
  return {
    ...(ca !== undefined ? { ca: readPem(ca, 'CA file') } : {}),
    ...(cert !== undefined ? { cert: readPem(cert, 'certificate file'), key: readPem(key!, 'key file') } : {}),
  };
}

/**
 * Runs `body` with a connected client and always closes it. `mode` 'read'
 * connects without a session (a stale read then works without a leader).
 * Auth refusals become their exit codes (see exit-codes.ts), naming the user
 * and what was refused.
 */
export async function withClient<T>(
  options: ClientCommandOptions,
  mode: 'read' | 'write',
  action: Action,
  body: (client: KvClient) => Promise<T>,
): Promise<T> {
  const credentials = await resolveCredentials(options.user);
  const tls = resolveTls(options);
  let client: KvClient;
  try {
    client = await connect({
      endpoints: resolveEndpoints(options.endpoints),
      timeoutMs: options.timeout,
      openSessionOnConnect: mode === 'write',
      ...(tls !== undefined ? { tls } : {}),
      ...(credentials !== null ? { auth: credentials } : {}),
    });
  } catch (error) {
    throw asAuthExit(error, credentials, action);
  }
  try {
    return await body(client);
  } catch (error) {
    throw asAuthExit(error, credentials, action);
  } finally {
    await client.close().catch(() => undefined);
  }
}

/** An auth refusal as its exit; anything else unchanged. */
export function asAuthExit(error: unknown, credentials: Credentials | null, action: Action): unknown {
  const who = credentials === null ? 'without a user' : `as user ${JSON.stringify(credentials.user)}`;
  if (error instanceof AuthenticationFailedError) {
    const hint = credentials === null ? ` (give --user NAME or $${userEnv})` : '';
    return new CliExit(ExitCode.AuthenticationFailed, `${action} ${who} refused: ${error.message}${hint} [${error.code}]`);
  }
  if (error instanceof PermissionDeniedError) {
    return new CliExit(ExitCode.PermissionDenied, `${action} ${who} refused: ${error.message} [${error.code}]`);
  }
  if (error instanceof ConcordError && (error.code === ErrorCode.UserNotFound || error.code === ErrorCode.RoleNotFound)) {
    return new CliExit(ExitCode.NotFound, `${action}: ${error.message} [${error.code}]`);
  }
  return error;
}
