/** The CLI's --user / CONCORD_USER / CONCORD_PASSWORD and --cacert/--cert/--key rules (src/cli/client-options.ts). */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { resolveCredentials, resolveTls } from '../../src/cli/client-options.js';
import { permissionRange, describePermission } from '../../src/cli/commands/auth-commands.js';
import { CliExit, ExitCode } from '../../src/cli/exit-codes.js';

const never = async (): Promise<string> => assert.fail('must not prompt');

test('--user NAME:PASSWORD, CONCORD_USER, CONCORD_PASSWORD, and the prompt only when the password is missing', async () => {
  assert.equal(await resolveCredentials(undefined, {}, never), null, 'no user: no login');
  assert.deepEqual(await resolveCredentials('alice:s3:cr3t', {}, never), { user: 'alice', password: 's3:cr3t' }, 'split at the first colon');
  assert.deepEqual(await resolveCredentials('alice:', {}, never), { user: 'alice', password: '' }, 'an explicit empty password is not asked for');
  assert.deepEqual(await resolveCredentials(undefined, { CONCORD_USER: 'bob:pw' }, never), { user: 'bob', password: 'pw' });
  assert.deepEqual(await resolveCredentials(undefined, { CONCORD_USER: 'bob', CONCORD_PASSWORD: 'envpw' }, never), { user: 'bob', password: 'envpw' });
  assert.deepEqual(await resolveCredentials('carol', { CONCORD_USER: 'bob', CONCORD_PASSWORD: 'envpw' }, never), { user: 'carol', password: 'envpw' }, 'the flag wins for the name');
  const asked: string[] = [];
  const prompt = async (question: string): Promise<string> => (asked.push(question), 'typed');
  assert.deepEqual(await resolveCredentials('dave', {}, prompt), { user: 'dave', password: 'typed' });
  assert.deepEqual(asked, ['Password for dave: ']);
  await assert.rejects(resolveCredentials(':pw', {}, never), (e: unknown) => e instanceof CliExit && e.exitCode === ExitCode.Usage);
});

test('--cacert/--cert/--key (or their env): files read, --cert needs --key, unreadable files are usage errors', () => {
  const dir = mkdtempSync(join(tmpdir(), 'concord-cli-tls-'));
  try {
    const ca = join(dir, 'ca.crt');
    const cert = join(dir, 'c.crt');
    const key = join(dir, 'c.key');
    writeFileSync(ca, 'CA');
    writeFileSync(cert, 'CERT');
    writeFileSync(key, 'KEY');
    assert.equal(resolveTls({}, {}), undefined);
    assert.equal(resolveTls({ cacert: ca }, {})!.ca!.toString(), 'CA');
    const fromEnv = resolveTls({}, { CONCORD_CACERT: ca, CONCORD_CERT: cert, CONCORD_KEY: key })!;
    assert.deepEqual([fromEnv.ca!.toString(), fromEnv.cert!.toString(), fromEnv.key!.toString()], ['CA', 'CERT', 'KEY']);
    assert.throws(() => resolveTls({ cert }, {}), (e: unknown) => e instanceof CliExit && e.exitCode === ExitCode.Usage);
    assert.throws(() => resolveTls({ cacert: join(dir, 'missing.crt') }, {}), (e: unknown) => e instanceof CliExit && e.exitCode === ExitCode.Usage && /missing\.crt/.test(e.message));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('permission ranges as etcdctl: KEY, KEY RANGE_END, --prefix, --from-key; and how role get prints them', () => {
  const t = (b: Uint8Array | undefined): string | undefined => (b === undefined ? undefined : Buffer.from(b).toString('latin1'));
  const one = permissionRange('k', undefined, {});
  assert.deepEqual([t(one.key), t(one.rangeEnd)], ['k', undefined]);
  const range = permissionRange('a', 'c', {});
  assert.deepEqual([t(range.key), t(range.rangeEnd)], ['a', 'c']);
  const prefix = permissionRange('a/', undefined, { prefix: true });
  assert.deepEqual([t(prefix.key), t(prefix.rangeEnd)], ['a/', 'a0']);
  const fromKey = permissionRange('', undefined, { fromKey: true });
  assert.deepEqual([t(fromKey.key), t(fromKey.rangeEnd)], ['', '\u0000']);
  assert.throws(() => permissionRange('a', 'c', { prefix: true }), (e: unknown) => e instanceof CliExit && e.exitCode === ExitCode.Usage);
  assert.equal(describePermission(one), 'k');
  assert.equal(describePermission(range), '[a, c)');
  assert.equal(describePermission(prefix), '[a/, a0) (prefix a/)');
  assert.equal(describePermission(fromKey), '[, <open ended>');
  assert.equal(describePermission({ key: Buffer.from('a/'), rangeEnd: Buffer.from('a0') }), '[a/, a0) (prefix a/)', 'Buffers as the wire gives them');
});
