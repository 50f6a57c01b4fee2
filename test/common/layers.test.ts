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
  auth: ['common', 'kv', 'protocol'],
  resp: ['common', 'net'], // the Redis protocol layer; server, cli and testing may import it (below)
  // The web dashboard is a client of its member's client URL (so it imports the client library); the server mounts it.
  dashboard: ['common', 'net', 'kv', 'protocol', 'client'],
  redis: ['common', 'net', 'kv', 'protocol', 'resp'], // Redis commands over the key-value API; server, cli and testing import it
  server: ['common', 'net', 'raft', 'storage', 'kv', 'protocol', 'auth', 'dashboard'],
  client: ['common', 'net', 'kv', 'protocol'],
  cli: ['common', 'net', 'raft', 'storage', 'kv', 'protocol', 'server', 'client', 'auth', 'dashboard'],
  // Test doubles for tests and benchmarks (in-memory hosts, simulated devices): they may use
  // every layer, and no shipped code imports them (checked below).
  testing: ['common', 'net', 'raft', 'storage', 'kv', 'protocol', 'server', 'client', 'cli', 'auth', 'dashboard'],
};

for (const layer of ['server', 'cli', 'testing']) allowedImports[layer] = [...allowedImports[layer]!, 'resp', 'redis'];

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

// The member and the client run unchanged in the simulator: src/server, src/client and src/net read
// time and randomness only through the injected Clock and RandomSource. Only the process entry may
// touch the system ones directly (the client defaults to them through common/system-clock.ts), and
// net's in-process transport, a socket pair that hops through Node's event loop as real sockets do.
// (A socket's own idle timeout, `socket.setTimeout(ms)`, is the transport's: not a timer of ours.)
for (const [layer, edges] of [
  ['server', ['main.ts']],
  ['client', []],
  ['redis', []],
  ['net', ['mem-transport.ts']],
] as const) {
  test(`src/${layer} never reads a clock, a timer or a random source except through the injected ones`, () => {
    const layerRoot = join(srcRoot, layer);
    /** Edge files that wire the system clock and randomness (none needs more). */
    const edgeFiles = new Set<string>(edges);
    const forbidden = [
      /\bDate\.now\s*\(/,
      /\bperformance\.now\s*\(/,
      // A call of the global, not a socket's method of that name or its typed declaration.
      /(?<![.\w])setTimeout\s*\((?![^)]*:\s*\w)/,
      /\bsetInterval\s*\(/,
      /\bsetImmediate\s*\(/,
      /\bMath\.random\s*\(/,
      /\b(?:randomInt|randomBytes|randomUUID|randomFillSync|randomFill|getRandomValues)\s*\(/,
      /from\s+['"](?:node:)?crypto['"]/,
      /from\s+['"](?:node:)?timers(?:\/promises)?['"]/,
    ];
    const violations: string[] = [];
    const files = tsFiles(layerRoot);
    assert.ok(files.length > (layer === 'redis' ? 3 : 10), `the scan sees src/${layer}`);
    for (const file of files) {
      if (edgeFiles.has(relative(layerRoot, file))) continue;
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
}

test('no shipped file imports src/testing (test doubles stay out of the product)', () => {
  const testingRoot = join(srcRoot, 'testing');
  const violations: string[] = [];
  for (const file of tsFiles(srcRoot)) {
    if (file.startsWith(testingRoot + sep)) continue;
    for (const spec of importSpecifiers(readFileSync(file, 'utf8'))) {
      if (!spec.startsWith('.')) continue;
      const target = join(file, '..', spec);
      if (target === testingRoot || target.startsWith(testingRoot + sep)) violations.push(`${relative(repoRoot, file)} imports ${spec}`);
    }
  }
  assert.deepEqual(violations, []);
});

/** House rule: a file holds one purpose in about 600 lines at most. */
const fileLinesMax = 600;
/**
 * Files over the bound today, each waiting for its split (review-2026-12.md §3). This list only
 * shrinks: remove a file's entry when it is split; never add one.
 */
const oversizedFilesAllowed = new Set(['src/server/raft-host.ts']);

function lineCount(source: string): number {
  if (source.length === 0) return 0;
  return source.split('\n').length - (source.endsWith('\n') ? 1 : 0);
}

test(`no file under src/ is longer than ${fileLinesMax} lines (but the shrinking allowlist)`, () => {
  const violations: string[] = [];
  for (const file of tsFiles(srcRoot)) {
    const name = relative(repoRoot, file).split(sep).join('/');
    const lines = lineCount(readFileSync(file, 'utf8'));
    if (lines > fileLinesMax && !oversizedFilesAllowed.has(name)) violations.push(`${name}: ${lines} lines`);
  }
  assert.deepEqual(violations, []);
});

/**
 * Class names declared twice in src/ today: each pair is one failure mode with two classes (and
 * one code). The errors work (issue 10, "one class per failure mode") merges them and empties
 * this list; never add a name.
 */
const duplicateClassNamesAllowed = new Set<string>([]);

/** The names of the classes a source file declares at the start of a line (comments do not count). */
function declaredClasses(source: string): string[] {
  return [...source.matchAll(/^[ \t]*(?:export\s+)?(?:default\s+)?(?:abstract\s+)?class\s+([A-Za-z_$][\w$]*)/gm)].map((m) => m[1]!);
}

test('no two classes in src/ have the same name (but the shrinking allowlist)', () => {
  const declared = new Map<string, string[]>();
  for (const file of tsFiles(srcRoot)) {
    const name = relative(repoRoot, file).split(sep).join('/');
    for (const cls of declaredClasses(readFileSync(file, 'utf8'))) {
      const files = declared.get(cls) ?? [];
      files.push(name);
      declared.set(cls, files);
    }
  }
  const violations = [...declared]
    .filter(([cls, files]) => files.length > 1 && !duplicateClassNamesAllowed.has(cls))
    .map(([cls, files]) => `${cls}: ${files.join(', ')}`);
  assert.deepEqual(violations, []);
});

test('the line counter and the class scanner see what we write', () => {
  assert.equal(lineCount('a\nb\n'), 2);
  assert.equal(lineCount('a\nb'), 2);
  assert.equal(lineCount(''), 0);
  assert.deepEqual(declaredClasses('export class A {}\n  class B extends A {}\n// a class C in a comment\nexport abstract class D {}'), ['A', 'B', 'D']);
});
