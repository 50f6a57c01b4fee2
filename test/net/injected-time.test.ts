/**
 * The networking layer reads time and sets timers only through an injected
 * Clock, and draws randomness only from an injected RandomSource, so peer
 * links and RPC can run under the simulator's clock. The exceptions are the
 * transports' own sockets: a socket's idle timeout is the socket's
 * (`setTimeout` on a ByteSocket), and mem-transport.ts, an in-process socket
 * pair, hops through Node's event loop as real sockets do.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const netRoot = fileURLToPath(new URL('../../../src/net/', import.meta.url));
const transportFiles = new Set(['mem-transport.ts']);
const forbidden = [
  /\bDate\.now\s*\(/,
  /\bnew\s+Date\s*\(/,
  /\bperformance\.now\s*\(/,
  // A call, not a method of that name declared with typed parameters (ByteSocket's setTimeout).
  /(?<![.\w])setTimeout\s*\((?![^)]*:\s*\w)/,
  /(?<![.\w])setInterval\s*\(/,
  /(?<![.\w])setImmediate\s*\(/,
  /\bMath\.random\s*\(/,
  /\bcrypto\b/,
];

test('src/net reads no clock, sets no timer and draws no randomness of its own', () => {
  const violations: string[] = [];
  for (const name of readdirSync(netRoot)) {
    if (!name.endsWith('.ts') || transportFiles.has(name)) continue;
    readFileSync(join(netRoot, name), 'utf8')
      .split('\n')
      .forEach((line, i) => {
        const code = line.replace(/\/\/.*$/, '').replace(/^\s*\*.*$/, '');
        for (const pattern of forbidden) if (pattern.test(code)) violations.push(`src/net/${name}:${i + 1}: ${line.trim()}`);
      });
  }
  assert.deepEqual(violations, []);
});

test('the scan sees the calls it forbids', () => {
  const code = 'const t = setTimeout(f, 1); socket.setTimeout(5);';
  assert.ok(forbidden.some((p) => p.test(code)));
  assert.ok(!forbidden.some((p) => p.test('socket.setTimeout(5); clock.setTimer(1, f);')));
  assert.ok(!forbidden.some((p) => p.test('  setTimeout(timeoutMs: number): unknown;')));
});
