/**
 * Structured logs with pino: human-readable (pino-pretty, synchronous so no
 * line is lost on exit) when stdout is a terminal, one JSON object per line
 * otherwise (for log shippers and tests).
 */
import { pino, type Logger } from 'pino';
import PinoPretty from 'pino-pretty';
import type { LogFormat, LogLevel } from './config.js';

export type { Logger } from 'pino';

export interface CreateLoggerOptions {
  readonly level: LogLevel;
  readonly format: LogFormat;
  /** Bound to every line, e.g. { member: 'n1' }. */
  readonly bindings?: Record<string, unknown>;
}

export function createLogger(options: CreateLoggerOptions): Logger {
  const pretty = options.format === 'pretty' || (options.format === 'auto' && process.stdout.isTTY === true);
  const settings = { level: options.level, base: { ...options.bindings } };
  if (!pretty) return pino(settings);
  const stream = PinoPretty({ colorize: true, translateTime: 'SYS:HH:MM:ss.l', ignore: 'pid,hostname', sync: true });
  return pino(settings, stream);
}
