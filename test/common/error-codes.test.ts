/**
 * The one table of error codes (src/common/error-codes.ts) is the only place
 * a code is spelled, docs/errors.md lists exactly its codes, and the wire and
 * layer subsets are built from it.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ConcordErrorCode, isConcordErrorCode } from '../../src/common/errors.js';
import { ErrorCode, isRetryableCode } from '../../src/protocol/index.js';
import { KvErrorCode } from '../../src/kv/index.js';
import { ClientErrorCode } from '../../src/client/index.js';

const repoRoot = fileURLToPath(new URL('../../../', import.meta.url));
const tableFile = 'src/common/error-codes.ts';

function tsFiles(dir: string): string[] {
  const out: string[] = [];
  for (const name of readdirSync(dir)) {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) out.push(...tsFiles(path));
    else if (name.endsWith('.ts')) out.push(path);
  }
  return out;
}

const codes = Object.values(ConcordErrorCode);

test('every code in the table is unique and well formed', () => {
  assert.equal(new Set(codes).size, codes.length);
  for (const code of codes) assert.match(code, /^CONCORD_ERR_[A-Z]+(?:_[A-Z]+)*$/);
  assert.ok(isConcordErrorCode(ConcordErrorCode.NotLeader));
  assert.ok(!isConcordErrorCode('CONCORD_ERR_NOT_A_CODE'));
});

test('docs/errors.md lists every code of the table, and no other', () => {
  const doc = readFileSync(join(repoRoot, 'docs', 'errors.md'), 'utf8');
  const documented = new Set(doc.match(/CONCORD_ERR_[A-Z_]*[A-Z]/g) ?? []);
  assert.deepEqual([...new Set(codes)].filter((c) => !documented.has(c)), [], 'codes missing from docs/errors.md');
  assert.deepEqual([...documented].filter((c) => !isConcordErrorCode(c)), [], 'docs/errors.md names codes the table does not have');
});

test('no code string is spelled in src/ outside the table', () => {
  const offenders: string[] = [];
  for (const file of tsFiles(join(repoRoot, 'src'))) {
    const name = relative(repoRoot, file).split(sep).join('/');
    if (name === tableFile) continue;
    const text = readFileSync(file, 'utf8');
    for (const match of text.matchAll(/['"]CONCORD_ERR_[A-Z_]*/g)) offenders.push(`${name}: ${match[0]}`);
  }
  assert.deepEqual(offenders, []);
});

test('the wire, key-value and client subsets are the table\'s codes', () => {
  for (const subset of [ErrorCode, KvErrorCode, ClientErrorCode]) {
    for (const [name, code] of Object.entries(subset)) {
      assert.equal(code, (ConcordErrorCode as Record<string, string>)[name], `${name} is spelled as in the table`);
    }
  }
  // Retryability is a property of the wire subset only.
  assert.ok(isRetryableCode(ErrorCode.NotLeader));
  assert.ok(!isRetryableCode(ErrorCode.KeyNotFound));
});
