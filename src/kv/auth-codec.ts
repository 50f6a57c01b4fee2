/**
 * Bytes of auth commands (inside a log entry, after command-codec.ts's header
 * with tag AUTH) and of the auth records (shared with the snapshot's AUTH block).
 *
 *   auth body:  u8 flags (bit 0 session) | [varint sessionId, seq, ackedSeq]
 *               | u8 op | the op's fields
 *   fields:     names as varint length + UTF-8; keys as varint length + bytes;
 *               password = u8 present | [record]; range = key | u8 hasRangeEnd | [rangeEnd]
 *   record:     algorithm | varint paramCount | paramCount x (name, varint value),
 *               names strictly increasing | salt | hash
 *
 * Like the rest of the log format, every command has exactly one encoding
 * (parameters are written in name order and must be read in that order).
 */
import { ByteReader, ByteWriter } from './bytes.js';
import { InvalidCommandError } from './errors.js';
import {
  AuthCommandKind,
  PermissionAccess,
  type AuthCommand,
  type PasswordRecord,
  type Permission,
  type PermissionRange,
} from './auth-types.js';
import type { SessionRef } from './types.js';

const Op: Record<AuthCommandKind, number> = {
  [AuthCommandKind.UserAdd]: 1,
  [AuthCommandKind.UserDelete]: 2,
  [AuthCommandKind.UserChangePassword]: 3,
  [AuthCommandKind.UserGrantRole]: 4,
  [AuthCommandKind.UserRevokeRole]: 5,
  [AuthCommandKind.RoleAdd]: 6,
  [AuthCommandKind.RoleDelete]: 7,
  [AuthCommandKind.RoleGrantPermission]: 8,
  [AuthCommandKind.RoleRevokePermission]: 9,
  [AuthCommandKind.AuthEnable]: 10,
  [AuthCommandKind.AuthDisable]: 11,
};
const kindOfOp: readonly (AuthCommandKind | undefined)[] = (() => {
  const out: (AuthCommandKind | undefined)[] = [];
  for (const [kind, op] of Object.entries(Op)) out[op] = kind as AuthCommandKind;
  return out;
})();

const accessCode: Record<PermissionAccess, number> = {
  [PermissionAccess.Read]: 1,
  [PermissionAccess.Write]: 2,
  [PermissionAccess.ReadWrite]: 3,
};
const accessOfCode: readonly (PermissionAccess | undefined)[] = [undefined, PermissionAccess.Read, PermissionAccess.Write, PermissionAccess.ReadWrite];

const FLAG_SESSION = 1;

export function writePasswordRecord(w: ByteWriter, record: PasswordRecord | null): void {
  if (record === null) {
    w.u8(0);
    return;
  }
  w.u8(1);
  w.string(record.algorithm);
  const names = Object.keys(record.params).sort();
  w.varint(names.length);
  for (const name of names) {
    w.string(name);
    w.varint(record.params[name]!);
  }
  w.bytes(record.salt);
  w.bytes(record.hash);
}

export function readPasswordRecord(r: ByteReader, fail: (reason: string) => never): PasswordRecord | null {
  const present = r.u8();
  if (present === 0) return null;
  if (present !== 1) fail(`bad password presence byte ${present}`);
  const algorithm = r.string();
  const count = r.varint();
  // The bound is checked again by passwordRecordProblem; this one keeps a corrupt count from looping long.
  if (count > 64) fail(`password record with ${count} params`);
  const params: Record<string, number> = {};
  let previous = '';
  for (let i = 0; i < count; i++) {
    const name = r.string();
    if (i > 0 && name <= previous) fail('password params out of order');
    params[name] = r.varint();
    previous = name;
  }
  return { algorithm, params, salt: r.bytesCopy(), hash: r.bytesCopy() };
}

export function writePermissionRange(w: ByteWriter, range: PermissionRange): void {
  w.bytes(range.key);
  if (range.rangeEnd === undefined) w.u8(0);
  else {
    w.u8(1);
    w.bytes(range.rangeEnd);
  }
}

export function readPermissionRange(r: ByteReader, fail: (reason: string) => never): PermissionRange {
  const key = r.bytesCopy();
  const has = r.u8();
  if (has === 0) return { key };
  if (has !== 1) fail(`bad rangeEnd presence byte ${has}`);
  return { key, rangeEnd: r.bytesCopy() };
}

export function writePermission(w: ByteWriter, permission: Permission): void {
  w.u8(accessCode[permission.access]);
  writePermissionRange(w, permission);
}

export function readPermission(r: ByteReader, fail: (reason: string) => never): Permission {
  const code = r.u8();
  const access = accessOfCode[code];
  if (access === undefined) return fail(`unknown permission access ${code}`);
  const range = readPermissionRange(r, fail);
  return range.rangeEnd === undefined ? { access, key: range.key } : { access, key: range.key, rangeEnd: range.rangeEnd };
}

/** The auth body of a log entry (see the file comment). */
export function encodeAuthBody(command: AuthCommand): Uint8Array {
  const op = Op[command.kind];
  if (op === undefined) throw new InvalidCommandError({ reason: `unknown auth command kind ${String(command.kind)}` });
  const w = new ByteWriter(64);
  const s = command.session;
  w.u8(s !== undefined ? FLAG_SESSION : 0);
  if (s !== undefined) {
    for (const n of [s.sessionId, s.seq, s.ackedSeq]) {
      if (!Number.isSafeInteger(n) || n < 0) throw new InvalidCommandError({ reason: `integer field ${n} is not a non-negative safe integer` });
      w.varint(n);
    }
  }
  w.u8(op);
  switch (command.kind) {
    case AuthCommandKind.UserAdd:
    case AuthCommandKind.UserChangePassword:
      w.string(command.name);
      writePasswordRecord(w, command.password);
      break;
    case AuthCommandKind.UserDelete:
    case AuthCommandKind.RoleAdd:
    case AuthCommandKind.RoleDelete:
      w.string(command.name);
      break;
    case AuthCommandKind.UserGrantRole:
    case AuthCommandKind.UserRevokeRole:
      w.string(command.name);
      w.string(command.role);
      break;
    case AuthCommandKind.RoleGrantPermission:
      w.string(command.name);
      writePermission(w, command.permission);
      break;
    case AuthCommandKind.RoleRevokePermission:
      w.string(command.name);
      writePermissionRange(w, command.range);
      break;
    case AuthCommandKind.AuthEnable:
    case AuthCommandKind.AuthDisable:
      break;
  }
  return w.finish();
}

/**
 * Reads the auth body from `bytes[start, bytes.length)`; structural problems
 * throw InvalidCommandError. Returns the command (owning copies of its bytes)
 * and the position after it.
 */
export function decodeAuthBody(bytes: Uint8Array, start: number): { command: AuthCommand; end: number } {
  const fail = (reason: string): never => {
    throw new InvalidCommandError({ reason });
  };
  const r = new ByteReader(bytes, fail, start);
  const flags = r.u8();
  if ((flags & ~FLAG_SESSION) !== 0) fail(`unknown auth flags 0x${flags.toString(16)}`);
  let session: SessionRef | undefined;
  if ((flags & FLAG_SESSION) !== 0) session = { sessionId: r.varint(), seq: r.varint(), ackedSeq: r.varint() };
  const op = r.u8();
  const kind = kindOfOp[op];
  if (kind === undefined) return fail(`unknown auth op ${op}`);
  let command: AuthCommand;
  switch (kind) {
    case AuthCommandKind.UserAdd:
    case AuthCommandKind.UserChangePassword:
      command = { kind, name: r.string(), password: readPasswordRecord(r, fail) };
      break;
    case AuthCommandKind.UserDelete:
    case AuthCommandKind.RoleAdd:
    case AuthCommandKind.RoleDelete:
      command = { kind, name: r.string() };
      break;
    case AuthCommandKind.UserGrantRole:
    case AuthCommandKind.UserRevokeRole:
      command = { kind, name: r.string(), role: r.string() };
      break;
    case AuthCommandKind.RoleGrantPermission:
      command = { kind, name: r.string(), permission: readPermission(r, fail) };
      break;
    case AuthCommandKind.RoleRevokePermission:
      command = { kind, name: r.string(), range: readPermissionRange(r, fail) };
      break;
    case AuthCommandKind.AuthEnable:
    case AuthCommandKind.AuthDisable:
      command = { kind };
      break;
  }
  // Only a present session becomes a property: a decoded command equals the one that was encoded.
  if (session !== undefined) command = { ...command, session };
  return { command, end: r.pos };
}
