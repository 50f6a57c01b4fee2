/**
 * The workloads, run through the real client library (KvClient over the
 * simulated RpcChannel, on a SimClock, with seeded randomness):
 *
 * - register: each client does one operation at a time, a write, a
 *   compare-and-set (put with expectedVersion, the version it last saw) or a
 *   linearizable read, on a few keys; every value written is unique. The
 *   history goes to the linearizability checker (kv-register-model.ts). An
 *   operation the client reports as possibly applied (an error carrying
 *   `unresolvedWrite`, or any other error after which it cannot say) has an
 *   unknown outcome, allowed either way; one the client reports as certainly
 *   not applied leaves the history, so a client that is wrong about that
 *   is caught. Reads that fail leave it too (no effect).
 * - exactly-once counter: each client increments counters by read-then-CAS
 *   (get the version v, put with expectedVersion v; VersionMismatch: read
 *   again), retrying writes with unknown outcome through its session
 *   (`retryWrite`). At the end, for every key: the acknowledged increments
 *   returned distinct versions, the final version is at least the number
 *   acknowledged and at most that plus the number left unresolved.
 *
 * With `txn` (the txn profile), half the compare-and-sets, reads and
 * increments are transactions instead: `txn(version(key) = v ? put : get)`,
 * a read-only `txn(get)` (the ReadIndex path, not the log), and increments
 * whose unresolved outcome is learned by `retryWrite` of the transaction
 * (exactly-once through the session). The same checks apply.
 */
import type { Prng } from '../../src/common/rng.js';
import { Compare, connect, Op, type KvClient, type TxnResult } from '../../src/client/index.js';
import { KvErrorCode } from '../../src/kv/errors.js';
import { KvOpKind, describeKvInput, describeKvOutput, type KvInput, type KvOperation, type KvOutput } from './kv-register-model.js';
import type { SimClock } from './sim-clock.js';
import type { SimTransport } from './sim-transport.js';

export interface WorkloadEnv {
  readonly transport: SimTransport;
  readonly endpoints: readonly string[];
  /** False once clients must stop starting operations. */
  issuing(): boolean;
  readonly tracing: boolean;
  trace(line: string): void;
  /** History time: strictly increasing, so real-time order between calls and returns is exact. */
  tick(): number;
}

export interface ClientParams {
  readonly timeoutMs: number;
  readonly thinkMinMs: number;
  readonly thinkMaxMs: number;
}

function sleep(clock: SimClock, ms: number): Promise<void> {
  return new Promise((resolve) => clock.setTimer(ms, resolve));
}

const decoder = new TextDecoder();

function codeOf(error: unknown): string | undefined {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'string' ? code : undefined;
}

/** The client reports this write may have been applied (its outcome is unknown). */
function mayHaveApplied(error: unknown): boolean {
  if ((error as { unresolvedWrite?: unknown }).unresolvedWrite !== undefined) return true;
  const code = codeOf(error);
  // Timeout/Unavailable/Aborted without an unresolved write: the client says no attempt can have been applied.
  return !(code === 'CONCORD_ERR_TIMEOUT' || code === 'CONCORD_ERR_UNAVAILABLE' || code === 'CONCORD_ERR_ABORTED' || code === 'CONCORD_ERR_CLIENT_CLOSED');
}

/** Opens a client, retrying until it connects or the workload stops. */
async function openClient(env: WorkloadEnv, name: string, clock: SimClock, rng: Prng, params: ClientParams): Promise<KvClient | null> {
  while (env.issuing()) {
    try {
      return await connect({
        endpoints: env.endpoints,
        timeoutMs: params.timeoutMs,
        connectTimeoutMs: Math.max(10, Math.floor(params.timeoutMs / 3)),
        channelFactory: env.transport.channelFactory(name, clock),
        clock,
        random: rng.fork('client'),
      });
    } catch (error) {
      if (env.tracing) env.trace(`${name} connect failed: ${codeOf(error) ?? ""} ${(error as Error).message}`);
      await sleep(clock, params.timeoutMs / 4);
    }
  }
  return null;
}

interface RecordedOp {
  readonly clientId: number;
  readonly input: KvInput;
  readonly callTime: number;
  returnTime: number | undefined;
  output: KvOutput | undefined;
  /** Certainly no effect: leaves the history. */
  discarded: boolean;
  unknown: boolean;
}

export class RegisterHistory {
  private readonly ops: RecordedOp[] = [];

  record(op: RecordedOp): void {
    this.ops.push(op);
  }

  /**
   * The history for the checker. `committedValue(v)`: whether an entry
   * carrying value v ever committed; an unknown write whose value never did
   * had no effect during the run (anything later is linearized after
   * everything else, the same as never), so it leaves the history: fewer
   * optional operations, a faster search.
   */
  operations(committedValue: (value: string) => boolean): KvOperation[] {
    const out: KvOperation[] = [];
    for (const op of this.ops) {
      if (op.discarded) continue;
      if (op.unknown && op.input.kind !== KvOpKind.Read && !committedValue(op.input.value)) continue;
      out.push({ clientId: op.clientId, input: op.input, callTime: op.callTime, returnTime: op.returnTime, output: op.output });
    }
    return out;
  }

  stats(): { total: number; ok: number; unknown: number; discarded: number } {
    let ok = 0;
    let unknown = 0;
    let discarded = 0;
    for (const op of this.ops) {
      if (op.unknown) unknown++;
      else if (op.discarded) discarded++;
      else ok++;
    }
    return { total: this.ops.length, ok, unknown, discarded };
  }
}

/** One register client: one operation at a time until the workload stops. */
export async function runRegisterClient(
  env: WorkloadEnv,
  id: number,
  clock: SimClock,
  rng: Prng,
  params: ClientParams,
  keys: readonly string[],
  history: RegisterHistory,
  txn = false,
): Promise<void> {
  const name = `c${id}`;
  const client = await openClient(env, name, clock, rng, params);
  if (client === null) return;
  const lastVersion = new Map<string, number>();
  let n = 0;
  while (env.issuing()) {
    const key = rng.pick(keys);
    const r = rng.nextInt(3);
    const value = `${name}.${++n};`;
    const input: KvInput =
      r === 0
        ? { kind: KvOpKind.Write, key, value }
        : r === 1
          ? { kind: KvOpKind.Cas, key, expectedVersion: lastVersion.get(key) ?? 0, value }
          : { kind: KvOpKind.Read, key };
    const op: RecordedOp = { clientId: id, input, callTime: env.tick(), returnTime: undefined, output: undefined, discarded: false, unknown: false };
    history.record(op);
    const viaTxn = txn && input.kind !== KvOpKind.Write && rng.nextInt(2) === 0;
    if (env.tracing) env.trace(`${name} calls ${describeKvInput(input)}${viaTxn ? ' as a txn' : ''}`);
    try {
      let output: KvOutput;
      if (viaTxn) {
        output = await registerTxn(client, input);
        if (output.version > 0 || output.kind === KvOpKind.Read) lastVersion.set(key, output.version);
      } else if (input.kind === KvOpKind.Read) {
        const got = await client.get(key);
        output = { kind: KvOpKind.Read, value: got === null ? null : decoder.decode(got.value), version: got?.version ?? 0 };
        lastVersion.set(key, output.version);
      } else if (input.kind === KvOpKind.Write) {
        const result = await client.put(key, value);
        output = { kind: KvOpKind.Write, version: result.version };
        lastVersion.set(key, result.version);
      } else {
        try {
          const result = await client.put(key, value, { expectedVersion: input.expectedVersion });
          output = { kind: KvOpKind.Cas, swapped: true, version: result.version };
          lastVersion.set(key, result.version);
        } catch (error) {
          if (codeOf(error) !== KvErrorCode.VersionMismatch) throw error;
          output = { kind: KvOpKind.Cas, swapped: false, version: 0 };
          const actual = (error as { details?: { actualVersion?: unknown } }).details?.actualVersion;
          if (typeof actual === 'number') lastVersion.set(key, actual);
        }
      }
      op.returnTime = env.tick();
      op.output = output;
      if (env.tracing) env.trace(`${name} returns ${describeKvOutput(output)}`);
    } catch (error) {
      if (input.kind === KvOpKind.Read || !mayHaveApplied(error)) op.discarded = true;
      else op.unknown = true;
      if (env.tracing) env.trace(`${name} fails ${codeOf(error) ?? (error as Error).message} (${op.unknown ? 'outcome unknown' : 'no effect'})`);
    }
    await sleep(clock, rng.between(params.thinkMinMs, params.thinkMaxMs));
  }
}

/** A compare-and-set or a read as a transaction, with the output the register model expects. */
async function registerTxn(client: KvClient, input: Exclude<KvInput, { kind: typeof KvOpKind.Write }>): Promise<KvOutput> {
  if (input.kind === KvOpKind.Read) {
    const r = await client.txn({ success: [Op.get(input.key)] });
    const got = r.results[0]!.type === 'get' ? r.results[0]!.kv : null;
    return { kind: KvOpKind.Read, value: got === null ? null : decoder.decode(got.value), version: got?.version ?? 0 };
  }
  const r = await client.txn({ compare: [Compare.version(input.key, '=', input.expectedVersion)], success: [Op.put(input.key, input.value)], failure: [Op.get(input.key)] });
  return r.succeeded ? { kind: KvOpKind.Cas, swapped: true, version: putVersion(r) } : { kind: KvOpKind.Cas, swapped: false, version: 0 };
}

function putVersion(r: TxnResult): number {
  const first = r.results[0];
  if (first?.type !== 'put') throw new Error(`txn result without its put: ${JSON.stringify(r)}`);
  return first.version;
}

/** Per counter key: what the clients know about its increments. */
export interface CounterTally {
  acked: number;
  unresolved: number;
  /** Versions the acknowledged increments returned (must be distinct). */
  readonly ackedVersions: number[];
}

export class CounterBook {
  readonly tallies = new Map<string, CounterTally>();

  tally(key: string): CounterTally {
    let t = this.tallies.get(key);
    if (t === undefined) this.tallies.set(key, (t = { acked: 0, unresolved: 0, ackedVersions: [] }));
    return t;
  }

  /** Null when every key holds; else what is wrong. `finalVersion(key)`: the key's version in the replicated state. */
  check(finalVersion: (key: string) => number): string | null {
    for (const [key, t] of [...this.tallies].sort((a, b) => (a[0] < b[0] ? -1 : 1))) {
      const v = finalVersion(key);
      const distinct = new Set(t.ackedVersions);
      if (distinct.size !== t.ackedVersions.length) return `counter ${key}: two acknowledged increments returned the same version (${t.ackedVersions.join(',')})`;
      const above = t.ackedVersions.filter((x) => x > v);
      if (above.length > 0) return `counter ${key}: acknowledged increments to versions ${above.join(',')} are missing (final version ${v})`;
      if (v < t.acked) return `counter ${key}: final version ${v} < ${t.acked} acknowledged increments (an acknowledged increment was lost)`;
      if (v > t.acked + t.unresolved) {
        return `counter ${key}: final version ${v} > ${t.acked} acknowledged + ${t.unresolved} unresolved increments (an increment was applied twice, or one reported as not applied was)`;
      }
    }
    return null;
  }
}

/** One exactly-once client: increments until the workload stops. */
export async function runCounterClient(
  env: WorkloadEnv,
  id: number,
  clock: SimClock,
  rng: Prng,
  params: ClientParams,
  keys: readonly string[],
  book: CounterBook,
  txn = false,
): Promise<void> {
  const name = `x${id}`;
  const client = await openClient(env, name, clock, rng, params);
  if (client === null) return;
  let n = 0;
  while (env.issuing()) {
    const key = rng.pick(keys);
    const tally = book.tally(key);
    // One increment: read, CAS; on a lost race read again (a few times).
    for (let attempt = 0; attempt < 5 && env.issuing(); attempt++) {
      let version: number;
      try {
        version = (await client.get(key))?.version ?? 0;
      } catch {
        break; // no effect; try another increment later
      }
      const value = `${name}.${++n};`;
      try {
        let resultVersion: number;
        const viaTxn = txn && rng.nextInt(2) === 0;
        if (viaTxn) {
          const r = await client.txn({ compare: [Compare.version(key, '=', version)], success: [Op.put(key, value)] });
          if (!r.succeeded) continue; // lost the race: read again
          resultVersion = putVersion(r);
        } else {
          resultVersion = (await client.put(key, value, { expectedVersion: version })).version;
        }
        const result = { version: resultVersion };
        tally.acked++;
        tally.ackedVersions.push(result.version);
        if (env.tracing) env.trace(`${name} increments ${key} to v${result.version}${viaTxn ? ' (txn)' : ''}`);
        break;
      } catch (error) {
        if (codeOf(error) === KvErrorCode.VersionMismatch) continue;
        if (!mayHaveApplied(error)) break;
        // Outcome unknown: retry with the same session and seq; it applies at most once.
        const settled = await settleUnresolved(client, error, params, clock);
        if (settled.kind === 'acked') {
          tally.acked++;
          tally.ackedVersions.push(settled.version);
          if (env.tracing) env.trace(`${name} increments ${key} to v${settled.version} (after a retry)`);
        } else if (settled.kind === 'unresolved') {
          tally.unresolved++;
          if (env.tracing) env.trace(`${name} increment of ${key} unresolved (${codeOf(error)})`);
        }
        break;
      }
    }
    await sleep(clock, rng.between(params.thinkMinMs, params.thinkMaxMs));
  }
}

async function settleUnresolved(
  client: KvClient,
  error: unknown,
  params: ClientParams,
  clock: SimClock,
): Promise<{ kind: 'acked'; version: number } | { kind: 'unresolved' } | { kind: 'not-applied' }> {
  const unresolved = (error as { unresolvedWrite?: Parameters<KvClient['retryWrite']>[0] }).unresolvedWrite;
  if (unresolved === undefined) return { kind: 'unresolved' };
  for (let i = 0; i < 2; i++) {
    await sleep(clock, params.thinkMaxMs);
    try {
      const result = await client.retryWrite(unresolved);
      if ('succeeded' in result) return result.succeeded ? { kind: 'acked', version: putVersion(result) } : { kind: 'not-applied' };
      return { kind: 'acked', version: (result as { version: number }).version };
    } catch (retryError) {
      // The one outcome of the write: it was applied and failed its condition, so no increment.
      if (codeOf(retryError) === KvErrorCode.VersionMismatch) return { kind: 'not-applied' };
      if (!mayHaveApplied(retryError) && (retryError as { unresolvedWrite?: unknown }).unresolvedWrite === undefined) {
        // E.g. the session expired: the write's fate can no longer be learned.
        return { kind: 'unresolved' };
      }
    }
  }
  return { kind: 'unresolved' };
}

/**
 * What the lease clients saw, for the checks. A grant names its own lease id
 * (unique per client), so a retried grant that the state machine executed a
 * second time (instead of answering from the session) shows as
 * LeaseExistsError; an acknowledged revoke must leave its key unreadable; and
 * at the end (the lease clients stop renewing and wait two TTLs after the
 * workload stops) no lease and no leased key may be left: the leader's expiry
 * path ran after the heal.
 */
export class LeaseBook {
  granted = 0;
  renewals = 0;
  revoked = 0;
  problem: string | null = null;

  fail(message: string): void {
    this.problem ??= message;
  }
}

/** The TTL the lease clients ask for (the state machine's default minimum). */
export const SIM_LEASE_TTL_MS = 1000;

/** One lease client: grant, attach a key, renew a few times, then revoke or let expire. */
export async function runLeaseClient(env: WorkloadEnv, id: number, clock: SimClock, rng: Prng, params: ClientParams, book: LeaseBook): Promise<void> {
  const name = `l${id}`;
  const client = await openClient(env, name, clock, rng, params);
  if (client === null) return;
  let n = 0;
  while (env.issuing()) {
    n++;
    const leaseId = (id + 1) * 1_000_000 + n;
    try {
      await client.lease.grant(SIM_LEASE_TTL_MS, { id: leaseId });
      book.granted++;
    } catch (error) {
      if (codeOf(error) === KvErrorCode.LeaseExists) book.fail(`${name}: the grant of lease ${leaseId} answered LeaseExists: a retried grant was executed twice`);
      await sleep(clock, rng.between(params.thinkMinMs, params.thinkMaxMs));
      continue;
    }
    const key = `lease/${name}/${n}`;
    try {
      await client.put(key, 'v', { lease: leaseId });
    } catch {
      // Unknown outcome, or the lease already expired: the key, if written, goes with the lease.
    }
    const renewals = rng.between(0, 3);
    for (let i = 0; i < renewals && env.issuing(); i++) {
      await sleep(clock, SIM_LEASE_TTL_MS / 4);
      try {
        await client.lease.keepAliveOnce(leaseId);
        book.renewals++;
      } catch {
        break; // expired meanwhile, or unavailable
      }
    }
    if (rng.chance(0.5) && env.issuing()) {
      try {
        const revoked = await client.lease.revoke(leaseId);
        book.revoked++;
        try {
          const read = await client.get(key);
          if (read !== null) book.fail(`${name}: ${key} is readable after its lease ${leaseId} was revoked at revision ${revoked.revision}`);
        } catch {
          // A failed read says nothing.
        }
      } catch {
        // Not found (expired first), or unknown: the expiry takes care of it.
      }
    }
    await sleep(clock, rng.between(params.thinkMinMs, params.thinkMaxMs));
  }
  if (env.tracing) env.trace(`${name} stops: ${n} leases; waiting for the rest to expire`);
  await sleep(clock, 2 * SIM_LEASE_TTL_MS);
}
