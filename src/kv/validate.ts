/**
 * Checks a command against the limits. The server calls `validateCommand`
 * BEFORE proposing, so an oversize or malformed request is refused without
 * ever reaching the log; the state machine runs the same checks on apply (as
 * error results), so a member with a bug or an old client cannot make replicas
 * store what the limits forbid.
 */
import {
  EmptyKeyError,
  InvalidCommandError,
  KeyTooLargeError,
  ValueTooLargeError,
  type KvError,
} from './errors.js';
import { defaultKvOptions, type KvOptions } from './options.js';
import { txnProblem } from './txn.js';
import { authCommandProblem } from './auth-validate.js';
import { isAuthCommand } from './auth-types.js';
import { KEY_TTL_MS_MAX, LEASE_IDS_PER_ENTRY_MAX, LeaseCommandKind, isLeaseCommand, type LeaseCommand } from './lease-types.js';
import { CommandKind, type Command, type SessionRef, type WriteCommand, type WriteConditions } from './types.js';

type Limits = Pick<KvOptions, 'keyBytesMax' | 'valueBytesMax'>;

/** The problem with `key`, or null when it is acceptable. */
export function keyProblem(key: Uint8Array, limits: Limits): KvError | null {
  if (!(key instanceof Uint8Array)) return new InvalidCommandError({ reason: 'key must be bytes' });
  return keyLengthProblem(key.length, limits);
}

/** The problem with a key of `keyBytes` bytes, or null (the check the apply path runs on decoded entries). */
export function keyLengthProblem(keyBytes: number, limits: Limits): KvError | null {
  if (keyBytes === 0) return new EmptyKeyError();
  if (keyBytes > limits.keyBytesMax) return new KeyTooLargeError({ keyBytes, keyBytesMax: limits.keyBytesMax });
  return null;
}

/** The problem with `value`, or null when it is acceptable. */
export function valueProblem(value: Uint8Array, limits: Limits): KvError | null {
  if (!(value instanceof Uint8Array)) return new InvalidCommandError({ reason: 'value must be bytes' });
  return valueLengthProblem(value.length, limits);
}

/** The problem with a value of `valueBytes` bytes, or null. */
export function valueLengthProblem(valueBytes: number, limits: Limits): KvError | null {
  if (valueBytes > limits.valueBytesMax) return new ValueTooLargeError({ valueBytes, valueBytesMax: limits.valueBytesMax });
  return null;
}

/** Throws EmptyKeyError / KeyTooLargeError. */
export function validateKey(key: Uint8Array, limits: Limits): void {
  const problem = keyProblem(key, limits);
  if (problem) throw problem;
}

/** Throws ValueTooLargeError. */
export function validateValue(value: Uint8Array, limits: Limits): void {
  const problem = valueProblem(value, limits);
  if (problem) throw problem;
}

const isCount = (n: unknown): n is number => typeof n === 'number' && Number.isSafeInteger(n) && n >= 0;
const isId = (n: unknown): n is number => isCount(n) && n >= 1;

/** The problem with a write's session reference, or null (also null when there is none). */
export function sessionProblem(session: SessionRef | undefined): KvError | null {
  if (session === undefined) return null;
  if (typeof session !== 'object' || session === null) return new InvalidCommandError({ reason: 'session must be an object' });
  return sessionFieldsProblem(session.sessionId, session.seq, session.ackedSeq);
}

/** The problem with a session reference's fields, or null. */
export function sessionFieldsProblem(sessionId: unknown, seq: unknown, ackedSeq: unknown): KvError | null {
  if (!isId(sessionId)) return new InvalidCommandError({ reason: 'sessionId must be an integer >= 1' });
  if (!isId(seq)) return new InvalidCommandError({ reason: 'seq must be an integer >= 1' });
  if (!isCount(ackedSeq) || ackedSeq >= seq) {
    return new InvalidCommandError({ reason: 'ackedSeq must be an integer in [0, seq)' });
  }
  return null;
}

function conditionsProblem(c: WriteConditions): KvError | null {
  if (c.expectedVersion !== undefined && !isCount(c.expectedVersion)) {
    return new InvalidCommandError({ reason: 'expectedVersion must be an integer >= 0' });
  }
  if (c.expectedModRevision !== undefined && !isCount(c.expectedModRevision)) {
    return new InvalidCommandError({ reason: 'expectedModRevision must be an integer >= 0' });
  }
  return null;
}

/** The problem with a write's lease and TTL fields (0: absent), or null. */
/**
 * The problem with a write's expiry fields, or null: at most one of a lease, a relative TTL, an
 * absolute expiry time and keepTtl; `keepValue` only on an update, with an empty value.
 */
export function expiryProblem(lease: unknown, keyTtlMs: unknown, expiresAtMs: unknown = 0, keepTtl: unknown = false): KvError | null {
  if (!isCount(lease)) return new InvalidCommandError({ reason: 'lease must be an integer >= 0' });
  if (!isCount(keyTtlMs)) return new InvalidCommandError({ reason: 'ttlMs must be an integer >= 0' });
  if (!isCount(expiresAtMs)) return new InvalidCommandError({ reason: 'expiresAtMs must be an integer >= 0' });
  if (typeof keepTtl !== 'boolean') return new InvalidCommandError({ reason: 'keepTtl must be a boolean' });
  if ((lease !== 0 ? 1 : 0) + (keyTtlMs !== 0 ? 1 : 0) + (expiresAtMs !== 0 ? 1 : 0) + (keepTtl ? 1 : 0) > 1) {
    return new InvalidCommandError({ reason: 'a write takes at most one of a lease, a ttlMs, an expiresAtMs and keepTtl' });
  }
  if (keyTtlMs > KEY_TTL_MS_MAX) return new InvalidCommandError({ reason: `ttlMs must be at most ${KEY_TTL_MS_MAX}` });
  return null;
}

/** The problem with keepValue (an update's "change only the expiry"), or null. */
export function keepValueProblem(kind: string, keepValue: unknown, valueBytes: number): KvError | null {
  if (keepValue === undefined || keepValue === false) return null;
  if (keepValue !== true) return new InvalidCommandError({ reason: 'keepValue must be a boolean' });
  if (kind !== CommandKind.Update) return new InvalidCommandError({ reason: 'only an update keeps the value' });
  return valueBytes === 0 ? null : new InvalidCommandError({ reason: 'an update with keepValue carries an empty value' });
}

/** The problem with a write's key, value, conditions, lease and TTL (not its session), or null. */
export function writeProblem(command: WriteCommand, limits: Limits): KvError | null {
  return (
    keyProblem(command.key, limits) ??
    (command.kind === CommandKind.Delete ? null : valueProblem(command.value, limits)) ??
    conditionsProblem(command) ??
    (command.kind === CommandKind.Delete
      ? null
      : (expiryProblem(command.lease ?? 0, command.ttlMs ?? 0, command.expiresAtMs ?? 0, command.keepTtl ?? false) ??
        keepValueProblem(command.kind, command.kind === CommandKind.Update ? command.keepValue : undefined, command.value.length)))
  );
}

/** The problem with a lease command's fields, or null (the TTL is clamped on apply, not refused). */
export function leaseCommandProblem(command: LeaseCommand, limits: Limits): KvError | null {
  switch (command.kind) {
    case LeaseCommandKind.LeaseGrant:
      if (!isCount(command.id)) return new InvalidCommandError({ reason: 'lease id must be an integer >= 0' });
      if (!isId(command.ttlMs)) return new InvalidCommandError({ reason: 'lease ttlMs must be an integer >= 1' });
      return sessionProblem(command.session);
    case LeaseCommandKind.LeaseRevoke:
      return isId(command.id) ? sessionProblem(command.session) : new InvalidCommandError({ reason: 'lease id must be an integer >= 1' });
    case LeaseCommandKind.LeaseKeepAlive:
      if (!Array.isArray(command.ids) || command.ids.length > LEASE_IDS_PER_ENTRY_MAX || !command.ids.every(isId)) {
        return new InvalidCommandError({ reason: `a keep-alive carries 0..${LEASE_IDS_PER_ENTRY_MAX} lease ids >= 1` });
      }
      return sessionProblem(command.session);
    case LeaseCommandKind.LeaseExpire:
      if (!Array.isArray(command.leases) || command.leases.length > LEASE_IDS_PER_ENTRY_MAX || !command.leases.every(isId)) {
        return new InvalidCommandError({ reason: `an expiry carries 0..${LEASE_IDS_PER_ENTRY_MAX} lease ids >= 1` });
      }
      if (!Array.isArray(command.keys) || command.keys.length > LEASE_IDS_PER_ENTRY_MAX) {
        return new InvalidCommandError({ reason: `an expiry carries 0..${LEASE_IDS_PER_ENTRY_MAX} keys` });
      }
      for (const key of command.keys) {
        const problem = keyProblem(key, limits);
        if (problem !== null) return problem;
      }
      return null;
  }
}

/** The first problem with `command`, or null when it may be proposed/applied. */
export function commandProblem(command: Command, limits: Limits): KvError | null {
  switch (command.kind) {
    case CommandKind.Put:
    case CommandKind.Update:
    case CommandKind.Delete:
      return writeProblem(command, limits) ?? sessionProblem(command.session);
    case CommandKind.OpenSession:
      return isCount(command.ttlMs) ? null : new InvalidCommandError({ reason: 'ttlMs must be an integer >= 0' });
    case CommandKind.CloseSession:
    case CommandKind.KeepAlive:
      return isId(command.sessionId) ? null : new InvalidCommandError({ reason: 'sessionId must be an integer >= 1' });
    case CommandKind.Noop:
      return null;
    case CommandKind.Compact:
      return isId(command.revision) ? null : new InvalidCommandError({ reason: 'compact: revision must be an integer >= 1' });
    case CommandKind.Txn:
      // Bounds beyond key and value sizes (ops, scan limit) are the member's full options when it passes them.
      return txnProblem(command, { ...defaultKvOptions, ...limits });
    default:
      if (isAuthCommand(command)) return authCommandProblem(command, limits.keyBytesMax);
      if (isLeaseCommand(command)) return leaseCommandProblem(command, limits);
      return new InvalidCommandError({ reason: `unknown command kind ${String((command as { kind: unknown }).kind)}` });
  }
}

/** Throws the typed error for the first problem with `command`. */
export function validateCommand(command: Command, limits: Limits): void {
  const problem = commandProblem(command, limits);
  if (problem) throw problem;
}
