/**
 * Limits and tunables of the key-value state machine.
 *
 * Every member of a cluster must run with the same values: they decide the
 * outcome of applied commands (a value over the limit is an error result, a
 * session expires after its TTL), and those outcomes must be identical on every
 * member for the replicas to stay equal (state machine determinism, Raft §5.1).
 */
import { assert } from '../common/errors.js';
import { SNAPSHOT_BLOCK_BYTES_MAX } from './snapshot-format.js';
import { savedResultBytesBound } from './session-quotas.js';

export interface KvOptions {
  /** Largest key accepted, in bytes. */
  readonly keyBytesMax: number;
  /** Largest value accepted, in bytes. */
  readonly valueBytesMax: number;
  /** A session's time to live when the client asks for none (0). */
  readonly sessionTtlMs: number;
  /** Requested TTLs are clamped into [sessionTtlMinMs, sessionTtlMaxMs]. */
  readonly sessionTtlMinMs: number;
  readonly sessionTtlMaxMs: number;
  /** Most live sessions; opening one more fails with SessionsFullError. */
  readonly sessionsMax: number;
  /** Most unacknowledged saved results per session; a write beyond fails with SessionResultsFullError. */
  readonly sessionResultsMax: number;
  /**
   * Per-user quotas (session-quotas.ts; the owner is the authenticated user or
   * the client certificate's CN, and every anonymous client together while
   * auth is disabled): live sessions, and bytes of saved results. Past one,
   * that user gets UserQuotaExceededError; other users are not affected.
   */
  readonly sessionsPerUserMax: number;
  readonly sessionResultBytesPerUserMax: number;
  /** Byte budget of the whole session table (sessions and saved results, as session-quotas.ts counts them): SessionTableFullError. */
  readonly sessionTableBytesMax: number;
  /** Largest page a scan may ask for. */
  readonly scanLimitMax: number;
  /** A scan page stops once its keys and values add up to this many bytes (it always holds at least one entry). */
  readonly scanBytesMax: number;
  /** Target size of one snapshot chunk. */
  readonly snapshotChunkBytes: number;
  /** Granted lease TTLs are clamped into [leaseTtlMinMs, leaseTtlMaxMs] (etcd raises a short TTL to its minimum too). */
  readonly leaseTtlMinMs: number;
  readonly leaseTtlMaxMs: number;
  /** Most live leases; a grant beyond fails with LeasesFullError. */
  readonly leasesMax: number;
  /** Most compares plus ops in one transaction, nested ones and both branches included (etcd's fixed cap is 128). */
  readonly txnOpsMax: number;
  /** Largest encoded transaction (its log entry), in bytes; it must fit in a peer frame with room to spare. */
  readonly txnBytesMax: number;
  /**
   * Most bytes of transaction results one session may hold unacknowledged
   * (they are saved for exactly-once retries and go into snapshots); a
   * transaction whose result would go over fails with TxnTooLargeError.
   */
  readonly sessionResultBytesMax: number;
  /** Most revisions the watch history keeps (history.ts); past it the oldest are compacted. */
  readonly historyRevisionsMax: number;
  /** Most bytes of keys and values the watch history keeps; past it the oldest revisions are compacted. */
  readonly historyBytesMax: number;
}

export const defaultKvOptions: KvOptions = Object.freeze({
  keyBytesMax: 4 * 1024,
  valueBytesMax: 1024 * 1024,
  sessionTtlMs: 60_000,
  sessionTtlMinMs: 1_000,
  sessionTtlMaxMs: 3_600_000,
  sessionsMax: 10_000,
  sessionResultsMax: 4_096,
  // One user at both quotas holds about 64.4 MiB: a quarter of the table, so it never locks out the others.
  sessionsPerUserMax: 1_000,
  sessionResultBytesPerUserMax: 64 * 1024 * 1024,
  sessionTableBytesMax: 256 * 1024 * 1024,
  scanLimitMax: 10_000,
  scanBytesMax: 4 * 1024 * 1024,
  snapshotChunkBytes: 64 * 1024,
  leaseTtlMinMs: 1_000,
  leaseTtlMaxMs: 10 * 365 * 24 * 3600 * 1000,
  leasesMax: 1_000_000,
  txnOpsMax: 10_000,
  txnBytesMax: 8 * 1024 * 1024,
  sessionResultBytesMax: 16 * 1024 * 1024,
  historyRevisionsMax: 1_000_000,
  historyBytesMax: 256 * 1024 * 1024,
});

/** Fills in defaults and checks the combination (a bad configuration is a programmer error). */
export function resolveKvOptions(options: Partial<KvOptions> = {}): KvOptions {
  const resolved: KvOptions = { ...defaultKvOptions, ...stripUndefined(options) };
  for (const [name, value] of Object.entries(resolved)) {
    assert(Number.isSafeInteger(value) && (value as number) > 0, `kv option ${name} must be a positive integer, got ${String(value)}`);
  }
  assert(resolved.leaseTtlMinMs <= resolved.leaseTtlMaxMs, 'leaseTtlMinMs must not exceed leaseTtlMaxMs');
  assert(resolved.sessionTtlMinMs <= resolved.sessionTtlMaxMs, 'sessionTtlMinMs must not exceed sessionTtlMaxMs');
  assert(
    resolved.sessionTtlMs >= resolved.sessionTtlMinMs && resolved.sessionTtlMs <= resolved.sessionTtlMaxMs,
    'sessionTtlMs must lie within [sessionTtlMinMs, sessionTtlMaxMs]',
  );
  assert(
    resolved.keyBytesMax + resolved.valueBytesMax + 1024 <= SNAPSHOT_BLOCK_BYTES_MAX,
    `keyBytesMax + valueBytesMax must leave room in a ${SNAPSHOT_BLOCK_BYTES_MAX}-byte snapshot block`,
  );
  assert(
    resolved.sessionResultsMax * (resolved.keyBytesMax + 256) + resolved.sessionResultBytesMax <= SNAPSHOT_BLOCK_BYTES_MAX,
    'sessionResultsMax saved results (each may hold a key) plus sessionResultBytesMax of transaction results must fit in one snapshot block',
  );
  assert(
    resolved.sessionResultBytesPerUserMax >= savedResultBytesBound(resolved),
    `sessionResultBytesPerUserMax must hold at least one saved result (${savedResultBytesBound(resolved)} bytes with keyBytesMax ${resolved.keyBytesMax})`,
  );
  return Object.freeze(resolved);
}

function stripUndefined<T extends object>(value: T): Partial<T> {
  const out: Partial<T> = {};
  for (const [k, v] of Object.entries(value)) if (v !== undefined) (out as Record<string, unknown>)[k] = v;
  return out;
}
