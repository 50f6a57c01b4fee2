/**
 * The compact form in which a session keeps the result of an exactly-once
 * command until the client acknowledges it (issue 12 §3): the result codec's
 * bytes (result-codec.ts: a tag, then only the fields a retry is answered
 * with, an error as its code and details) held as a binary string (bytes.ts).
 *
 * Why not the ApplyResult itself: an error result holds a KvError, whose
 * captured stack and message cost hundreds of bytes to kilobytes each, and a
 * session may keep thousands of them. A binary string is one small flat heap
 * object, its length is exactly the bytes a snapshot stores, so the byte
 * accounting of session-quotas.ts is deterministic (the same on every member),
 * and a replay rebuilds the same typed error (`kvErrorFromWire`). Expanding
 * only happens when a client retries, which is rare.
 */
import { writeVarint } from '../common/varint.js';
import { ByteWriter, binaryStringFromBytes, bytesFromBinaryString, type BinaryString } from './bytes.js';
import { decodeApplyResult, ResultTag, writeResult } from './result-codec.js';
import { ResultKind, type ApplyResult } from './types.js';

/** One saved result: the result codec's bytes as a binary string. */
export type SavedResult = BinaryString;

const fromCharCode = String.fromCharCode;
const savedOk: SavedResult = fromCharCode(ResultTag.Ok);
const writeTag: SavedResult = fromCharCode(ResultTag.Write);
/** One-byte varints as strings, so that the common small numbers cost a table read. */
const oneByteVarints: readonly string[] = Array.from({ length: 0x80 }, (_, n) => fromCharCode(n));
const scratch = new Uint8Array(8);
/**
 * Where the other results (transactions, leases, errors, deletes) are encoded
 * before they become a string: one writer for the process rather than a new
 * buffer (an ArrayBuffer and a DataView) per saved result. Applying is
 * synchronous and the string is a copy, so nothing written here outlives the call.
 */
let resultWriter = new ByteWriter(256);
/** A scratch writer grown past this (a huge result) is not kept for the next one. */
const RESULT_SCRATCH_RETAINED_BYTES_MAX = 64 * 1024;

/** `n`'s LEB128 varint (common/varint.ts) as a binary string; up to 3 bytes without a buffer. */
function varintChars(n: number): string {
  if (n < 0x80) return oneByteVarints[n]!;
  if (n < 0x4000) return fromCharCode((n & 0x7f) | 0x80, n >>> 7);
  if (n < 0x200000) return fromCharCode((n & 0x7f) | 0x80, ((n >>> 7) & 0x7f) | 0x80, n >>> 14);
  return binaryStringFromBytes(scratch, 0, writeVarint(scratch, 0, n));
}

/**
 * The compact form of `result`. A write (the common case, once per write in
 * a session) is built from cached and short strings, whose concatenation V8
 * keeps flat below 13 characters: no writer, no intermediate array.
 */
export function compactResult(result: ApplyResult): SavedResult {
  switch (result.kind) {
    case ResultKind.Ok:
      return savedOk;
    case ResultKind.Write:
      return writeTag + varintChars(result.version) + varintChars(result.createRevision) + varintChars(result.modRevision);
    default: {
      const w = resultWriter;
      w.reset();
      writeResult(w, result);
      const saved = binaryStringFromBytes(w.written(0, w.pos));
      if (w.capacity > RESULT_SCRATCH_RETAINED_BYTES_MAX) resultWriter = new ByteWriter(256);
      return saved;
    }
  }
}

/** The result `saved` was made from (an error comes back as the same typed error). */
export function expandResult(saved: SavedResult): ApplyResult {
  return decodeApplyResult(bytesFromBinaryString(saved));
}
