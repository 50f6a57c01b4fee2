/**
 * The logger the storage layer writes to. A structural subset of pino's API
 * (the server passes its pino logger), so this layer does not depend on pino.
 */
export interface StorageLogger {
  info(fields: object, message: string): void;
  warn(fields: object, message: string): void;
  error(fields: object, message: string): void;
}

export const silentLogger: StorageLogger = {
  info() {},
  warn() {},
  error() {},
};
