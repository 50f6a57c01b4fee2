/**
 * The CLI's exit codes, stable for scripts (docs/security.md, README):
 * 0 success; 1 the key, user or role does not exist (get, update, del, user
 * get...) or a compare-and-set condition failed; 2 usage error (unknown
 * command or option, bad argument, no password to use); 3 any other failure
 * (cluster unavailable, timeout, server error); 4 authentication failed (no
 * credentials while auth is enabled, unknown user, wrong password); 5
 * permission denied (the user may not do this on this key or range).
 */
export const ExitCode = {
  Ok: 0,
  NotFound: 1,
  Usage: 2,
  Failure: 3,
  AuthenticationFailed: 4,
  PermissionDenied: 5,
} as const;
export type ExitCode = (typeof ExitCode)[keyof typeof ExitCode];

/**
 * Thrown by a command to end the process with `exitCode` after printing
 * `message` on stderr. It stands outside the ConcordError tree on purpose: it
 * is an exit, not an error. It carries an exit status for a script, not a
 * failure mode a caller could match on (the failure that led to it, if any,
 * was already reported with its own code), and only `runCli` catches it.
 */
export class CliExit extends Error {
  constructor(
    readonly exitCode: ExitCode,
    message: string,
  ) {
    super(message);
  }
}
