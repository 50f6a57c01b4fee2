/**
 * Writes the snapshot stream (format: snapshot-format.ts) from a frozen view
 * of the state: an O(1) clone of the key tree plus the sessions, which are
 * encoded when the snapshot is taken (they are small and mutable). The key
 * tree is encoded lazily, one block per chunk, while applies go on.
 */
import { varintBytes } from '../common/varint.js';
import { ByteWriter } from './bytes.js';
import { crc32c } from './crc32c.js';
import type { KeyTree, StoredEntry } from './key-tree.js';
import type { SessionTable } from './sessions.js';
import { AuthState } from './auth-state.js';
import { writeLeaseRecord } from './lease-codec.js';
import type { LeaseTable } from './leases.js';
import { BLOCK_FRAMING_BYTES, BlockKind, SNAPSHOT_FORMAT_VERSION, SNAPSHOT_FORMAT_VERSION_COMPACTED, SNAPSHOT_MAGIC } from './snapshot-format.js';

/** Starts a block at the writer's position; returns where it starts. */
function beginBlock(w: ByteWriter, kind: BlockKind): number {
  const start = w.pos;
  w.u32(0); // payload length, patched by endBlock
  w.u8(kind);
  return start;
}

function endBlock(w: ByteWriter, start: number): void {
  const payloadStart = start + 4;
  const crc = crc32c(w.written(payloadStart, w.pos));
  const payloadBytes = w.pos - payloadStart;
  w.u32(crc);
  w.u32At(start, payloadBytes);
}

function entryBytes(e: StoredEntry): number {
  const keyBytes = e.keyString.length;
  return (
    varintBytes(e.expiresAtMs) +
    varintBytes(keyBytes) +
    keyBytes +
    varintBytes(e.value.length) +
    e.value.length +
    varintBytes(e.version) +
    varintBytes(e.createRevision) +
    varintBytes(e.modRevision) +
    varintBytes(e.lease)
  );
}

/** Cuts `bytes` into pieces of at most `chunkBytes` (views, no copies). */
function* pieces(bytes: Uint8Array, chunkBytes: number): Generator<Uint8Array> {
  for (let off = 0; off < bytes.length; off += chunkBytes) yield bytes.subarray(off, Math.min(off + chunkBytes, bytes.length));
}

/** A snapshot of the key-value state at `appliedIndex`; iterate it (as often as needed) for the bytes. */
export class KvSnapshot implements Iterable<Uint8Array> {
  private readonly sessionBlocks: readonly Uint8Array[];
  private readonly sessionCount: number;
  private readonly entryCount: number;
  /** The AUTH block, encoded when the snapshot is taken (the auth state is small and mutable); null: pristine, no block. */
  private readonly authBlock: Uint8Array | null;
  /** The LEASES blocks, encoded when the snapshot is taken (the lease table is mutable). */
  private readonly leaseBlocks: readonly Uint8Array[];
  private readonly leaseCount: number;

  constructor(
    readonly appliedIndex: number,
    readonly clockMs: number,
    /** A clone nobody else changes. */
    private readonly tree: KeyTree,
    sessions: SessionTable,
    private readonly chunkBytes: number,
    auth: AuthState | null = null,
    /** The store revision at appliedIndex. */
    readonly revision: number = 0,
    leases: LeaseTable | null = null,
    /** The replicated compaction revision (format 4 once it is above 0). */
    readonly compactRevision: number = 0,
  ) {
    this.entryCount = tree.size;
    this.sessionCount = sessions.size;
    this.sessionBlocks = encodeSessionBlocks(sessions, chunkBytes);
    this.authBlock = auth === null || auth.pristine ? null : encodeAuthBlock(auth);
    this.leaseBlocks = leases === null ? [] : encodeLeaseBlocks(leases, chunkBytes);
    this.leaseCount = leases === null ? 0 : leases.size;
  }

  /** The format version of this snapshot's bytes (see snapshot-format.ts): 4 once a compaction took effect, else 3. */
  get formatVersion(): number {
    return this.compactRevision > 0 ? SNAPSHOT_FORMAT_VERSION_COMPACTED : SNAPSHOT_FORMAT_VERSION;
  }

  *[Symbol.iterator](): Iterator<Uint8Array> {
    const chunkBytes = this.chunkBytes;
    const head = new ByteWriter(64);
    head.raw(SNAPSHOT_MAGIC);
    head.u8(this.formatVersion);
    const meta = beginBlock(head, BlockKind.Meta);
    head.varint(this.appliedIndex);
    head.varint(this.clockMs);
    head.varint(this.entryCount);
    head.varint(this.sessionCount);
    head.varint(this.revision);
    head.varint(this.leaseCount);
    if (this.compactRevision > 0) head.varint(this.compactRevision);
    endBlock(head, meta);
    yield head.finish();

    let w: ByteWriter | null = null;
    let start = 0;
    let count = 0;
    for (const entry of this.tree.values()) {
      const bytes = entryBytes(entry);
      if (w !== null && w.pos + bytes + 4 > chunkBytes) {
        w.u32At(start + 5, count);
        endBlock(w, start);
        yield* pieces(w.finish(), chunkBytes);
        w = null;
      }
      if (w === null) {
        w = new ByteWriter(Math.min(chunkBytes, bytes + 32) + BLOCK_FRAMING_BYTES);
        start = beginBlock(w, BlockKind.Entries);
        w.u32(0); // entry count, patched when the block ends
        count = 0;
      }
      w.binaryString(entry.keyString);
      w.bytes(entry.value);
      w.varint(entry.version);
      w.varint(entry.createRevision);
      w.varint(entry.modRevision);
      w.varint(entry.lease);
      w.varint(entry.expiresAtMs);
      count++;
    }
    if (w !== null) {
      w.u32At(start + 5, count);
      endBlock(w, start);
      yield* pieces(w.finish(), chunkBytes);
    }

    for (const block of this.sessionBlocks) yield* pieces(block, chunkBytes);
    if (this.authBlock !== null) yield* pieces(this.authBlock, chunkBytes);
    for (const block of this.leaseBlocks) yield* pieces(block, chunkBytes);

    const end = new ByteWriter(16);
    endBlock(end, beginBlock(end, BlockKind.End));
    yield end.finish();
  }

  /**
   * The exact number of bytes the iterator yields, computed without encoding
   * (one pass over the key tree, no allocation): a backup stream announces its
   * length before the first byte. Mirrors the block cutting of the iterator.
   */
  byteLength(): number {
    const sizing = this.measure(Number.MAX_SAFE_INTEGER);
    for (;;) {
      const step = sizing.next();
      if (step.done === true) return step.value;
    }
  }

  /**
   * byteLength() in slices: yields after every `sliceEntries` keys, and
   * returns the length. A member sizes a large snapshot between event-loop
   * turns (a pass over millions of keys takes long enough to delay heartbeats).
   */
  *measure(sliceEntries: number): Generator<void, number, void> {
    const chunkBytes = this.chunkBytes;
    let total =
      SNAPSHOT_MAGIC.length +
      1 +
      BLOCK_FRAMING_BYTES +
      1 +
      varintBytes(this.appliedIndex) +
      varintBytes(this.clockMs) +
      varintBytes(this.entryCount) +
      varintBytes(this.sessionCount) +
      varintBytes(this.revision) +
      varintBytes(this.leaseCount) +
      (this.compactRevision > 0 ? varintBytes(this.compactRevision) : 0);
    const blockStart = 4 + 1 + 4; // length, kind, entry count
    let pos = -1;
    let inSlice = 0;
    for (const entry of this.tree.values()) {
      if (++inSlice >= sliceEntries) {
        inSlice = 0;
        yield;
      }
      const bytes = entryBytes(entry);
      if (pos >= 0 && pos + bytes + 4 > chunkBytes) {
        total += pos + 4;
        pos = -1;
      }
      if (pos < 0) pos = blockStart;
      pos += bytes;
    }
    if (pos >= 0) total += pos + 4;
    for (const block of this.sessionBlocks) total += block.length;
    if (this.authBlock !== null) total += this.authBlock.length;
    for (const block of this.leaseBlocks) total += block.length;
    return total + BLOCK_FRAMING_BYTES + 1; // END
  }

  /** The number of keys in the snapshot. */
  get keys(): number {
    return this.entryCount;
  }

  /** The whole snapshot in one array (tests, small states). */
  toBytes(): Uint8Array {
    const chunks = [...this];
    const out = new Uint8Array(chunks.reduce((n, c) => n + c.length, 0));
    let off = 0;
    for (const c of chunks) {
      out.set(c, off);
      off += c.length;
    }
    return out;
  }
}

/**
 * Records of one kind in blocks of about `chunkBytes`: each block starts with
 * its record count (patched when the block is full) so a reader knows where
 * it ends; the sessions and leases blocks share this layout.
 */
function encodeCountedBlocks<T>(kind: BlockKind, items: Iterable<T>, chunkBytes: number, initialBytes: number, write: (w: ByteWriter, item: T) => void): Uint8Array[] {
  const blocks: Uint8Array[] = [];
  let w: ByteWriter | null = null;
  let start = 0;
  let count = 0;
  const flush = (): void => {
    if (w === null) return;
    w.u32At(start + 5, count);
    endBlock(w, start);
    blocks.push(w.finish());
    w = null;
  };
  for (const item of items) {
    if (w === null) {
      w = new ByteWriter(initialBytes);
      start = beginBlock(w, kind);
      w.u32(0); // record count, patched by flush
      count = 0;
    }
    write(w, item);
    count++;
    if (w.pos >= chunkBytes) flush();
  }
  flush();
  return blocks;
}

function encodeSessionBlocks(sessions: SessionTable, chunkBytes: number): Uint8Array[] {
  return encodeCountedBlocks(BlockKind.Sessions, sessions.values(), chunkBytes, 1024, (w, s) => {
    w.varint(s.id);
    w.varint(s.ttlMs);
    w.varint(s.deadlineMs);
    w.varint(s.ackedSeq);
    w.string(s.owner);
    w.varint(s.results.size);
    for (const [seq, saved] of s.results) {
      w.varint(seq);
      // The compact form is the result codec's bytes: written as they are kept.
      writeBinaryRaw(w, saved);
    }
  });
}

/** A binary string's bytes without a length (a saved result delimits itself). */
function writeBinaryRaw(w: ByteWriter, text: string): void {
  const bytes = new Uint8Array(text.length);
  for (let i = 0; i < text.length; i++) bytes[i] = text.charCodeAt(i);
  w.raw(bytes);
}

function encodeLeaseBlocks(leases: LeaseTable, chunkBytes: number): Uint8Array[] {
  return encodeCountedBlocks(BlockKind.Leases, leases.values(), chunkBytes, Math.min(chunkBytes, 64 * 1024) + 64, writeLeaseRecord);
}

function encodeAuthBlock(auth: AuthState): Uint8Array {
  const w = new ByteWriter(1024);
  const start = beginBlock(w, BlockKind.Auth);
  auth.write(w);
  endBlock(w, start);
  return w.finish();
}
