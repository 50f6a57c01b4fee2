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
import { ConcordError, ConcordErrorCode } from '../common/errors.js';
import { readVarint, varintBytes, varintEnd, varintTooLong, varintTruncated, writeVarint } from '../common/varint.js';

export const envelopeVersion = 0xc1;

export interface ProposalHeader {
  readonly proposerInstance: number;
  readonly requestId: number;
}

export class CorruptEnvelopeError extends ConcordError {
  constructor(index: number, reason: string) {
    super(ConcordErrorCode.CorruptEntry, `log entry ${index} is not a valid proposal envelope: ${reason}`);
  }
}

export function encodeProposal(header: ProposalHeader, command: Uint8Array): Uint8Array {
  const out = new Uint8Array(proposalHeaderBytes(header) + command.length);
  out.set(command, writeProposalHeader(out, header));
  return out;
}

/** Bytes of the envelope header before the command. */
export function proposalHeaderBytes(header: ProposalHeader): number {
  return 1 + varintBytes(header.proposerInstance) + varintBytes(header.requestId);
}

/**
 * Writes the header at the start of `out` (whose command already follows at
 * proposalHeaderBytes: see encodeCommand's headroom); returns where it ends.
 */
export function writeProposalHeader(out: Uint8Array, header: ProposalHeader): number {
  out[0] = envelopeVersion;
  const pos = writeVarint(out, 1, header.proposerInstance);
  return writeVarint(out, pos, header.requestId);
}

export interface DecodedProposal extends ProposalHeader {
  /**
   * The key-value command bytes: a view into the entry data, not a copy, and
   * always a plain Uint8Array even when the data is a Node Buffer (see
   * bytes.ts: the key-value layer relies on `slice()` copying).
   */
  readonly command: Uint8Array;
}

/** Decodes an entry's data; throws CorruptEnvelopeError (a corrupt log is never applied silently). */
export function decodeProposal(index: number, data: Uint8Array): DecodedProposal {
  if (data.length === 0 || data[0] !== envelopeVersion) throw new CorruptEnvelopeError(index, `unknown envelope version ${data[0]}`);
  const instanceEnd = checkedVarintEnd(index, data, 1);
  const requestEnd = checkedVarintEnd(index, data, instanceEnd);
  return {
    proposerInstance: readVarint(data, 1),
    requestId: readVarint(data, instanceEnd),
    command: new Uint8Array(data.buffer, data.byteOffset + requestEnd, data.length - requestEnd),
  };
}

/** Where the varint at `pos` ends; throws on a truncated or overlong one. (Called per applied entry: no closures.) */
function checkedVarintEnd(index: number, data: Uint8Array, pos: number): number {
  const end = varintEnd(data, pos, 8);
  if (end === varintTruncated) throw new CorruptEnvelopeError(index, 'truncated header');
  if (end === varintTooLong) throw new CorruptEnvelopeError(index, 'varint too long');
  return end;
}
