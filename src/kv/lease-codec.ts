/**
 * Bytes of lease commands (inside a log entry, after command-codec.ts's
 * header with tag LEASE), of their results (saved results of exactly-once
 * commands live in snapshots), and of the snapshot's LEASES block.
 *
 *   lease body:  u8 flags (bit 0 session) | [varint sessionId, seq, ackedSeq]
 *                | u8 op | the op's fields
 *     grant (1)      varint id (0: chosen by the state machine), varint ttlMs
 *     revoke (2)     varint id
 *     keepAlive (3)  varint count | count x varint id
 *     expire (4)     varint leaseCount | ids | varint keyCount | keys (varint length + bytes)
 *   LEASES block:  u32 count | count x (varint id, grantedTtlMs, expiresAtMs), ids increasing
 *
 * Each command has exactly one encoding, like the rest of the log format.
 */
import { ByteReader, ByteWriter } from './bytes.js';
import { InvalidCommandError } from './errors.js';
import { LeaseCommandKind, LeaseResultKind, type LeaseCommand, type LeaseResult } from './lease-types.js';
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
];
const FLAG_SESSION = 1;

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
  w.u8(op);
  switch (command.kind) {
    case LeaseCommandKind.LeaseGrant:
      count(w, command.id);
      count(w, command.ttlMs);
      break;
    case LeaseCommandKind.LeaseRevoke:
      count(w, command.id);
      break;
    case LeaseCommandKind.LeaseKeepAlive:
      count(w, command.ids.length);
      for (const id of command.ids) count(w, id);
      break;
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
      command = withSession({ kind, ids: readIds(r, fail) });
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

const ResultTag = { Granted: 10, Deleted: 11, KeptAlive: 12 } as const;

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
    case LeaseResultKind.LeaseKeptAlive:
      w.u8(ResultTag.KeptAlive);
      w.varint(result.ttls.length);
      for (const ttl of result.ttls) w.varint(ttl);
      return;
  }
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

