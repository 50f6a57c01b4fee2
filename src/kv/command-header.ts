/**
 * The header every command entry starts with (format version, tag, the
 * leader's time and, in format 2, the principal: see command-codec.ts for the
 * whole layout), and the checked varint and length-prefixed writers the
 * command encoders share.
 */
import { InvalidCommandError } from './errors.js';
import { varintBytes, writeVarint } from '../common/varint.js';
import { utf8Encoder } from './bytes.js';
import { anonymousPrincipal, type CommandEnvelope, type EntryPrincipal } from './types.js';
import { AUTH_NAME_BYTES_MAX } from './auth-types.js';

/** The format without a principal: written whenever there is no principal to carry. */
export const COMMAND_FORMAT_VERSION = 1;
/** The format with a principal (see the header comment). */
export const COMMAND_FORMAT_VERSION_PRINCIPAL = 2;
const noUser = new Uint8Array(0);

/** The principal's bytes, or null when the entry needs none (format 1). */
export function principalUserBytes(principal: EntryPrincipal | undefined): Uint8Array | null {
  if (principal === undefined || (principal.user === null && principal.authRevision === 0)) return null;
  if (!Number.isSafeInteger(principal.authRevision) || principal.authRevision < 0) {
    throw new InvalidCommandError({ reason: 'authRevision must be an integer >= 0' });
  }
  const user = principal.user === null ? noUser : utf8Encoder.encode(principal.user);
  if (user.length > AUTH_NAME_BYTES_MAX) throw new InvalidCommandError({ reason: `user name over ${AUTH_NAME_BYTES_MAX} bytes` });
  return user;
}

/** Bytes of the format-2 principal fields. */
export function principalBytes(user: Uint8Array, authRevision: number): number {
  return varintBytes(authRevision) + varintBytes(user.length) + user.length;
}

/** Writes the header (version, tag, time and, for format 2, the principal); returns the position after it. */
export function putHeader(buf: Uint8Array, tag: number, leaderTimeMs: number, user: Uint8Array | null, authRevision: number): number {
  buf[0] = user === null ? COMMAND_FORMAT_VERSION : COMMAND_FORMAT_VERSION_PRINCIPAL;
  buf[1] = tag;
  let pos = putVarint(buf, 2, leaderTimeMs);
  if (user !== null) {
    pos = putVarint(buf, pos, authRevision);
    pos = putBytes(buf, pos, user);
  }
  return pos;
}

/** Writes `value` as a varint at `pos`; returns the position after it. */
export function putVarint(buf: Uint8Array, pos: number, value: number): number {
  if (!Number.isSafeInteger(value) || value < 0) {
    throw new InvalidCommandError({ reason: `integer field ${value} is not a non-negative safe integer` });
  }
  return writeVarint(buf, pos, value);
}

export function putBytes(buf: Uint8Array, pos: number, bytes: Uint8Array): number {
  pos = putVarint(buf, pos, bytes.length);
  buf.set(bytes, pos);
  return pos + bytes.length;
}

/** The principal of an envelope (anonymous at revision 0 for format 1). */
export function principalOf(envelope: CommandEnvelope): EntryPrincipal {
  return envelope.principal ?? anonymousPrincipal;
}
