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
import { writeResult } from './result-codec.js';
import type { SessionTable } from './sessions.js';
import type { AuthState } from './auth-state.js';
import { writeLeaseRecord } from './lease-codec.js';
import type { LeaseTable } from './leases.js';
import { BLOCK_FRAMING_BYTES, BlockKind, SNAPSHOT_FORMAT_VERSION, SNAPSHOT_FORMAT_VERSION_LEASES, SNAPSHOT_MAGIC } from './snapshot-format.js';

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

function entryBytes(e: StoredEntry, withLeases: boolean): number {
  const keyBytes = e.keyString.length;
  return (
    (withLeases ? varintBytes(e.expiresAtMs) : 0) +
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
  /** The LEASES blocks (format 4), encoded when the snapshot is taken; null: no lease state (format 3). */
  private readonly leaseBlocks: readonly Uint8Array[] | null;
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
  ) {
    this.entryCount = tree.size;
    this.sessionCount = sessions.size;
    this.sessionBlocks = encodeSessionBlocks(sessions, chunkBytes);
    const withLeases = leases !== null && !leases.pristine;
    this.authBlock = auth === null || auth.pristine ? null : encodeAuthBlock(auth);
    this.leaseBlocks = withLeases ? encodeLeaseBlocks(leases, chunkBytes) : null;
    this.leaseCount = withLeases ? leases.size : 0;
  }

  /** The format version of this snapshot's bytes (see snapshot-format.ts). */
  get formatVersion(): number {
    return this.leaseBlocks === null ? SNAPSHOT_FORMAT_VERSION : SNAPSHOT_FORMAT_VERSION_LEASES;
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
    const withLeases = this.leaseBlocks !== null;
    if (withLeases) head.varint(this.leaseCount);
    endBlock(head, meta);
    yield head.finish();

    let w: ByteWriter | null = null;
    let start = 0;
    let count = 0;
    for (const entry of this.tree.values()) {
      const bytes = entryBytes(entry, withLeases);
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
      if (withLeases) w.varint(entry.expiresAtMs);
      count++;
    }
    if (w !== null) {
      w.u32At(start + 5, count);
      endBlock(w, start);
      yield* pieces(w.finish(), chunkBytes);
    }

    for (const block of this.sessionBlocks) yield* pieces(block, chunkBytes);
    if (this.authBlock !== null) yield* pieces(this.authBlock, chunkBytes);
    for (const block of this.leaseBlocks ?? []) yield* pieces(block, chunkBytes);

    const end = new ByteWriter(16);
    endBlock(end, beginBlock(end, BlockKind.End));
    yield end.finish();
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

function encodeSessionBlocks(sessions: SessionTable, chunkBytes: number): Uint8Array[] {
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
  for (const s of sessions.values()) {
    if (w === null) {
      w = new ByteWriter(1024);
      start = beginBlock(w, BlockKind.Sessions);
      w.u32(0); // session count, patched by flush
      count = 0;
    }
    w.varint(s.id);
    w.varint(s.ttlMs);
    w.varint(s.deadlineMs);
    w.varint(s.ackedSeq);
    w.varint(s.results.size);
    for (const [seq, result] of s.results) {
      w.varint(seq);
      writeResult(w, result);
    }
    count++;
    if (w.pos >= chunkBytes) flush();
  }
  flush();
  return blocks;
}

function encodeLeaseBlocks(leases: LeaseTable, chunkBytes: number): Uint8Array[] {
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
  for (const lease of leases.values()) {
    if (w === null) {
      w = new ByteWriter(Math.min(chunkBytes, 64 * 1024) + 64);
      start = beginBlock(w, BlockKind.Leases);
      w.u32(0); // lease count, patched by flush
      count = 0;
    }
    writeLeaseRecord(w, lease);
    count++;
    if (w.pos >= chunkBytes) flush();
  }
  flush();
  return blocks;
}

function encodeAuthBlock(auth: AuthState): Uint8Array {
  const w = new ByteWriter(1024);
  const start = beginBlock(w, BlockKind.Auth);
  auth.write(w);
  endBlock(w, start);
  return w.finish();
}
