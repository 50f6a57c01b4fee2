/**
 * The CLI's exit codes, stable for scripts:
 * 0 success; 1 the key does not exist (get, update, del) or a compare-and-set
 * condition failed; 2 usage error (unknown command or option, bad argument);
 * 3 any other failure (cluster unavailable, timeout, server error).
 */
export const ExitCode = {
  Ok: 0,
  NotFound: 1,
  Usage: 2,
  Failure: 3,
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
