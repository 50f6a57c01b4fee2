/**
 * The fault suite's checks over a run's recorded history and its final reads:
 * - register: linearizable, by the project's checker (test/sim/linearizability.ts)
 *   against the register model (test/sim/register-model.ts); operations with
 *   unknown outcomes may have taken effect or not;
 * - set: every acknowledged add is in the final set, and every element there
 *   was attempted and not reported as definitely failed;
 * - counter (exactly-once): per key, value == version and
 *   acknowledged <= version <= acknowledged + unknown.
 */
import { checkOperations, CheckResult, describeFailure } from '../sim/linearizability.js';
import { registerModel, type RegisterOperation } from '../sim/register-model.js';
import type { Verified } from './agent.js';
import { counterKeys, WriteResultKind, type HistoryRecord } from './workloads.js';

export interface CheckReport {
  readonly name: string;
  readonly ok: boolean;
  /** For the register check: 'unknown' when the search budget ran out (not a failure). */
  readonly result?: string;
  readonly summary: string;
  readonly problems: readonly string[];
}

export function checkRegister(history: readonly HistoryRecord[]): CheckReport {
  const ops: RegisterOperation[] = [];
  for (const r of history) {
    if (r.w !== 'register') continue;
    ops.push({ clientId: r.c, input: r.input, callTime: r.call, returnTime: r.ret ?? undefined, output: r.output ?? undefined });
  }
  const unknown = ops.filter((o) => o.returnTime === undefined).length;
  const outcome = checkOperations(registerModel, ops, { searchStepsMax: 20_000_000 });
  const summary = `${ops.length} operations (${unknown} unknown), ${outcome.steps} search steps: ${outcome.result}`;
  if (outcome.result === CheckResult.Illegal) {
    return { name: 'register', ok: false, result: outcome.result, summary, problems: [describeFailure(registerModel, outcome)] };
  }
  return { name: 'register', ok: true, result: outcome.result, summary, problems: [] };
}

export function checkSet(history: readonly HistoryRecord[], finalElems: readonly string[]): CheckReport {
  const attempted = new Map<string, WriteResultKind>();
  for (const r of history) if (r.w === 'set') attempted.set(r.elem, r.result);
  const final = new Set(finalElems);
  const problems: string[] = [];
  let acked = 0;
  let unknown = 0;
  let unknownPresent = 0;
  for (const [elem, result] of attempted) {
    if (result === WriteResultKind.Ok) {
      acked++;
      if (!final.has(elem)) problems.push(`acknowledged add ${elem} is lost`);
    } else if (result === WriteResultKind.Unknown) {
      unknown++;
      if (final.has(elem)) unknownPresent++;
    }
  }
  for (const elem of final) {
    const result = attempted.get(elem);
    if (result === undefined) problems.push(`${elem} is in the set but was never attempted`);
    else if (result === WriteResultKind.Failed) problems.push(`${elem} is in the set but its add was reported as not applied`);
  }
  const summary = `${attempted.size} adds: ${acked} acknowledged, ${unknown} unknown (${unknownPresent} of them present), final set ${final.size}`;
  return { name: 'set', ok: problems.length === 0, summary, problems: problems.slice(0, 20) };
}

export function checkCounter(history: readonly HistoryRecord[], finals: Verified['counters']): CheckReport {
  const problems: string[] = [];
  const parts: string[] = [];
  for (const key of counterKeys) {
    let acked = 0;
    let unknown = 0;
    let failed = 0;
    for (const r of history) {
      if (r.w !== 'counter' || r.key !== key) continue;
      if (r.result === WriteResultKind.Ok) acked++;
      else if (r.result === WriteResultKind.Unknown) unknown++;
      else failed++;
    }
    const final = finals[key];
    if (final === undefined) {
      problems.push(`${key}: no final read`);
      continue;
    }
    parts.push(`${key}: version ${final.version}, ${acked} acknowledged + ${unknown} unknown (${failed} not applied)`);
    if (final.value !== final.version) problems.push(`${key}: value ${final.value} != version ${final.version} (an increment applied twice or lost)`);
    if (final.version < acked) problems.push(`${key}: version ${final.version} < ${acked} acknowledged increments (an acknowledged increment is lost)`);
    if (final.version > acked + unknown) {
      problems.push(`${key}: version ${final.version} > ${acked} acknowledged + ${unknown} unknown (an increment applied that the client reported as not applied, or applied twice)`);
    }
  }
  return { name: 'counter', ok: problems.length === 0, summary: parts.join('; '), problems };
}

/** Sessions the clients opened beyond their first: evidence that expiry (a clock step) or failover reached them. */
export function sessionsReopened(history: readonly HistoryRecord[]): number {
  const perClient = new Map<number, number>();
  for (const r of history) if (r.w === 'session') perClient.set(r.c, (perClient.get(r.c) ?? 0) + 1);
  let reopened = 0;
  for (const count of perClient.values()) reopened += count - 1;
  return reopened;
}
