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

/** Thrown by a command to end the process with `exitCode` after printing `message` on stderr. */
export class CliExit extends Error {
  constructor(
    readonly exitCode: ExitCode,
    message: string,
  ) {
    super(message);
  }
}
