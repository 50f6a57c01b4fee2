/**
 * Runs the example in docs/networking.md exactly as written (with the import
 * pointed at the build), so the documentation cannot rot.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { tempDir } from './helpers.js';

const repoRoot = new URL('../../../', import.meta.url);

test('the networking example in the docs runs and prints its greeting', () => {
  const doc = readFileSync(new URL('docs/networking.md', repoRoot), 'utf8');
  const example = /```ts\n([\s\S]*?)```/.exec(doc)?.[1];
  assert.ok(example, 'docs/networking.md has a ts example');
  assert.ok(example.split('\n').length <= 40, 'the example stays short');
  const index = fileURLToPath(new URL('dist/src/net/index.js', repoRoot));
  const dir = tempDir();
  try {
    const script = `${dir.path}/example.mjs`;
    writeFileSync(script, example.replace("'./src/net/index.js'", JSON.stringify(index)));
    const run = spawnSync(process.execPath, [script], { encoding: 'utf8', timeout: 30_000 });
    assert.equal(run.status, 0, run.stderr);
    assert.equal(run.stdout.trim(), 'hello Ada hello Ada');
  } finally {
    dir.remove();
  }
});
