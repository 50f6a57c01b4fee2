/**
 * The one logging interface every layer writes to. It is the call shape of
 * pino (`logger.warn(fields, message)`), so the server hands its pino logger
 * to the net and storage layers as is, and neither depends on pino.
 *
 * This module imports nothing, so every layer may use it.
 */
export interface Logger {
  error(fields: object, message: string): void;
  warn(fields: object, message: string): void;
  info(fields: object, message: string): void;
  /** Optional: detail that most deployments leave off (a failed reconnect attempt, say). */
  debug?(fields: object, message: string): void;
}

/** A Logger that drops everything (the default where none is given). */
export const silentLogger: Logger = {
  error() {},
  warn() {},
  info() {},
  debug() {},
};

/** The loggable summary of an error: its stable code (if it has one) and message, no stack for expected failures. */
export function errorFields(error: unknown): { code?: string; message: string } {
  if (error instanceof Error) {
    const code = (error as { code?: unknown }).code;
    return typeof code === 'string' ? { code, message: error.message } : { message: error.message };
  }
  return { message: String(error) };
}
