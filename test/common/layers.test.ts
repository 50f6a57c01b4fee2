/**
 * The architecture's import rules, enforced (docs: ../shared/design/architecture.md).
 * Imports point down the layer picture, never up; the consensus core and the
 * state machine stay pure: no Node modules, no clocks, no randomness.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative, sep } from 'node:path';
import { fileURLToPath } from 'node:url';

const repoRoot = fileURLToPath(new URL('../../../', import.meta.url));
const srcRoot = join(repoRoot, 'src');

/** For each layer, the other layers it may import from. */
const allowedImports: Record<string, readonly string[]> = {
  common: [],
  net: ['common'],
  raft: ['common'],
  kv: ['common'],
  storage: ['common', 'raft'],
  protocol: ['common', 'net', 'kv'],
  server: ['common', 'net', 'raft', 'storage', 'kv', 'protocol'],
  client: ['common', 'net', 'kv', 'protocol'],
  cli: ['common', 'net', 'raft', 'storage', 'kv', 'protocol', 'server', 'client'],
};

const pureLayers = ['raft', 'kv'];

function tsFiles(dir: string): string[] {
  let out: string[] = [];
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return out;
  }
  for (const name of names) {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) out = out.concat(tsFiles(path));
    else if (name.endsWith('.ts')) out.push(path);
  }
  return out;
}

function importSpecifiers(source: string): string[] {
  const specs: string[] = [];
  const patterns = [
    /\bimport\s+(?:type\s+)?(?:[^'";]*?\s+from\s+)?['"]([^'"]+)['"]/g,
    /\bexport\s+(?:type\s+)?[^'";]*?\s+from\s+['"]([^'"]+)['"]/g,
    /\bimport\(\s*['"]([^'"]+)['"]\s*\)/g,
    /\brequire\(\s*['"]([^'"]+)['"]\s*\)/g,
  ];
  for (const pattern of patterns) {
    for (const match of source.matchAll(pattern)) specs.push(match[1]!);
  }
  return specs;
}

const nodeBuiltins = new Set(['fs', 'net', 'tls', 'os', 'path', 'crypto', 'child_process', 'timers', 'events', 'stream', 'util', 'worker_threads', 'buffer', 'process', 'dgram', 'http', 'https', 'perf_hooks', 'readline']);

test('every file under src/ belongs to a known layer', () => {
  for (const file of tsFiles(srcRoot)) {
    const layer = relative(srcRoot, file).split(sep)[0]!;
    assert.ok(layer in allowedImports, `${relative(repoRoot, file)} is in unknown layer "${layer}"`);
  }
});

test('imports point down the layer picture, never up', () => {
  const violations: string[] = [];
  for (const file of tsFiles(srcRoot)) {
    const layer = relative(srcRoot, file).split(sep)[0]!;
    for (const spec of importSpecifiers(readFileSync(file, 'utf8'))) {
      if (!spec.startsWith('.')) continue;
      const target = relative(srcRoot, join(file, '..', spec)).split(sep)[0]!;
      if (target !== layer && !(allowedImports[layer] ?? []).includes(target)) {
        violations.push(`${relative(repoRoot, file)} imports ${spec} (layer ${layer} may not import ${target})`);
      }
    }
  }
  assert.deepEqual(violations, []);
});

test('src/raft and src/kv import nothing from Node', () => {
  const violations: string[] = [];
  for (const layer of pureLayers) {
    for (const file of tsFiles(join(srcRoot, layer))) {
      for (const spec of importSpecifiers(readFileSync(file, 'utf8'))) {
        if (spec.startsWith('node:') || nodeBuiltins.has(spec)) {
          violations.push(`${relative(repoRoot, file)} imports ${spec}`);
        }
      }
    }
  }
  assert.deepEqual(violations, []);
});

test('src/raft and src/kv never read a clock or a random source', () => {
  const forbidden = [/\bDate\.now\s*\(/, /\bnew\s+Date\s*\(/, /\bMath\.random\s*\(/, /\bperformance\.now\s*\(/, /\bprocess\./, /\bsetTimeout\s*\(/, /\bsetInterval\s*\(/, /\bsetImmediate\s*\(/, /\bqueueMicrotask\s*\(/];
  const violations: string[] = [];
  for (const layer of pureLayers) {
    for (const file of tsFiles(join(srcRoot, layer))) {
      const lines = readFileSync(file, 'utf8').split('\n');
      lines.forEach((line, i) => {
        const code = line.replace(/\/\/.*$/, '');
        for (const pattern of forbidden) {
          if (pattern.test(code)) violations.push(`${relative(repoRoot, file)}:${i + 1}: ${line.trim()}`);
        }
      });
    }
  }
  assert.deepEqual(violations, []);
});

test('the import scanner sees the forms of import we write', () => {
  const specs = importSpecifiers(`import a from 'x'; import type { B } from "y"; export * from './z.js'; import './side.js'; const m = await import('node:fs');`);
  assert.deepEqual(specs.sort(), ['./side.js', './z.js', 'node:fs', 'x', 'y'].sort());
});

// The member runs unchanged in the simulator: src/server reads time and randomness only through
// the injected Clock and RandomSource. Only the process entry may touch the system ones directly.
test('src/server never reads a clock, a timer or a random source except through the injected ones', () => {
  const serverRoot = join(srcRoot, 'server');
  /** Edge files that wire the system clock and randomness (none needs more). */
  const edgeFiles = new Set(['main.ts']);
  const forbidden = [
    /\bDate\.now\s*\(/,
    /\bperformance\.now\s*\(/,
    /\bsetTimeout\s*\(/,
    /\bsetInterval\s*\(/,
    /\bsetImmediate\s*\(/,
    /\bMath\.random\s*\(/,
    /\b(?:randomInt|randomBytes|randomUUID|randomFillSync|randomFill|getRandomValues)\s*\(/,
    /from\s+['"](?:node:)?crypto['"]/,
    /from\s+['"](?:node:)?timers(?:\/promises)?['"]/,
  ];
  const violations: string[] = [];
  const files = tsFiles(serverRoot);
  assert.ok(files.length > 10, 'the scan sees src/server');
  for (const file of files) {
    if (edgeFiles.has(relative(serverRoot, file))) continue;
    const lines = readFileSync(file, 'utf8').split('\n');
    lines.forEach((line, i) => {
      const code = line.replace(/\/\/.*$/, '').replace(/^\s*\*.*$/, '');
      for (const pattern of forbidden) {
        if (pattern.test(code)) violations.push(`${relative(repoRoot, file)}:${i + 1}: ${line.trim()}`);
      }
    });
  }
  assert.deepEqual(violations, []);
});
