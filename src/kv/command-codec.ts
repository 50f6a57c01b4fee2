/**
 * The bytes of one Raft log entry carrying a key-value command.
 *
 *   u8 formatVersion (1) | u8 tag | varint leaderTimeMs | fields of the tag
 *
 * Writes (put=1, update=2, delete=3): u8 flags (bit 0 session, bit 1
 * expectedVersion, bit 2 expectedModRevision), then the present ones in that
 * order (session = sessionId, seq, ackedSeq), then the key and, for put and
 * update, the value, each as varint length + bytes. openSession=4: ttlMs.
 * closeSession=5, keepAlive=6: sessionId. noop=7: nothing.
 *
 * The leader stamps `leaderTimeMs` when it proposes: it is the only clock the
 * state machine knows, so session expiry is the same on every member (thesis §6.3).
 * A hand-written format rather than msgpack: it is smaller, decodes without
 * building intermediate objects, and its encoding of a command is unique.
 */
import { assert } from '../common/errors.js';
import { InvalidCommandError } from './errors.js';
import { ByteReader, copyBytes, varintBytes } from './bytes.js';
import { CommandKind, type Command, type CommandEnvelope, type SessionRef, type WriteCommand } from './types.js';

export const COMMAND_FORMAT_VERSION = 1;

const Tag = {
  Put: 1,
  Update: 2,
  Delete: 3,
  OpenSession: 4,
  CloseSession: 5,
  KeepAlive: 6,
  Noop: 7,
} as const;

const Flag = { Session: 1, ExpectedVersion: 2, ExpectedModRevision: 4 } as const;
const FLAGS_KNOWN = Flag.Session | Flag.ExpectedVersion | Flag.ExpectedModRevision;

const tagOf: Record<Command['kind'], number> = {
  [CommandKind.Put]: Tag.Put,
  [CommandKind.Update]: Tag.Update,
  [CommandKind.Delete]: Tag.Delete,
  [CommandKind.OpenSession]: Tag.OpenSession,
  [CommandKind.CloseSession]: Tag.CloseSession,
  [CommandKind.KeepAlive]: Tag.KeepAlive,
  [CommandKind.Noop]: Tag.Noop,
};

function writeFlags(c: WriteCommand): number {
  return (
    (c.session !== undefined ? Flag.Session : 0) |
    (c.expectedVersion !== undefined ? Flag.ExpectedVersion : 0) |
    (c.expectedModRevision !== undefined ? Flag.ExpectedModRevision : 0)
  );
}

function encodedBytes(command: Command, leaderTimeMs: number): number {
  let n = 2 + varintBytes(leaderTimeMs);
  switch (command.kind) {
    case CommandKind.Put:
    case CommandKind.Update:
    case CommandKind.Delete: {
      n += 1;
      const s = command.session;
      if (s !== undefined) n += varintBytes(s.sessionId) + varintBytes(s.seq) + varintBytes(s.ackedSeq);
      if (command.expectedVersion !== undefined) n += varintBytes(command.expectedVersion);
      if (command.expectedModRevision !== undefined) n += varintBytes(command.expectedModRevision);
      n += varintBytes(command.key.length) + command.key.length;
      if (command.kind !== CommandKind.Delete) n += varintBytes(command.value.length) + command.value.length;
      return n;
    }
    case CommandKind.OpenSession:
      return n + varintBytes(command.ttlMs);
    case CommandKind.CloseSession:
    case CommandKind.KeepAlive:
      return n + varintBytes(command.sessionId);
    case CommandKind.Noop:
      return n;
  }
}

/** Writes `value` as a varint at `pos`; returns the position after it. */
function putVarint(buf: Uint8Array, pos: number, value: number): number {
  if (!Number.isSafeInteger(value) || value < 0) {
    throw new InvalidCommandError({ reason: `integer field ${value} is not a non-negative safe integer` });
  }
  while (value >= 128) {
    buf[pos++] = (value % 128) | 0x80;
    value = Math.floor(value / 128);
  }
  buf[pos++] = value;
  return pos;
}

function putBytes(buf: Uint8Array, pos: number, bytes: Uint8Array): number {
  pos = putVarint(buf, pos, bytes.length);
  buf.set(bytes, pos);
  return pos + bytes.length;
}

/**
 * Encodes a command for the log, stamped with the proposing leader's time.
 * The command should have passed `validateCommand`; integer fields that are
 * not non-negative safe integers throw InvalidCommandError here too.
 */
export function encodeCommand(command: Command, leaderTimeMs: number): Uint8Array {
  if (!Number.isSafeInteger(leaderTimeMs) || leaderTimeMs < 0) {
    throw new InvalidCommandError({ reason: 'leaderTimeMs must be an integer >= 0' });
  }
  if (!(command.kind in tagOf)) throw new InvalidCommandError({ reason: `unknown command kind ${String(command.kind)}` });
  const buf = new Uint8Array(encodedBytes(command, leaderTimeMs));
  buf[0] = COMMAND_FORMAT_VERSION;
  buf[1] = tagOf[command.kind];
  let pos = putVarint(buf, 2, leaderTimeMs);
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
    case CommandKind.Noop:
      break;
  }
  assert(pos === buf.length, 'command size computed wrongly');
  return buf;
}

interface MutableWriteCommand {
  kind: WriteCommand['kind'];
  key: Uint8Array;
  value?: Uint8Array;
  session?: SessionRef;
  expectedVersion?: number;
  expectedModRevision?: number;
}

function fail(reason: string): never {
  throw new InvalidCommandError({ reason });
}

/**
 * Decodes one entry's bytes. Structural problems (unknown version or tag,
 * truncation, unknown flags, trailing bytes) throw InvalidCommandError; range
 * checks of the fields (limits, seq order) are `commandProblem`'s job.
 *
 * Keys and values are views into `data` when `data` is its own whole
 * ArrayBuffer (typically the buffer the leader encoded): log entries are never
 * modified, and such a view pins nothing larger than the entry. Otherwise
 * (`data` is a window on a larger buffer, such as a network frame holding many
 * entries) the entry is copied once first, so that a stored value never keeps
 * a whole frame alive. Either way a put costs at most one allocation.
 */
export function decodeCommand(data: Uint8Array): CommandEnvelope {
  const ownsBuffer = data.byteOffset === 0 && data.byteLength === data.buffer.byteLength;
  const r = new ByteReader(ownsBuffer ? data : copyBytes(data), fail);
  const version = r.u8();
  if (version !== COMMAND_FORMAT_VERSION) fail(`unknown command format version ${version}`);
  const tag = r.u8();
  const leaderTimeMs = r.varint();
  let command: Command;
  switch (tag) {
    case Tag.Put:
    case Tag.Update:
    case Tag.Delete: {
      const flags = r.u8();
      if ((flags & ~FLAGS_KNOWN) !== 0) fail(`unknown flags 0x${flags.toString(16)}`);
      const session =
        flags & Flag.Session ? { sessionId: r.varint(), seq: r.varint(), ackedSeq: r.varint() } : undefined;
      const expectedVersion = flags & Flag.ExpectedVersion ? r.varint() : undefined;
      const expectedModRevision = flags & Flag.ExpectedModRevision ? r.varint() : undefined;
      const key = r.raw(r.varint());
      const write: MutableWriteCommand =
        tag === Tag.Delete
          ? { kind: CommandKind.Delete, key }
          : { kind: tag === Tag.Put ? CommandKind.Put : CommandKind.Update, key, value: r.raw(r.varint()) };
      // Only present fields become properties: a decoded command equals the one that was encoded.
      if (session !== undefined) write.session = session;
      if (expectedVersion !== undefined) write.expectedVersion = expectedVersion;
      if (expectedModRevision !== undefined) write.expectedModRevision = expectedModRevision;
      command = write as unknown as WriteCommand;
      break;
    }
    case Tag.OpenSession:
      command = { kind: CommandKind.OpenSession, ttlMs: r.varint() };
      break;
    case Tag.CloseSession:
      command = { kind: CommandKind.CloseSession, sessionId: r.varint() };
      break;
    case Tag.KeepAlive:
      command = { kind: CommandKind.KeepAlive, sessionId: r.varint() };
      break;
    case Tag.Noop:
      command = { kind: CommandKind.Noop };
      break;
    default:
      return fail(`unknown command tag ${tag}`);
  }
  r.expectEnd();
  return { leaderTimeMs, command };
}
