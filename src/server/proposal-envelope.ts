/**
 * What the server puts in a Normal log entry: a small header naming the
 * proposal, then the key-value command bytes (src/kv command codec, which
 * already carries the leader's wall-clock time for session expiry).
 *
 *   u8 envelopeVersion (0xC1) | varint proposerInstance | varint requestId | command bytes
 *
 * `proposerInstance` is a random 48-bit number chosen when the server process
 * starts, `requestId` a counter in that process: together they name one
 * proposal cluster-wide, so that the member that proposed it can answer the
 * waiting client when the entry is applied (and only that member does). A
 * restarted process picks a new instance, so it never mistakes an entry of
 * its previous life for one of its own pending requests.
 */
import { ConcordError } from '../common/errors.js';

export const envelopeVersion = 0xc1;

export interface ProposalHeader {
  readonly proposerInstance: number;
  readonly requestId: number;
}

export class CorruptEnvelopeError extends ConcordError {
  constructor(index: number, reason: string) {
    super('CONCORD_ERR_CORRUPT_ENTRY', `log entry ${index} is not a valid proposal envelope: ${reason}`);
  }
}

function varintBytes(value: number): number {
  let n = 1;
  while (value >= 128) {
    value = Math.floor(value / 128);
    n++;
  }
  return n;
}

function putVarint(buf: Uint8Array, pos: number, value: number): number {
  while (value >= 128) {
    buf[pos++] = (value % 128) | 0x80;
    value = Math.floor(value / 128);
  }
  buf[pos++] = value;
  return pos;
}

export function encodeProposal(header: ProposalHeader, command: Uint8Array): Uint8Array {
  const headBytes = 1 + varintBytes(header.proposerInstance) + varintBytes(header.requestId);
  const out = new Uint8Array(headBytes + command.length);
  out[0] = envelopeVersion;
  let pos = putVarint(out, 1, header.proposerInstance);
  pos = putVarint(out, pos, header.requestId);
  out.set(command, pos);
  return out;
}

export interface DecodedProposal extends ProposalHeader {
  /** The key-value command bytes (a view into the entry data, not a copy). */
  readonly command: Uint8Array;
}

/** Decodes an entry's data; throws CorruptEnvelopeError (a corrupt log is never applied silently). */
export function decodeProposal(index: number, data: Uint8Array): DecodedProposal {
  if (data.length === 0 || data[0] !== envelopeVersion) throw new CorruptEnvelopeError(index, `unknown envelope version ${data[0]}`);
  let pos = 1;
  const readVarint = (): number => {
    let value = 0;
    let scale = 1;
    for (let i = 0; i < 8; i++) {
      if (pos >= data.length) throw new CorruptEnvelopeError(index, 'truncated header');
      const byte = data[pos++]!;
      value += (byte & 0x7f) * scale;
      if ((byte & 0x80) === 0) return value;
      scale *= 128;
    }
    throw new CorruptEnvelopeError(index, 'varint too long');
  };
  const proposerInstance = readVarint();
  const requestId = readVarint();
  return { proposerInstance, requestId, command: data.subarray(pos) };
}
