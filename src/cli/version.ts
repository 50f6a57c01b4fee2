import { readFileSync } from 'node:fs';

/** The package version, read from package.json next to dist/ (this file runs as dist/src/cli/version.js). */
function readVersion(): string {
  try {
    const text = readFileSync(new URL('../../../package.json', import.meta.url), 'utf8');
    const version = (JSON.parse(text) as { version?: unknown }).version;
    return typeof version === 'string' ? version : '0.0.0';
  } catch {
    return '0.0.0';
  }
}

export const cliVersion = readVersion();
