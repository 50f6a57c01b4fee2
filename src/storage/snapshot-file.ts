/**
 * Snapshot file format. The contents (the state machine's bytes, streamed)
 * come first, so a writer never needs to know the size in advance; the
 * metadata and a fixed trailer follow:
 *
 *   contents | metadata (JSON: index, term, conf) | trailer (32 bytes, LE)
 *   trailer: magic "CSNP" u32, version u32, contentBytes u64, contentCrc u32,
 *            metadataBytes u32, metadataCrc u32, trailerCrc u32 (of the 28 bytes before)
 *
 * Name: snap-<index: 16 hex>-<term: 16 hex>.snap; while written, with ".tmp" appended.
 */
import { crc32c } from '@node-rs/crc32';
import type { SnapshotMetadata } from '../raft/types.js';
import { readU64 } from './wal-record.js';

export const snapshotTrailerBytes = 32;
const snapshotMagic = 0x504e5343; // "CSNP" little endian
const snapshotFormatVersion = 1;
export const tempSuffix = '.tmp';

const namePattern = /^snap-([0-9a-f]{16})-([0-9a-f]{16})\.snap$/;

export function snapshotFileName(index: number, term: number): string {
  return `snap-${index.toString(16).padStart(16, '0')}-${term.toString(16).padStart(16, '0')}.snap`;
}

export function parseSnapshotFileName(name: string): { index: number; term: number } | null {
  const m = namePattern.exec(name);
  return m ? { index: parseInt(m[1]!, 16), term: parseInt(m[2]!, 16) } : null;
}

/** Metadata and trailer bytes that end a snapshot file. */
export function encodeSnapshotFooter(meta: SnapshotMetadata, contentBytes: number, contentCrc: number): Buffer {
  const metaJson = Buffer.from(
    JSON.stringify({
      index: meta.index,
      term: meta.term,
      conf: {
        voters: meta.conf.voters,
        learners: meta.conf.learners,
        votersOutgoing: meta.conf.votersOutgoing,
        learnersNext: meta.conf.learnersNext,
        autoLeave: meta.conf.autoLeave,
      },
    }),
    'utf8',
  );
  const out = Buffer.alloc(metaJson.byteLength + snapshotTrailerBytes);
  metaJson.copy(out, 0);
  const t = metaJson.byteLength;
  out.writeUInt32LE(snapshotMagic, t);
  out.writeUInt32LE(snapshotFormatVersion, t + 4);
  out.writeUInt32LE(contentBytes % 0x100000000, t + 8);
  out.writeUInt32LE(Math.floor(contentBytes / 0x100000000), t + 12);
  out.writeUInt32LE(contentCrc >>> 0, t + 16);
  out.writeUInt32LE(metaJson.byteLength, t + 20);
  out.writeUInt32LE(crc32c(metaJson), t + 24);
  out.writeUInt32LE(crc32c(out.subarray(t, t + 28)), t + 28);
  return out;
}

export interface SnapshotTrailer {
  readonly contentBytes: number;
  readonly contentCrc: number;
  readonly metadataBytes: number;
  readonly metadataCrc: number;
}

/** Parses the trailer; returns a reason string when it is damaged. */
export function decodeSnapshotTrailer(bytes: Uint8Array, fileBytes: number): SnapshotTrailer | string {
  if (bytes.byteLength !== snapshotTrailerBytes) return 'file too short for a trailer';
  const b = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (b.readUInt32LE(28) !== crc32c(b.subarray(0, 28))) return 'trailer checksum mismatch';
  if (b.readUInt32LE(0) !== snapshotMagic) return 'bad magic';
  if (b.readUInt32LE(4) !== snapshotFormatVersion) return `unsupported format version ${b.readUInt32LE(4)}`;
  const trailer = {
    contentBytes: readU64(b, 8),
    contentCrc: b.readUInt32LE(16),
    metadataBytes: b.readUInt32LE(20),
    metadataCrc: b.readUInt32LE(24),
  };
  if (trailer.contentBytes + trailer.metadataBytes + snapshotTrailerBytes !== fileBytes) {
    return `sizes in trailer (${trailer.contentBytes} + ${trailer.metadataBytes}) do not add up to the file size ${fileBytes}`;
  }
  return trailer;
}

export function decodeSnapshotMetadata(bytes: Uint8Array): SnapshotMetadata | string {
  try {
    const m = JSON.parse(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('utf8')) as SnapshotMetadata;
    if (typeof m.index !== 'number' || typeof m.term !== 'number' || typeof m.conf !== 'object') return 'bad metadata';
    return m;
  } catch {
    return 'metadata is not JSON';
  }
}
