/**
 * The bytes of one Raft log entry carrying a key-value command.
 *
 *   u8 formatVersion (1) | u8 tag | varint leaderTimeMs | fields of the tag
 *   u8 formatVersion (2) | u8 tag | varint leaderTimeMs
 *     | varint authRevision | user (varint length + UTF-8, empty: none) | fields of the tag
 *
 * Format 2 carries the principal (types.ts EntryPrincipal: the user the
 * command was authorized as and the auth revision it was checked at); it is
 * written only when there is one to carry (a user, or an auth state that has
 * ever changed), so a cluster that never used auth writes the format-1 bytes
 * that members predating it read. A format-1 entry reads as anonymous,
 * checked at auth revision 0.
 *
 * Writes (put=1, update=2, delete=3): u8 flags (bit 0 session, bit 1
 * expectedVersion, bit 2 expectedModRevision, bit 3 lease, bit 4 ttlMs,
 * bit 5 expiresAtMs, bit 6 keepTtl, bit 7 keepValue; bits 3-6 for put and
 * update only, bit 7 for update only), then the present ones in that
 * order (session = sessionId, seq, ackedSeq), then the key and, for put and
 * update, the value, each as varint length + bytes. openSession=4: ttlMs.
 * closeSession=5, keepAlive=6: sessionId. noop=7: nothing. compact=10: revision. auth=8: the
 * users/roles/permissions commands, whose body auth-codec.ts defines.
 * lease=16: grants, revokes, keep-alives and expiries (lease-codec.ts).
 * txn=9: u8 flags (bit 0 session), [sessionId, seq, ackedSeq], then the
 * transaction body txn-codec.ts defines.
 *
 * The leader stamps `leaderTimeMs` when it proposes: it is the only clock the
 * state machine knows, so session expiry is the same on every member (thesis §6.3).
 * A hand-written format rather than msgpack: it is smaller, decodes without
 * building intermediate objects, and its encoding of a command is unique.
 */
import { assert } from '../common/errors.js';
import { InvalidCommandError, KvError } from './errors.js';
import { readVarint as varintValue, varintBytes, varintBytesMax, varintEnd, varintTooLong, varintTruncated } from '../common/varint.js';
import { copyBytes, utf8Decoder } from './bytes.js';
import { CommandKind, type Command, type CommandEnvelope, type EntryPrincipal, type SessionRef, type WriteCommand } from './types.js';
import { decodeAuthBody, encodeAuthBody } from './auth-codec.js';
import { AUTH_NAME_BYTES_MAX, AuthCommandKind, isAuthCommand, type AuthCommand } from './auth-types.js';
import { decodeLeaseBody, encodeLeaseBody } from './lease-codec.js';
import { LeaseCommandKind, isLeaseCommand, type LeaseCommand } from './lease-types.js';
import { ByteReader, ByteWriter } from './bytes.js';
import { readTxnBody, txnBodyBytes, writeTxnBody } from './txn-codec.js';
import type { TxnCommand } from './txn-types.js';
import { COMMAND_FORMAT_VERSION, COMMAND_FORMAT_VERSION_PRINCIPAL, putBytes, putHeader, putVarint, principalBytes, principalUserBytes } from './command-header.js';

export { COMMAND_FORMAT_VERSION, COMMAND_FORMAT_VERSION_PRINCIPAL, principalOf } from './command-header.js';

const Tag = {
  Put: 1,
  Update: 2,
  Delete: 3,
  OpenSession: 4,
  CloseSession: 5,
  KeepAlive: 6,
  Noop: 7,
  Auth: 8,
  Lease: 16,
  Txn: 9,
  Compact: 10,
} as const;

const Flag = { Session: 1, ExpectedVersion: 2, ExpectedModRevision: 4, Lease: 8, KeyTtl: 16, ExpiresAt: 32, KeepTtl: 64, KeepValue: 128 } as const;
const FLAGS_KNOWN = Flag.Session | Flag.ExpectedVersion | Flag.ExpectedModRevision | Flag.Lease | Flag.KeyTtl | Flag.ExpiresAt | Flag.KeepTtl | Flag.KeepValue;
/** The flags a delete may not carry. */
const EXPIRY_FLAGS = Flag.Lease | Flag.KeyTtl | Flag.ExpiresAt | Flag.KeepTtl | Flag.KeepValue;

const tagOf: Record<Command['kind'], number> = {
  [CommandKind.Put]: Tag.Put,
  [CommandKind.Update]: Tag.Update,
  [CommandKind.Delete]: Tag.Delete,
  [CommandKind.OpenSession]: Tag.OpenSession,
  [CommandKind.CloseSession]: Tag.CloseSession,
  [CommandKind.KeepAlive]: Tag.KeepAlive,
  [CommandKind.Noop]: Tag.Noop,
  [CommandKind.Txn]: Tag.Txn,
  [CommandKind.Compact]: Tag.Compact,
  ...(Object.fromEntries(Object.values(AuthCommandKind).map((kind) => [kind, Tag.Auth])) as Record<AuthCommand['kind'], number>),
  ...(Object.fromEntries(Object.values(LeaseCommandKind).map((kind) => [kind, Tag.Lease])) as Record<LeaseCommand['kind'], number>),
};

/** A lease id or key TTL on a put/update; absent (and always absent on a delete) when 0 or undefined. */
function leaseOf(c: WriteCommand): number {
  return c.kind === CommandKind.Delete ? 0 : (c.lease ?? 0);
}
function keyTtlOf(c: WriteCommand): number {
  return c.kind === CommandKind.Delete ? 0 : (c.ttlMs ?? 0);
}
function expiresAtOf(c: WriteCommand): number {
  return c.kind === CommandKind.Delete ? 0 : (c.expiresAtMs ?? 0);
}
function keepFlags(c: WriteCommand): number {
  if (c.kind === CommandKind.Delete) return 0;
  return (c.keepTtl === true ? Flag.KeepTtl : 0) | (c.kind === CommandKind.Update && c.keepValue === true ? Flag.KeepValue : 0);
}

function writeFlags(c: WriteCommand): number {
  return (
    (c.session !== undefined ? Flag.Session : 0) |
    (c.expectedVersion !== undefined ? Flag.ExpectedVersion : 0) |
    (c.expectedModRevision !== undefined ? Flag.ExpectedModRevision : 0) |
    (leaseOf(c) !== 0 ? Flag.Lease : 0) |
    (keyTtlOf(c) !== 0 ? Flag.KeyTtl : 0) |
    (expiresAtOf(c) !== 0 ? Flag.ExpiresAt : 0) |
    keepFlags(c)
  );
}

function encodedBytes(command: Command, leaderTimeMs: number): number {
  let n = 2 + varintBytes(leaderTimeMs);
  switch (command.kind) {
    case CommandKind.Put:
    case CommandKind.Update:
    case CommandKind.Delete: {
      // A key or value that is not bytes would otherwise be encoded as zeros (Uint8Array.set coerces).
      if (!(command.key instanceof Uint8Array)) fail('key must be bytes');
      if (command.kind !== CommandKind.Delete && !(command.value instanceof Uint8Array)) fail('value must be bytes');
      n += 1;
      const s = command.session;
      if (s !== undefined) n += varintBytes(s.sessionId) + varintBytes(s.seq) + varintBytes(s.ackedSeq);
      if (command.expectedVersion !== undefined) n += varintBytes(command.expectedVersion);
      if (command.expectedModRevision !== undefined) n += varintBytes(command.expectedModRevision);
      if (leaseOf(command) !== 0) n += varintBytes(leaseOf(command));
      if (keyTtlOf(command) !== 0) n += varintBytes(keyTtlOf(command));
      if (expiresAtOf(command) !== 0) n += varintBytes(expiresAtOf(command));
      n += varintBytes(command.key.length) + command.key.length;
      if (command.kind !== CommandKind.Delete) n += varintBytes(command.value.length) + command.value.length;
      return n;
    }
    case CommandKind.OpenSession:
      return n + varintBytes(command.ttlMs);
    case CommandKind.CloseSession:
    case CommandKind.KeepAlive:
      return n + varintBytes(command.sessionId);
    case CommandKind.Compact:
      return n + varintBytes(command.revision);
    case CommandKind.Noop:
      return n;
    default:
      // Auth, lease and txn commands are encoded by encodeBodyCommand / encodeTxnCommand.
      return assert(false, `no size for ${command.kind}`) as never;
  }
}

/** An auth or lease command: the common header, then auth-codec.ts's or lease-codec.ts's body. Rare, so it may allocate freely. */
function encodeBodyCommand(
  command: AuthCommand | LeaseCommand,
  leaderTimeMs: number,
  headroomBytes: number,
  user: Uint8Array | null,
  authRevision: number,
): Uint8Array {
  const lease = isLeaseCommand(command);
  const body = lease ? encodeLeaseBody(command) : encodeAuthBody(command as AuthCommand);
  const head = 2 + varintBytes(leaderTimeMs) + (user === null ? 0 : principalBytes(user, authRevision));
  const out = new Uint8Array(headroomBytes + head + body.length);
  const buf = headroomBytes === 0 ? out : out.subarray(headroomBytes);
  const pos = putHeader(buf, lease ? Tag.Lease : Tag.Auth, leaderTimeMs, user, authRevision);
  assert(pos === head, 'auth command header size computed wrongly');
  buf.set(body, pos);
  return out;
}

/** A transaction: the common header, flags and session, then txn-codec.ts's body. */
function encodeTxnCommand(command: TxnCommand, leaderTimeMs: number, headroomBytes: number, user: Uint8Array | null, authRevision: number): Uint8Array {
  const s = command.session;
  let w: ByteWriter;
  try {
    // One buffer of the exact size (it is the proposal: nothing else may share or pin it).
    let size = headroomBytes + 3 + varintBytes(leaderTimeMs) + txnBodyBytes(command);
    if (user !== null) size += principalBytes(user, authRevision);
    if (s !== undefined) size += varintBytes(s.sessionId) + varintBytes(s.seq) + varintBytes(s.ackedSeq);
    // varint() wants 8 bytes of room even for a short one: the slack keeps the writer from growing (and copying).
    w = new ByteWriter(size + 8);
    w.pos = headroomBytes;
    w.u8(user === null ? COMMAND_FORMAT_VERSION : COMMAND_FORMAT_VERSION_PRINCIPAL);
    w.u8(Tag.Txn);
    w.varint(leaderTimeMs);
    if (user !== null) {
      w.varint(authRevision);
      w.bytes(user);
    }
    w.u8(s !== undefined ? Flag.Session : 0);
    if (s !== undefined) {
      for (const n of [s.sessionId, s.seq, s.ackedSeq]) {
        if (!Number.isSafeInteger(n) || n < 0) throw new TypeError(`integer field ${n} is not a non-negative safe integer`);
        w.varint(n);
      }
    }
    writeTxnBody(w, command);
    assert(w.pos === size, 'transaction size computed wrongly');
  } catch (err) {
    if (err instanceof KvError) throw err;
    // A malformed body (validateCommand would have refused it): a typed error, never a TypeError.
    throw new InvalidCommandError({ reason: `unencodable transaction: ${(err as Error).message}` });
  }
  return w.finish();
}

/**
 * Encodes a command for the log, stamped with the proposing leader's time.
 * The command should have passed `validateCommand`; integer fields that are
 * not non-negative safe integers throw InvalidCommandError here too.
 * `headroomBytes` zero bytes precede the command in the result, for a caller
 * that wraps it in a header of its own (one allocation per proposal instead
 * of two plus a copy). `principal`: who the command was authorized as (see
 * EntryPrincipal); absent or anonymous at revision 0, the entry is format 1.
 */
export function encodeCommand(command: Command, leaderTimeMs: number, headroomBytes = 0, principal?: EntryPrincipal): Uint8Array {
  if (!Number.isSafeInteger(leaderTimeMs) || leaderTimeMs < 0) {
    throw new InvalidCommandError({ reason: 'leaderTimeMs must be an integer >= 0' });
  }
  if (!(command.kind in tagOf)) throw new InvalidCommandError({ reason: `unknown command kind ${String(command.kind)}` });
  const user = principalUserBytes(principal);
  const authRevision = principal?.authRevision ?? 0;
  if (isAuthCommand(command) || isLeaseCommand(command)) return encodeBodyCommand(command, leaderTimeMs, headroomBytes, user, authRevision);
  if (command.kind === CommandKind.Txn) return encodeTxnCommand(command, leaderTimeMs, headroomBytes, user, authRevision);
  const size = encodedBytes(command, leaderTimeMs) + (user === null ? 0 : principalBytes(user, authRevision));
  const out = new Uint8Array(headroomBytes + size);
  const buf = headroomBytes === 0 ? out : out.subarray(headroomBytes);
  let pos = putHeader(buf, tagOf[command.kind], leaderTimeMs, user, authRevision);
  switch (command.kind) {
    case CommandKind.Put:
    case CommandKind.Update:
    case CommandKind.Delete: {
      buf[pos++] = writeFlags(command);
      const s = command.session;
      if (s !== undefined) {
        pos = putVarint(buf, pos, s.sessionId);
        pos = putVarint(buf, pos, s.seq);
        pos = putVarint(buf, pos, s.ackedSeq);
      }
      if (command.expectedVersion !== undefined) pos = putVarint(buf, pos, command.expectedVersion);
      if (command.expectedModRevision !== undefined) pos = putVarint(buf, pos, command.expectedModRevision);
      if (leaseOf(command) !== 0) pos = putVarint(buf, pos, leaseOf(command));
      if (keyTtlOf(command) !== 0) pos = putVarint(buf, pos, keyTtlOf(command));
      if (expiresAtOf(command) !== 0) pos = putVarint(buf, pos, expiresAtOf(command));
      pos = putBytes(buf, pos, command.key);
      if (command.kind !== CommandKind.Delete) pos = putBytes(buf, pos, command.value);
      break;
    }
    case CommandKind.OpenSession:
      pos = putVarint(buf, pos, command.ttlMs);
      break;
    case CommandKind.CloseSession:
    case CommandKind.KeepAlive:
      pos = putVarint(buf, pos, command.sessionId);
      break;
    case CommandKind.Compact:
      pos = putVarint(buf, pos, command.revision);
      break;
    case CommandKind.Noop:
      break;
    default:
      assert(false, `encodeCommand cannot encode ${(command as Command).kind} inline`);
  }
  assert(pos === buf.length, 'command size computed wrongly');
  return out;
}

interface MutableWriteCommand {
  kind: WriteCommand['kind'];
  key: Uint8Array;
  value?: Uint8Array;
  session?: SessionRef;
  expectedVersion?: number;
  expectedModRevision?: number;
  lease?: number;
  ttlMs?: number;
  expiresAtMs?: number;
  keepTtl?: boolean;
  keepValue?: boolean;
}

function fail(reason: string): never {
  throw new InvalidCommandError({ reason });
}

const kindOfTag: readonly (Command['kind'] | undefined)[] = [
  undefined,
  CommandKind.Put,
  CommandKind.Update,
  CommandKind.Delete,
  CommandKind.OpenSession,
  CommandKind.CloseSession,
  CommandKind.KeepAlive,
  CommandKind.Noop,
  // The auth op inside the body names the real kind (readCommand sets it).
  AuthCommandKind.AuthEnable,
  CommandKind.Txn,
  CommandKind.Compact,
  undefined,
  undefined,
  undefined,
  undefined,
  undefined,
  // The lease op inside the body names the real kind (readCommand sets it).
  LeaseCommandKind.LeaseGrant,
];

/**
 * The fields of one entry as `readCommand` finds them: numbers and offsets,
 * no objects. The state machine's apply path reads entries into one reused
 * instance, so decoding a put allocates nothing; `decodeCommand` builds the
 * public Command from it.
 */
export class CommandFields {
  /** The bytes read; the offsets below index into them. */
  bytes: Uint8Array = new Uint8Array(0);
  kind: Command['kind'] = CommandKind.Noop;
  leaderTimeMs = 0;
  /** Writes: which optional fields are present. */
  hasSession = false;
  hasExpectedVersion = false;
  hasExpectedModRevision = false;
  sessionId = 0;
  seq = 0;
  ackedSeq = 0;
  expectedVersion = 0;
  expectedModRevision = 0;
  /** Put and update: the lease to attach (0: none) and the key's own TTL (0: none). */
  lease = 0;
  keyTtlMs = 0;
  /** Put and update: the key's absolute expiry (0: none), and whether it keeps its expiry or (update) its value. */
  keyExpiresAtMs = 0;
  keepTtl = false;
  keepValue = false;
  keyStart = 0;
  keyEnd = 0;
  /** Put and update only. */
  valueStart = 0;
  valueEnd = 0;
  /** openSession. (closeSession and keepAlive use `sessionId`.) */
  ttlMs = 0;
  /** compact: the revision to compact up to. */
  compactRevision = 0;
  /** Auth commands: the decoded command (they are rare; the apply path allocates for them). */
  auth: AuthCommand | null = null;
  /** Lease commands, likewise decoded whole. */
  leaseCommand: LeaseCommand | null = null;
  /** Transactions: the decoded command (keys and values copied out of the entry). */
  txn: TxnCommand | null = null;
  /** The principal (format 2); a format-1 entry reads as null at revision 0. */
  user: string | null = null;
  authRevision = 0;
  /** Whether the entry carried a principal (format 2). */
  hasPrincipal = false;
  /** Read cursor. */
  pos = 0;
}

function readByte(f: CommandFields): number {
  if (f.pos >= f.bytes.length) fail('truncated (expected a byte)');
  return f.bytes[f.pos++]!;
}

/** A varint of at most 8 bytes and at most 2^53 - 1 (the format ByteWriter writes). */
function readVarint(f: CommandFields): number {
  const end = varintEnd(f.bytes, f.pos, varintBytesMax);
  if (end === varintTruncated) fail('truncated varint');
  if (end === varintTooLong) fail('varint longer than 8 bytes');
  const value = varintValue(f.bytes, f.pos);
  f.pos = end;
  if (value > Number.MAX_SAFE_INTEGER) fail('integer exceeds 2^53 - 1');
  return value;
}

/** Skips a length-prefixed byte string; returns where it starts (it ends at f.pos). */
function skipBytes(f: CommandFields): number {
  const length = readVarint(f);
  const left = f.bytes.length - f.pos;
  if (length > left) fail(`truncated (expected ${length} bytes, ${left} left)`);
  const start = f.pos;
  f.pos += length;
  return start;
}

/**
 * Reads one entry's bytes into `f` (all of it: fields left over from an
 * earlier entry are reset or irrelevant to the new kind). Structural
 * problems (unknown version or tag, truncation, unknown flags, trailing
 * bytes) throw InvalidCommandError; range checks of the fields (limits, seq
 * order) are for the caller. Keeps no reference to `data` beyond `f.bytes`.
 */
export function readCommand(data: Uint8Array, f: CommandFields): void {
  f.bytes = data;
  f.pos = 0;
  f.auth = null;
  f.leaseCommand = null;
  f.txn = null;
  const version = readByte(f);
  if (version !== COMMAND_FORMAT_VERSION && version !== COMMAND_FORMAT_VERSION_PRINCIPAL) fail(`unknown command format version ${version}`);
  const tag = readByte(f);
  f.leaderTimeMs = readVarint(f);
  f.hasPrincipal = version === COMMAND_FORMAT_VERSION_PRINCIPAL;
  if (f.hasPrincipal) {
    f.authRevision = readVarint(f);
    const start = skipBytes(f);
    if (f.pos - start > AUTH_NAME_BYTES_MAX) fail(`user name over ${AUTH_NAME_BYTES_MAX} bytes`);
    if (f.pos === start) f.user = null;
    else {
      try {
        f.user = utf8Decoder.decode(data.subarray(start, f.pos));
      } catch {
        fail('user name is not UTF-8');
      }
    }
  } else {
    f.user = null;
    f.authRevision = 0;
  }
  const kind = kindOfTag[tag];
  if (kind === undefined) fail(`unknown command tag ${tag}`);
  f.kind = kind;
  switch (tag) {
    case Tag.Put:
    case Tag.Update:
    case Tag.Delete: {
      const flags = readByte(f);
      if ((flags & ~FLAGS_KNOWN) !== 0) fail(`unknown flags 0x${flags.toString(16)}`);
      f.hasSession = (flags & Flag.Session) !== 0;
      if (f.hasSession) {
        f.sessionId = readVarint(f);
        f.seq = readVarint(f);
        f.ackedSeq = readVarint(f);
      }
      f.hasExpectedVersion = (flags & Flag.ExpectedVersion) !== 0;
      if (f.hasExpectedVersion) f.expectedVersion = readVarint(f);
      f.hasExpectedModRevision = (flags & Flag.ExpectedModRevision) !== 0;
      if (f.hasExpectedModRevision) f.expectedModRevision = readVarint(f);
      if ((flags & EXPIRY_FLAGS) !== 0 && tag === Tag.Delete) fail('a delete carries no lease or TTL');
      if ((flags & Flag.KeepValue) !== 0 && tag !== Tag.Update) fail('only an update keeps the value');
      f.lease = (flags & Flag.Lease) !== 0 ? readVarint(f) : 0;
      f.keyTtlMs = (flags & Flag.KeyTtl) !== 0 ? readVarint(f) : 0;
      f.keyExpiresAtMs = (flags & Flag.ExpiresAt) !== 0 ? readVarint(f) : 0;
      f.keepTtl = (flags & Flag.KeepTtl) !== 0;
      f.keepValue = (flags & Flag.KeepValue) !== 0;
      if ((flags & Flag.ExpiresAt) !== 0 && f.keyExpiresAtMs === 0) fail('expiresAt flag with time 0');
      // Present means non-zero: each command has one encoding.
      if ((flags & Flag.Lease) !== 0 && f.lease === 0) fail('lease flag with lease 0');
      if ((flags & Flag.KeyTtl) !== 0 && f.keyTtlMs === 0) fail('ttl flag with ttl 0');
      f.keyStart = skipBytes(f);
      f.keyEnd = f.pos;
      if (tag !== Tag.Delete) {
        f.valueStart = skipBytes(f);
        f.valueEnd = f.pos;
      } else {
        f.valueStart = f.valueEnd = f.pos;
      }
      break;
    }
    case Tag.OpenSession:
      f.ttlMs = readVarint(f);
      break;
    case Tag.CloseSession:
    case Tag.KeepAlive:
      f.sessionId = readVarint(f);
      break;
    case Tag.Compact:
      f.compactRevision = readVarint(f);
      break;
    case Tag.Txn: {
      const flags = readByte(f);
      if ((flags & ~Flag.Session) !== 0) fail(`unknown flags 0x${flags.toString(16)}`);
      f.hasSession = (flags & Flag.Session) !== 0;
      let session: TxnCommand['session'];
      if (f.hasSession) {
        f.sessionId = readVarint(f);
        f.seq = readVarint(f);
        f.ackedSeq = readVarint(f);
        session = { sessionId: f.sessionId, seq: f.seq, ackedSeq: f.ackedSeq };
      }
      const r = new ByteReader(data, fail, f.pos);
      const body = readTxnBody(r, fail);
      f.txn =
        session === undefined
          ? { kind: CommandKind.Txn, compare: body.compare, success: body.success, failure: body.failure }
          : { kind: CommandKind.Txn, compare: body.compare, success: body.success, failure: body.failure, session };
      f.pos = r.pos;
      break;
    }
    case Tag.Auth: {
      const { command, end } = decodeAuthBody(data, f.pos);
      f.auth = command;
      f.kind = command.kind;
      f.pos = end;
      break;
    }
    case Tag.Lease: {
      const { command, end } = decodeLeaseBody(data, f.pos);
      f.leaseCommand = command;
      f.kind = command.kind;
      f.pos = end;
      break;
    }
  }
  if (f.pos !== data.length) fail(`${data.length - f.pos} unexpected trailing bytes`);
}

/**
 * Decodes one entry's bytes into a Command. Structural problems throw
 * InvalidCommandError (see readCommand); range checks of the fields (limits,
 * seq order) are `commandProblem`'s job.
 *
 * Keys and values are views into `data` when `data` is its own whole
 * ArrayBuffer (typically the buffer the leader encoded): log entries are never
 * modified, and such a view pins nothing larger than the entry. Otherwise
 * (`data` is a window on a larger buffer, such as a network frame holding many
 * entries) the entry is copied once first, so that a kept key or value never
 * keeps a whole frame alive. (The state machine's own apply path does not use
 * this: it reads entries with readCommand and decides per value, see
 * state-machine.ts.)
 */
export function decodeCommand(data: Uint8Array): CommandEnvelope {
  const ownsBuffer = data.byteOffset === 0 && data.byteLength === data.buffer.byteLength;
  const bytes = ownsBuffer ? data : copyBytes(data);
  const f = new CommandFields();
  readCommand(bytes, f);
  let command: Command;
  switch (f.kind) {
    case CommandKind.Put:
    case CommandKind.Update:
    case CommandKind.Delete: {
      const key = bytes.subarray(f.keyStart, f.keyEnd);
      const write: MutableWriteCommand =
        f.kind === CommandKind.Delete ? { kind: f.kind, key } : { kind: f.kind, key, value: bytes.subarray(f.valueStart, f.valueEnd) };
      // Only present fields become properties: a decoded command equals the one that was encoded.
      if (f.hasSession) write.session = { sessionId: f.sessionId, seq: f.seq, ackedSeq: f.ackedSeq };
      if (f.hasExpectedVersion) write.expectedVersion = f.expectedVersion;
      if (f.hasExpectedModRevision) write.expectedModRevision = f.expectedModRevision;
      if (f.lease !== 0) write.lease = f.lease;
      if (f.keyTtlMs !== 0) write.ttlMs = f.keyTtlMs;
      if (f.keyExpiresAtMs !== 0) write.expiresAtMs = f.keyExpiresAtMs;
      if (f.keepTtl) write.keepTtl = true;
      if (f.keepValue) write.keepValue = true;
      command = write as unknown as WriteCommand;
      break;
    }
    case CommandKind.OpenSession:
      command = { kind: CommandKind.OpenSession, ttlMs: f.ttlMs };
      break;
    case CommandKind.CloseSession:
      command = { kind: CommandKind.CloseSession, sessionId: f.sessionId };
      break;
    case CommandKind.KeepAlive:
      command = { kind: CommandKind.KeepAlive, sessionId: f.sessionId };
      break;
    case CommandKind.Noop:
      command = { kind: CommandKind.Noop };
      break;
    case CommandKind.Compact:
      command = { kind: CommandKind.Compact, revision: f.compactRevision };
      break;
    case CommandKind.Txn:
      command = f.txn!;
      break;
    default:
      command = f.leaseCommand ?? f.auth!;
  }
  return f.hasPrincipal
    ? { leaderTimeMs: f.leaderTimeMs, command, principal: { user: f.user, authRevision: f.authRevision } }
    : { leaderTimeMs: f.leaderTimeMs, command };
}
