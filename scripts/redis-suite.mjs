#!/usr/bin/env node
// `npm run test:redis-suite`: Redis 7.0.15's own Tcl tests (units type/string, type/incr, keyspace,
// expire, multi, scan, protocol, info-command, quit, auth) in external mode against a local
// 3-member Concord (the leader's RESP port). Not part of `npm test`.
// The suite comes from Debian's source package (needs a deb-src line for the machine's mirror,
// added here when missing, and root for apt-get), extracted into .redis-suite/ (gitignored);
// tclsh from Debian's tcl. Tests listed in test/redis-suite/skip.txt (one reason per line) are skipped.
// Prints passed/failed/skipped per unit; exits 0 (the counts are the result).
// `-- --units type/incr,type/string` runs only those units.
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const suiteDir = join(root, '.redis-suite');
const allUnits = ['type/string', 'type/incr', 'keyspace', 'expire', 'multi', 'scan', 'protocol', 'info-command', 'quit', 'auth'];
const unitsArg = process.argv.indexOf('--units');
const units = unitsArg === -1 ? allUnits : process.argv[unitsArg + 1].split(',').filter((u) => allUnits.includes(u));

function sh(cmd, args, opts = {}) {
  return spawnSync(cmd, args, { encoding: 'utf8', ...opts });
}

function ensureTcl() {
  if (sh('sh', ['-c', 'command -v tclsh']).status === 0) return;
  sh('apt-get', ['install', '-y', '-qq', '--no-install-recommends', 'tcl'], { env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' } });
  if (sh('sh', ['-c', 'command -v tclsh']).status !== 0) throw new Error('tclsh is missing and could not be installed (Debian tcl; needs root)');
}

function testsRoot() {
  if (!existsSync(suiteDir)) return null;
  const dir = readdirSync(suiteDir).find((d) => /^redis-7\.0\.15/.test(d) && existsSync(join(suiteDir, d, 'tests', 'test_helper.tcl')));
  return dir === undefined ? null : join(suiteDir, dir);
}

function fetchSuite() {
  mkdirSync(suiteDir, { recursive: true });
  const sources = '/etc/apt/sources.list.d/debian.sources';
  const srcFile = '/etc/apt/sources.list.d/concord-deb-src.sources';
  if (!existsSync(srcFile) && existsSync(sources)) {
    // The same mirror and suites as the machine's binary packages, for source packages.
    writeFileSync(srcFile, readFileSync(sources, 'utf8').replace(/^Types: deb$/gm, 'Types: deb-src'));
  }
  sh('apt-get', ['update', '-qq']);
  const got = sh('apt-get', ['source', '--download-only', 'redis'], { cwd: suiteDir });
  if (got.status !== 0) throw new Error(`apt-get source redis failed: ${got.stderr.trim()}`);
  const orig = readdirSync(suiteDir).find((f) => /^redis_7\.0\.15.*\.orig\.tar\.(gz|xz)$/.test(f));
  if (orig === undefined) throw new Error(`no redis 7.0.15 orig tarball in ${suiteDir}: ${readdirSync(suiteDir).join(' ')}`);
  execFileSync('tar', ['-xf', orig], { cwd: suiteDir });
}

ensureTcl();
if (testsRoot() === null) fetchSuite();
const redisRoot = testsRoot();
if (redisRoot === null) throw new Error('the Redis test suite was not found after fetching it');

const { LocalCluster, MemberOutput } = await import(join(root, 'dist/src/cli/dev/local-cluster.js'));
const { freePortRange } = await import(join(root, 'dist/src/cli/dev/free-ports.js'));
const dataDir = mkdtempSync(join(tmpdir(), 'concord-redis-suite-'));
const base = await freePortRange(3, 100);
const respBase = await freePortRange(3, 0);
const cluster = await LocalCluster.start({ nodes: 3, dataDir, clientPortBase: base, peerPortBase: base + 100, respPortBase: respBase, output: MemberOutput.LogFile, serverArgs: ['--log-level', 'warn', '--value-bytes-max', String(8 * 1024 * 1024)] });
const skipFile = join(root, 'test/redis-suite/skip.txt');
// skip.txt: "<test name>  # reason" per line; the runner reads one test name per line.
const skipNames = readFileSync(skipFile, 'utf8').split('\n').map((l) => l.replace(/\s+#\s.*$/, '').trim()).filter((l) => l !== '' && !l.startsWith('#'));
const runnerSkip = join(dataDir, 'skip-names.txt');
writeFileSync(runnerSkip, skipNames.join('\n') + '\n');
const totals = { passed: 0, failed: 0, skipped: 0 };
try {
  const { leader } = await cluster.waitForLeader({ timeoutMs: 60_000 });
  const port = leader.respUrl.slice(leader.respUrl.lastIndexOf(':') + 1);
  for (const unit of units) {
    const run = sh('tclsh', ['tests/test_helper.tcl', '--host', '127.0.0.1', '--port', port, '--singledb', '--ignore-encoding', '--ignore-digest', '--single', `unit/${unit}`, '--skipfile', runnerSkip, '--timeout', '120', '--clients', '1', '--tags', '-needs:debug', '--tags', '-needs:repl', '--tags', '-needs:save'], {
      cwd: redisRoot,
      timeout: 15 * 60_000,
      maxBuffer: 64 * 1024 * 1024,
    });
    const out = `${run.stdout}\n${run.stderr}`.replace(/\x1b\[[0-9;]*m/g, '');
    const passed = (out.match(/^\[ok\]: /gm) ?? []).length;
    const failed = (out.match(/^\[err\]: /gm) ?? []).length + (/\[exception\]/.test(out) ? 1 : 0);
    const skipped = (out.match(/^\[(skip|ignore)\]: /gm) ?? []).length;
    totals.passed += passed;
    totals.failed += failed;
    totals.skipped += skipped;
    console.log(`${unit.padEnd(14)} passed ${String(passed).padStart(3)}  failed ${String(failed).padStart(3)}  skipped ${String(skipped).padStart(3)}${/\[exception\]/.test(out) ? '  (the unit stopped at an exception)' : ''}`);
    if (process.env.REDIS_SUITE_VERBOSE) console.log(out);
    else for (const line of out.split('\n').filter((l) => /^\[err\]|^\[exception\]/.test(l)).slice(0, 12)) console.log(`    ${line}`);
  }
} finally {
  await cluster.stop();
  rmSync(dataDir, { recursive: true, force: true });
}
console.log(`total          passed ${totals.passed}  failed ${totals.failed}  skipped ${totals.skipped}`);
