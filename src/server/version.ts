import { readFileSync } from 'node:fs';

/**
 * The package version, read from package.json next to dist/ (this file runs
 * as dist/src/server/version.js). A module of its own so that the CLI can
 * print it without loading the whole server.
 */
export function serverVersion(): string {
  try {
    const text = readFileSync(new URL('../../../package.json', import.meta.url), 'utf8');
    const version = (JSON.parse(text) as { version?: unknown }).version;
    return typeof version === 'string' ? version : '0.0.0';
  } catch {
    return '0.0.0';
  }
}
