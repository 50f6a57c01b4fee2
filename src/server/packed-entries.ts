/**
 * The log entries of an AppendEntries message, packed into one byte string
 * for the wire (see peer-protocol.ts).
 *
 * Why not a MessagePack array of {index, term, type, data} maps: a batch of
 * 64 entries then cost the leader ~30 µs to encode per follower and each
 * follower ~25 µs to decode and validate (field names, a map and a buffer
 * per entry), on the path every write waits for. Packed, an entry is its
 * term, type and data; its index is implied (prevLogIndex + 1 + position).
 * The leader packs a batch once for all followers (EntryPacker); a follower's
 * entries are views of the one received byte string, made without copying.
 *
 * Layout, per entry in log order:
 *   term    unsigned LEB128 varint (at most 8 bytes: up to 2^53 - 1)
 *   type    one byte: 0 normal, 1 configuration change (EntryType)
 *   length  unsigned LEB128 varint (at most 5 bytes)
 *   data    `length` bytes
 */
import { Buffer } from 'node:buffer';
import { EntryType, type Entry } from '../raft/index.js';
import { readVarint, varintBytes, varintEnd, writeVarint } from '../common/varint.js';

const termVarintBytesMax = 8;
const lengthVarintBytesMax = 5;

/** Packs `entries` (consecutive, as the core sends them). */
export function packEntries(entries: readonly Entry[]): Uint8Array {
  let size = 0;
  for (const e of entries) size += varintBytes(e.term) + 1 + varintBytes(e.data.length) + e.data.length;
  const out = Buffer.allocUnsafe(size); // every byte is written below
  let at = 0;
  for (const e of entries) {
    at = writeVarint(out, at, e.term);
    out[at++] = e.type;
    at = writeVarint(out, at, e.data.length);
    out.set(e.data, at);
    at += e.data.length;
  }
  return out;
}

/**
 * Packs each batch once for every follower: the core hands each follower its
 * own array, but under load they hold the same entry objects, so the last
 * batch packed is kept and reused when the next one has the same entries.
 */
export class EntryPacker {
  private lastEntries: readonly Entry[] = [];
  private lastPacked: Uint8Array = new Uint8Array(0);

  pack(entries: readonly Entry[]): Uint8Array {
    const last = this.lastEntries;
    if (entries.length > 0 && entries.length === last.length && entries[0] === last[0] && entries[entries.length - 1] === last[last.length - 1]) {
      return this.lastPacked;
    }
    this.lastEntries = entries;
    this.lastPacked = packEntries(entries);
    return this.lastPacked;
  }
}

/** Why `bytes` is not a well-formed packing (null when it is). Allocates nothing. */
export function packedEntriesFailure(bytes: Uint8Array): string | null {
  let at = 0;
  let index = 0;
  while (at < bytes.length) {
    const termEnd = varintEnd(bytes, at, termVarintBytesMax);
    if (termEnd < 0 || !Number.isSafeInteger(readVarint(bytes, at))) return `entry ${index}: malformed term at byte ${at}`;
    at = termEnd;
    if (at >= bytes.length) return `entry ${index}: truncated before its type`;
    const type = bytes[at++]!;
    if (type !== EntryType.Normal && type !== EntryType.ConfChange) return `entry ${index}: unknown type ${type}`;
    const lengthEnd = varintEnd(bytes, at, lengthVarintBytesMax);
    if (lengthEnd < 0) return `entry ${index}: malformed length at byte ${at}`;
    const length = readVarint(bytes, at);
    at = lengthEnd;
    if (length > bytes.length - at) return `entry ${index}: ${length} bytes of data, ${bytes.length - at} left`;
    at += length;
    index++;
  }
  return null;
}

/**
 * The entries of a well-formed packing (check packedEntriesFailure first),
 * numbered from `firstIndex`. Their data are views of `bytes`.
 */
export function unpackEntries(bytes: Uint8Array, firstIndex: number): Entry[] {
  const entries: Entry[] = [];
  const buffer = bytes.buffer;
  const base = bytes.byteOffset;
  let at = 0;
  while (at < bytes.length) {
    const term = readVarint(bytes, at);
    at = varintEnd(bytes, at, termVarintBytesMax);
    const type = bytes[at++] as EntryType;
    const length = readVarint(bytes, at);
    at = varintEnd(bytes, at, lengthVarintBytesMax);
    entries.push({ index: firstIndex + entries.length, term, type, data: new Uint8Array(buffer, base + at, length) });
    at += length;
  }
  return entries;
}
