/**
 * Bytes of lease commands (inside a log entry, after command-codec.ts's
 * header with tag LEASE), of their results (saved results of exactly-once
 * commands live in snapshots), and of the snapshot's LEASES block.
 *
 *   lease body:  u8 flags (bit 0 session) | [varint sessionId, seq, ackedSeq]
 *                | u8 op | the op's fields
 *     grant (1)      varint id (0: chosen by the state machine), varint ttlMs
 *     revoke (2)     varint id
 *     keepAlive (3)  varint count | count x varint id           (ids not strictly increasing)
 *     keepAlive (5)  varint count | varint first id | (count - 1) x varint (id - previous id, >= 1)
 *                    (ids strictly increasing, as the client library's keep-alive helper sends them:
 *                    a lease id is a log index, 3-4 bytes as a varint, a gap between neighbours 1)
 *     expire (4)     varint leaseCount | ids | varint keyCount | keys (varint length + bytes)
 *   keep-alive result: tag 12, varint count, count x varint ttl (every TTL; older members wrote it),
 *                      or tag 13, varint runs, runs x (varint length >= 1, varint ttl) (what is written:
 *                      the leases of one keep-alive nearly always share a TTL, so a saved result of
 *                      10,000 renewals takes a few bytes rather than 20 KB)
 *   LEASES block:  u32 count | count x (varint id, grantedTtlMs, expiresAtMs), ids increasing
 *
 * Each command and result has exactly one encoding that is written, like the
 * rest of the log format (the older forms are still read).
 */
import { ByteReader, ByteWriter } from './bytes.js';
import { InvalidCommandError } from './errors.js';
import { LEASE_IDS_PER_ENTRY_MAX, LeaseCommandKind, LeaseResultKind, type LeaseCommand, type LeaseResult } from './lease-types.js';
import type { LeaseTable } from './leases.js';
import type { SessionRef } from './types.js';

const Op: Record<LeaseCommandKind, number> = {
  [LeaseCommandKind.LeaseGrant]: 1,
  [LeaseCommandKind.LeaseRevoke]: 2,
  [LeaseCommandKind.LeaseKeepAlive]: 3,
  [LeaseCommandKind.LeaseExpire]: 4,
};
const kindOfOp: readonly (LeaseCommandKind | undefined)[] = [
  undefined,
  LeaseCommandKind.LeaseGrant,
  LeaseCommandKind.LeaseRevoke,
  LeaseCommandKind.LeaseKeepAlive,
  LeaseCommandKind.LeaseExpire,
  LeaseCommandKind.LeaseKeepAlive,
];
/** The keep-alive op whose ids are written as gaps (see above). */
const OP_KEEP_ALIVE_INCREASING = 5;
const FLAG_SESSION = 1;

/** Whether each id is greater than the one before (then they are written as gaps). */
function strictlyIncreasing(ids: readonly number[]): boolean {
  for (let i = 1; i < ids.length; i++) if (!(ids[i]! > ids[i - 1]!)) return false;
  return true;
}

function count(w: ByteWriter, n: number): void {
  if (!Number.isSafeInteger(n) || n < 0) throw new InvalidCommandError({ reason: `integer field ${n} is not a non-negative safe integer` });
  w.varint(n);
}

export function encodeLeaseBody(command: LeaseCommand): Uint8Array {
  const op = Op[command.kind];
  if (op === undefined) throw new InvalidCommandError({ reason: `unknown lease command kind ${String(command.kind)}` });
  const w = new ByteWriter(command.kind === LeaseCommandKind.LeaseKeepAlive ? 8 + command.ids.length * 4 : 32);
  const s = command.kind === LeaseCommandKind.LeaseExpire ? undefined : command.session;
  w.u8(s !== undefined ? FLAG_SESSION : 0);
  if (s !== undefined) for (const n of [s.sessionId, s.seq, s.ackedSeq]) count(w, n);
  const increasing = command.kind === LeaseCommandKind.LeaseKeepAlive && command.ids.length > 1 && strictlyIncreasing(command.ids);
  w.u8(increasing ? OP_KEEP_ALIVE_INCREASING : op);
  switch (command.kind) {
    case LeaseCommandKind.LeaseGrant:
      count(w, command.id);
      count(w, command.ttlMs);
      break;
    case LeaseCommandKind.LeaseRevoke:
      count(w, command.id);
      break;
    case LeaseCommandKind.LeaseKeepAlive: {
      const ids = command.ids;
      count(w, ids.length);
      for (let i = 0; i < ids.length; i++) count(w, increasing && i > 0 ? ids[i]! - ids[i - 1]! : ids[i]!);
      break;
    }
    case LeaseCommandKind.LeaseExpire:
      count(w, command.leases.length);
      for (const id of command.leases) count(w, id);
      count(w, command.keys.length);
      for (const key of command.keys) w.bytes(key);
      break;
  }
  return w.finish();
}

/** Reads a lease body starting at `start`; throws InvalidCommandError. Keys are copied (they must not pin the entry). */
export function decodeLeaseBody(bytes: Uint8Array, start: number): { command: LeaseCommand; end: number } {
  const fail = (reason: string): never => {
    throw new InvalidCommandError({ reason });
  };
  const r = new ByteReader(bytes, fail, start);
  const flags = r.u8();
  if ((flags & ~FLAG_SESSION) !== 0) fail(`unknown lease flags 0x${flags.toString(16)}`);
  let session: SessionRef | undefined;
  if ((flags & FLAG_SESSION) !== 0) session = { sessionId: r.varint(), seq: r.varint(), ackedSeq: r.varint() };
  const op = r.u8();
  const kind = kindOfOp[op];
  if (kind === undefined) return fail(`unknown lease op ${op}`);
  const withSession = <T extends object>(c: T): T => (session === undefined ? c : { ...c, session });
  let command: LeaseCommand;
  switch (kind) {
    case LeaseCommandKind.LeaseGrant:
      command = withSession({ kind, id: r.varint(), ttlMs: r.varint() });
      break;
    case LeaseCommandKind.LeaseRevoke:
      command = withSession({ kind, id: r.varint() });
      break;
    case LeaseCommandKind.LeaseKeepAlive:
      command = withSession({ kind, ids: op === OP_KEEP_ALIVE_INCREASING ? readIncreasingIds(r, fail) : readIds(r, fail) });
      break;
    case LeaseCommandKind.LeaseExpire: {
      if (session !== undefined) fail('an expiry entry carries no session');
      const leases = readIds(r, fail);
      const n = r.varint();
      if (n > r.remaining) fail(`${n} keys in ${r.remaining} bytes`);
      const keys: Uint8Array[] = [];
      for (let i = 0; i < n; i++) keys.push(r.bytesCopy());
      command = { kind, leases, keys };
      break;
    }
  }
  return { command, end: r.pos };
}

function readIds(r: ByteReader, fail: (reason: string) => never): number[] {
  const n = r.varint();
  // Each id takes at least one byte: a corrupt count cannot make us allocate more than the entry holds.
  if (n > r.remaining) fail(`${n} lease ids in ${r.remaining} bytes`);
  const ids: number[] = [];
  for (let i = 0; i < n; i++) ids.push(r.varint());
  return ids;
}

/** Op 5's ids: the first, then the gaps (each >= 1, so that the list is strictly increasing: one encoding per list). */
function readIncreasingIds(r: ByteReader, fail: (reason: string) => never): number[] {
  const n = r.varint();
  if (n < 2) fail(`${n} lease ids in an increasing keep-alive (at least 2)`);
  if (n > r.remaining) fail(`${n} lease ids in ${r.remaining} bytes`);
  const ids: number[] = new Array(n);
  let id = r.varint();
  ids[0] = id;
  for (let i = 1; i < n; i++) {
    const gap = r.varint();
    if (gap === 0) fail('lease ids of an increasing keep-alive repeat');
    id += gap;
    if (id > Number.MAX_SAFE_INTEGER) fail('lease id exceeds 2^53 - 1');
    ids[i] = id;
  }
  return ids;
}

const ResultTag = { Granted: 10, Deleted: 11, KeptAlive: 12, KeptAliveRuns: 13 } as const;

/** Writes a lease result with its tag (result-codec.ts's tags 10-12). */
export function writeLeaseResult(w: ByteWriter, result: LeaseResult): void {
  switch (result.kind) {
    case LeaseResultKind.LeaseGranted:
      w.u8(ResultTag.Granted);
      w.varint(result.id);
      w.varint(result.ttlMs);
      return;
    case LeaseResultKind.LeaseDeleted:
      w.u8(ResultTag.Deleted);
      w.varint(result.revision);
      w.varint(result.leases);
      w.varint(result.keys);
      return;
    case LeaseResultKind.LeaseKeptAlive: {
      // Runs of equal TTLs (one run, typically), each as its length and the TTL.
      const ttls = result.ttls;
      let runs = 0;
      for (let i = 0; i < ttls.length; i++) if (i === 0 || ttls[i] !== ttls[i - 1]) runs++;
      w.u8(ResultTag.KeptAliveRuns);
      w.varint(runs);
      for (let i = 0; i < ttls.length; ) {
        let j = i + 1;
        while (j < ttls.length && ttls[j] === ttls[i]) j++;
        w.varint(j - i);
        w.varint(ttls[i]!);
        i = j;
      }
      return;
    }
  }
}

/** Tag 13's TTLs: runs of (length >= 1, ttl), neighbouring runs of different TTLs (one encoding per list), at most `ttlsMax` in all. */
function readTtlRuns(r: ByteReader, fail: (reason: string) => never, ttlsMax: number): number[] {
  const runs = r.varint();
  if (runs > r.remaining) fail(`${runs} TTL runs in ${r.remaining} bytes`);
  const ttls: number[] = [];
  let previous = -1;
  for (let i = 0; i < runs; i++) {
    const length = r.varint();
    const ttl = r.varint();
    if (length === 0) fail('an empty run of TTLs');
    if (ttl === previous) fail('two neighbouring runs of the same TTL');
    if (ttls.length + length > ttlsMax) fail(`more than ${ttlsMax} TTLs in a keep-alive result`);
    for (let k = 0; k < length; k++) ttls.push(ttl);
    previous = ttl;
  }
  return ttls;
}

/** Reads the lease result of `tag` (already read), or returns null when `tag` is not a lease result's. */
export function readLeaseResult(tag: number, r: ByteReader, fail: (reason: string) => never): LeaseResult | null {
  switch (tag) {
    case ResultTag.Granted:
      return { kind: LeaseResultKind.LeaseGranted, id: r.varint(), ttlMs: r.varint() };
    case ResultTag.Deleted:
      return { kind: LeaseResultKind.LeaseDeleted, revision: r.varint(), leases: r.varint(), keys: r.varint() };
    case ResultTag.KeptAlive:
      return { kind: LeaseResultKind.LeaseKeptAlive, ttls: readIds(r, fail) };
    case ResultTag.KeptAliveRuns:
      return { kind: LeaseResultKind.LeaseKeptAlive, ttls: readTtlRuns(r, fail, LEASE_IDS_PER_ENTRY_MAX) };
    default:
      return null;
  }
}

/** One lease record of a LEASES block. */
export function writeLeaseRecord(w: ByteWriter, lease: { readonly id: number; readonly grantedTtlMs: number; readonly expiresAtMs: number }): void {
  w.varint(lease.id);
  w.varint(lease.grantedTtlMs);
  w.varint(lease.expiresAtMs);
}

/** Reads one LEASES block's records into `leases`; ids must increase across blocks (`lastId`). Returns the last id. */
export function readLeaseRecords(r: ByteReader, leases: LeaseTable, lastId: number, fail: (reason: string) => never): number {
  const n = r.u32();
  if (n === 0) fail('empty LEASES block');
  for (let i = 0; i < n; i++) {
    const id = r.varint();
    const ttl = r.varint();
    const expiresAtMs = r.varint();
    if (id <= lastId) fail('lease ids out of order');
    if (ttl < 1) fail('lease TTL out of range');
    leases.add(id, ttl, expiresAtMs);
    lastId = id;
  }
  return lastId;
}

