/**
 * The logging interface the networking layer writes to. It matches pino's
 * `logger.warn(obj, msg)` call shape, so a server passes its pino logger
 * straight in; the layer itself does not depend on pino.
 */
export interface Logger {
  warn(obj: object, msg: string): void;
  error?(obj: object, msg: string): void;
  info?(obj: object, msg: string): void;
  debug?(obj: object, msg: string): void;
}

export const silentLogger: Logger = { warn() {} };

/** The loggable summary of an error: stable code and message, no stack for expected failures. */
export function errorFields(error: unknown): { code?: string; message: string } {
  if (error instanceof Error) {
    const code = (error as { code?: unknown }).code;
    return typeof code === 'string' ? { code, message: error.message } : { message: error.message };
  }
  return { message: String(error) };
}
