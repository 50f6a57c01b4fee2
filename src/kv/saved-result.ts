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
import { binaryStringFromBytes, bytesFromBinaryString, type BinaryString } from './bytes.js';
import { decodeApplyResult, encodeApplyResult, ResultTag } from './result-codec.js';
import { ResultKind, type ApplyResult } from './types.js';

/** One saved result: the result codec's bytes as a binary string. */
export type SavedResult = BinaryString;

const savedOk: SavedResult = String.fromCharCode(ResultTag.Ok);
/** A write result is at most 1 + 3 varints of 8 bytes. */
const scratch = new Uint8Array(32);

/** The compact form of `result`. Writes (the common case) are built without a writer or an intermediate array. */
export function compactResult(result: ApplyResult): SavedResult {
  switch (result.kind) {
    case ResultKind.Ok:
      return savedOk;
    case ResultKind.Write: {
      scratch[0] = ResultTag.Write;
      let pos = writeVarint(scratch, 1, result.version);
      pos = writeVarint(scratch, pos, result.createRevision);
      pos = writeVarint(scratch, pos, result.modRevision);
      return binaryStringFromBytes(scratch, 0, pos);
    }
    default:
      return binaryStringFromBytes(encodeApplyResult(result));
  }
}

/** The result `saved` was made from (an error comes back as the same typed error). */
export function expandResult(saved: SavedResult): ApplyResult {
  return decodeApplyResult(bytesFromBinaryString(saved));
}
