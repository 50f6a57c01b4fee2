/**
 * `npm run test:faults -- [--seeds N] [--seed S] [--duration-s S] [--members 3|5]
 *                          [--nemeses all|kind,kind] [--results DIR]`
 * Runs fault-suite cases on real member processes in network namespaces (root
 * and `ip netns` needed) and prints one verdict line per case, the results
 * directory, and, for every failed case, the command that reruns it.
 * Exit code 0 when every case passed, 1 otherwise, 2 when the machine cannot run it.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { allNemeses, parseNemeses } from './nemesis.js';
import { unavailableReason } from './netns.js';
import { prepareHost, runCase, type Verdict } from './run-case.js';

const usageLine = `usage: npm run test:faults -- [--seeds N] [--seed S] [--duration-s S] [--members 3|5] [--nemeses all|${allNemeses.join(',')}] [--results DIR]`;

function usage(message: string): never {
  process.stderr.write(`${message}\n${usageLine}\n`);
  process.exit(2);
}

const helpText = `${usageLine}

  --seeds N        how many cases, seeds S, S+1, ... (default 1)
  --seed S         first seed (default: from the clock); a case reruns exactly with its seed
  --duration-s S   fault schedule length per case, at least 5 (default 30)
  --members 3|5    cluster size (default 3)
  --nemeses LIST   fault kinds drawn from (default all; see docs/faults.md)
  --results DIR    where histories and verdicts go (default a fresh /tmp/concord-faults-*)
  --help           this text

Needs root and ip netns. Exit code 0: every case passed; 1: a case failed; 2: cannot run here.
`;

function positive(name: string, text: string | undefined, fallback: number): number {
  if (text === undefined) return fallback;
  const n = Number(text);
  if (!Number.isSafeInteger(n) || n < 0) usage(`--${name} must be a non-negative integer, got "${text}"`);
  return n;
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      seeds: { type: 'string' },
      seed: { type: 'string' },
      'duration-s': { type: 'string' },
      members: { type: 'string' },
      nemeses: { type: 'string' },
      results: { type: 'string' },
      help: { type: 'boolean' },
    },
    strict: true,
    allowPositionals: false,
  });
  if (values.help === true) {
    process.stdout.write(helpText);
    process.exit(0);
  }
  const members = positive('members', values.members, 3);
  if (members !== 3 && members !== 5) usage('--members must be 3 or 5');
  const durationS = positive('duration-s', values['duration-s'], 30);
  if (durationS < 5) usage('--duration-s must be at least 5');
  const firstSeed = positive('seed', values.seed, Math.floor(Date.now() / 1000) % 1_000_000);
  const seeds = positive('seeds', values.seeds, 1);
  let nemeses;
  try {
    nemeses = parseNemeses(values.nemeses ?? 'all');
  } catch (error) {
    usage((error as Error).message);
  }
  const why = unavailableReason();
  if (why !== null) {
    process.stderr.write(`fault suite skipped: ${why}\n`);
    process.exit(2);
  }
  const removed = prepareHost();
  if (removed.length > 0) console.log(`removed ${removed.length} namespaces left by a crashed run: ${removed.join(', ')}`);
  const resultsDir = values.results !== undefined ? resolve(values.results) : mkdtempSync(join(tmpdir(), 'concord-faults-'));
  console.log(`fault suite: ${seeds} case(s) of ${members} members, ${durationS} s each, nemeses ${nemeses.join(',')}; results in ${resultsDir}`);
  const verdicts: Verdict[] = [];
  for (let i = 0; i < seeds; i++) {
    const seed = firstSeed + i;
    console.log(`case seed ${seed}:`);
    const verdict = await runCase({ seed, members, durationS, nemeses, resultsDir, log: (line) => console.log(line) });
    verdicts.push(verdict);
    const checks = verdict.checks.map((c) => `${c.name} ${c.ok ? (c.result === 'unknown' ? 'inconclusive' : 'ok') : 'FAIL'}`).join(', ');
    console.log(`  ${verdict.ok ? 'PASS' : 'FAIL'} seed ${seed}: ${verdict.faults.length} faults, ${verdict.operations} operations, ${verdict.sessionsReopened} sessions reopened; ${checks || 'no checks'}; serving ${verdict.recovery?.serveMs ?? '-'} ms after healing`);
    for (const c of verdict.checks) console.log(`    ${c.name}: ${c.summary}`);
    const t = verdict.connects;
    console.log(
      `    connect (timeoutMs 1000): ${t.tries} tries, ${t.failed} failed, overrun p50 ${t.connectOverrunP50Ms} ms max ${t.connectOverrunMaxMs} ms, ${t.connectOverrunsOver100Ms} over +100 ms; close max ${t.closeMaxMs} ms, ${t.closeOverrunsOver100Ms} over +100 ms`,
    );
    for (const p of verdict.problems.slice(0, 10)) console.log(`    problem: ${p.split('\n').slice(0, 12).join('\n      ')}`);
    if (!verdict.ok) console.log(`    rerun: ${verdict.rerun}\n    verdict: ${join(verdict.dir, 'verdict.json')}`);
  }
  const failed = verdicts.filter((v) => !v.ok);
  console.log(`\n${verdicts.length - failed.length}/${verdicts.length} cases passed; results in ${resultsDir}`);
  for (const v of failed) console.log(`FAILED seed ${v.seed}: ${v.rerun}`);
  process.exit(failed.length === 0 ? 0 : 1);
}

main().catch((error: unknown) => {
  process.stderr.write(`fault suite crashed: ${(error as Error).stack ?? String(error)}\n`);
  process.exit(1);
});
