/**
 * The backup file `concord snapshot save` writes and `snapshot status` /
 * `snapshot restore` read: the key-value snapshot stream of one point of the
 * log (the CKVS format, src/kv/snapshot-format.ts) between a header saying
 * which point and a trailer with a checksum of everything before it.
 *
 *   "CONCORDB" | u8 fileVersion (1) | u32 headerBytes | header (JSON, UTF-8)
 *   contents   (header.contentBytes bytes of the CKVS stream)
 *   "CCBKEND\0" | u64 contentBytes | u32 crc32c(every byte before the trailer)
 *
 * Integers are big-endian. The header is JSON so that people can read it with
 * `head -c 300` and so that fields can be added; the length is in both the
 * header and the trailer, so a truncated file is refused before its checksum
 * is computed, and the checksum catches any flipped byte. The contents carry
 * their own per-block checksums as well (checked again when a member loads
 * the restored snapshot).
 *
 * A file is written to FILE.part, fsynced and renamed to FILE only once
 * complete, so FILE is never a half backup.
 */
import { crc32c } from '@node-rs/crc32';
import { createReadStream } from 'node:fs';
import { open, rename, stat, unlink, type FileHandle } from 'node:fs/promises';
import { dirname } from 'node:path';
import { ConcordError, ConcordErrorCode } from '../common/errors.js';
import { readVarint, varintEnd } from '../common/varint.js';

export const backupMagic = Buffer.from('CONCORDB', 'latin1');
export const backupTrailerMagic = Buffer.from('CCBKEND\0', 'latin1');
export const backupFileVersion = 1;
/** Magic, version and header length. */
const prefixBytes = backupMagic.length + 1 + 4;
export const backupTrailerBytes = backupTrailerMagic.length + 8 + 4;
/** Largest header a reader accepts (bounds what a damaged length field makes it read). */
export const backupHeaderBytesMax = 64 * 1024;
/** Bytes read at a time when checking or restoring a file. */
export const backupReadChunkBytes = 1024 * 1024;

/** What the header says. */
export interface BackupHeader {
  readonly version: number;
  /** Raft index and term of the last entry the snapshot includes. */
  readonly index: number;
  readonly term: number;
  /** The cluster it was taken from ('' if the member had not learned it). */
  readonly clusterId: string;
  /** The member that served it. */
  readonly memberName: string;
  readonly keys: number;
  /** Bytes of the CKVS contents. */
  readonly contentBytes: number;
  /** When the save started (ISO 8601, the saving machine's clock: informational). */
  readonly savedAt: string;
}

export class CorruptBackupError extends ConcordError {
  constructor(
    readonly file: string,
    readonly reason: string,
  ) {
    super(ConcordErrorCode.CorruptBackup, `${file} is not a usable backup: ${reason}; nothing was restored from it`);
  }
}

export function encodeBackupPrefix(header: BackupHeader): Buffer {
  const json = Buffer.from(JSON.stringify(header), 'utf8');
  if (json.length > backupHeaderBytesMax) throw new RangeError(`backup header of ${json.length} bytes`);
  const out = Buffer.alloc(prefixBytes + json.length);
  backupMagic.copy(out, 0);
  out.writeUInt8(backupFileVersion, backupMagic.length);
  out.writeUInt32BE(json.length, backupMagic.length + 1);
  json.copy(out, prefixBytes);
  return out;
}

export function encodeBackupTrailer(contentBytes: number, crc: number): Buffer {
  const out = Buffer.alloc(backupTrailerBytes);
  backupTrailerMagic.copy(out, 0);
  out.writeBigUInt64BE(BigInt(contentBytes), backupTrailerMagic.length);
  out.writeUInt32BE(crc >>> 0, backupTrailerMagic.length + 8);
  return out;
}

/**
 * Writes a backup file: `start` with the header, `write` the contents in
 * order (each awaited: the caller's backpressure), then `finish`, which
 * checks the length, appends the trailer, fsyncs and renames FILE.part to
 * FILE. `abort` removes the partial file.
 */
export class BackupFileWriter {
  private crc = 0;
  private position = 0;
  private contentWritten = 0;
  private constructor(
    readonly path: string,
    private readonly tempPath: string,
    private readonly file: FileHandle,
    private readonly header: BackupHeader,
  ) {}

  static async create(path: string, header: BackupHeader): Promise<BackupFileWriter> {
    const tempPath = `${path}.part`;
    const file = await open(tempPath, 'w', 0o600);
    const writer = new BackupFileWriter(path, tempPath, file, header);
    try {
      await writer.append(encodeBackupPrefix(header));
    } catch (error) {
      await writer.abort();
      throw error;
    }
    return writer;
  }

  get contentBytesWritten(): number {
    return this.contentWritten;
  }

  async write(chunk: Uint8Array): Promise<void> {
    if (this.contentWritten + chunk.length > this.header.contentBytes) {
      throw new RangeError(`backup contents exceed the announced ${this.header.contentBytes} bytes`);
    }
    await this.append(chunk);
    this.contentWritten += chunk.length;
  }

  async finish(): Promise<void> {
    if (this.contentWritten !== this.header.contentBytes) {
      throw new RangeError(`backup contents are ${this.contentWritten} bytes, not the announced ${this.header.contentBytes}`);
    }
    await this.append(encodeBackupTrailer(this.contentWritten, this.crc));
    await this.file.sync();
    await this.file.close();
    await rename(this.tempPath, this.path);
    await syncDirectory(dirname(this.path));
  }

  async abort(): Promise<void> {
    await this.file.close().catch(() => {});
    await unlink(this.tempPath).catch(() => {});
  }

  private async append(bytes: Uint8Array): Promise<void> {
    let done = 0;
    while (done < bytes.length) {
      const { bytesWritten } = await this.file.write(bytes, done, bytes.length - done, this.position);
      done += bytesWritten;
      this.position += bytesWritten;
    }
    this.crc = crc32c(bytes, this.crc);
  }
}

async function syncDirectory(dir: string): Promise<void> {
  const handle = await open(dir, 'r');
  try {
    await handle.sync();
  } catch {
    // Some file systems do not sync directories; the rename is then as durable as they make it.
  } finally {
    await handle.close();
  }
}

/** What `checkBackupFile` found: the header, the file's size, and what the contents' META block says. */
export interface CheckedBackup {
  readonly header: BackupHeader;
  readonly fileBytes: number;
  readonly checksum: number;
  /** From the CKVS META block (must agree with the header). */
  readonly sessions: number;
  readonly contentsOffset: number;
}

/** Reads and validates the header; throws CorruptBackupError. */
async function readHeader(path: string, file: FileHandle, fileBytes: number): Promise<{ header: BackupHeader; contentsOffset: number }> {
  const fail = (reason: string): never => {
    throw new CorruptBackupError(path, reason);
  };
  if (fileBytes < prefixBytes + backupTrailerBytes) fail(`${fileBytes} bytes is too short for a backup (truncated?)`);
  const prefix = Buffer.alloc(prefixBytes);
  await file.read(prefix, 0, prefixBytes, 0);
  if (!prefix.subarray(0, backupMagic.length).equals(backupMagic)) fail('it does not start with the backup magic "CONCORDB"');
  const version = prefix.readUInt8(backupMagic.length);
  if (version !== backupFileVersion) fail(`file version ${version} is not supported (this version reads ${backupFileVersion})`);
  const headerBytes = prefix.readUInt32BE(backupMagic.length + 1);
  if (headerBytes > backupHeaderBytesMax || prefixBytes + headerBytes + backupTrailerBytes > fileBytes) {
    fail(`header length ${headerBytes} does not fit in the file of ${fileBytes} bytes (truncated or damaged)`);
  }
  const json = Buffer.alloc(headerBytes);
  await file.read(json, 0, headerBytes, prefixBytes);
  let parsed: Partial<BackupHeader> | null = null;
  try {
    parsed = JSON.parse(json.toString('utf8')) as Partial<BackupHeader>;
  } catch (error) {
    fail(`the header is not JSON (${(error as Error).message})`);
  }
  const h = parsed ?? {};
  const uint = (v: unknown): boolean => typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;
  if (
    h.version !== backupFileVersion ||
    !uint(h.index) ||
    !uint(h.term) ||
    !uint(h.keys) ||
    !uint(h.contentBytes) ||
    typeof h.clusterId !== 'string' ||
    typeof h.memberName !== 'string' ||
    typeof h.savedAt !== 'string'
  ) {
    fail('the header lacks index, term, keys, contentBytes, clusterId, memberName or savedAt');
  }
  const header = h as BackupHeader;
  const expected = prefixBytes + headerBytes + header.contentBytes + backupTrailerBytes;
  if (fileBytes !== expected) {
    fail(`the file is ${fileBytes} bytes, the header announces ${expected} (${fileBytes < expected ? 'truncated' : 'bytes appended'})`);
  }
  return { header, contentsOffset: prefixBytes + headerBytes };
}

/**
 * Checks a whole backup file, streaming (memory: one read chunk): magic,
 * header, length, trailer, checksum, and that the contents' META block
 * agrees with the header. Throws CorruptBackupError with the reason.
 * `onContents` sees the contents as they are read (restore writes them out
 * during its second pass).
 */
export async function checkBackupFile(path: string, onContents?: (chunk: Buffer) => Promise<void>): Promise<CheckedBackup> {
  let file: FileHandle;
  try {
    file = await open(path, 'r');
  } catch (error) {
    throw new CorruptBackupError(path, `cannot open it (${(error as Error).message})`);
  }
  try {
    const fileBytes = (await file.stat()).size;
    const { header, contentsOffset } = await readHeader(path, file, fileBytes);
    const trailerAt = fileBytes - backupTrailerBytes;
    const trailer = Buffer.alloc(backupTrailerBytes);
    await file.read(trailer, 0, backupTrailerBytes, trailerAt);
    if (!trailer.subarray(0, backupTrailerMagic.length).equals(backupTrailerMagic)) {
      throw new CorruptBackupError(path, 'it does not end with the backup trailer (truncated or damaged)');
    }
    const trailerBytes = Number(trailer.readBigUInt64BE(backupTrailerMagic.length));
    if (trailerBytes !== header.contentBytes) {
      throw new CorruptBackupError(path, `the trailer says ${trailerBytes} content bytes, the header ${header.contentBytes}`);
    }
    const want = trailer.readUInt32BE(backupTrailerMagic.length + 8);
    let crc = 0;
    let position = 0;
    let meta: Buffer | null = null;
    const stream = createReadStream(path, { start: 0, end: trailerAt - 1, highWaterMark: backupReadChunkBytes });
    for await (const chunk of stream as AsyncIterable<Buffer>) {
      crc = crc32c(chunk, crc);
      const contentsStart = Math.max(0, contentsOffset - position);
      if (contentsStart < chunk.length) {
        const contents = chunk.subarray(contentsStart);
        if (meta === null || meta.length < 64) meta = meta === null ? Buffer.from(contents.subarray(0, 64)) : Buffer.concat([meta, contents.subarray(0, 64 - meta.length)]);
        if (onContents !== undefined) await onContents(contents);
      }
      position += chunk.length;
    }
    if (position !== trailerAt) throw new CorruptBackupError(path, `read ${position} bytes, expected ${trailerAt} (the file changed while being read)`);
    if ((crc >>> 0) !== want) {
      throw new CorruptBackupError(path, `checksum mismatch (crc32c ${hex(crc)}, the trailer says ${hex(want)}): the file is damaged`);
    }
    const sessions = checkMeta(path, meta ?? Buffer.alloc(0), header);
    return { header, fileBytes, checksum: crc >>> 0, sessions, contentsOffset };
  } finally {
    await file.close();
  }
}

/** The CKVS META block must describe the same point and key count as the header; returns its session count. */
function checkMeta(path: string, bytes: Buffer, header: BackupHeader): number {
  const fail = (reason: string): never => {
    throw new CorruptBackupError(path, `the contents ${reason}`);
  };
  if (bytes.length < 10 || bytes.toString('latin1', 0, 4) !== 'CKVS') fail('are not a Concord key-value snapshot (no CKVS magic)');
  // magic(4) version(1) length(4) kind(1): then appliedIndex, clockMs, entryCount, sessionCount.
  if (bytes[9] !== 1) fail('do not start with a META block');
  let pos = 10;
  const fields: number[] = [];
  for (let k = 0; k < 4; k++) {
    const end = varintEnd(bytes, pos);
    if (end < 0) fail('have an unreadable META block');
    fields.push(readVarint(bytes, pos));
    pos = end;
  }
  const [appliedIndex, , entryCount, sessionCount] = fields as [number, number, number, number];
  if (appliedIndex !== header.index) fail(`are at index ${appliedIndex}, the header says ${header.index}`);
  if (entryCount !== header.keys) fail(`hold ${entryCount} keys, the header says ${header.keys}`);
  return sessionCount;
}

export function hex(crc: number): string {
  return (crc >>> 0).toString(16).padStart(8, '0');
}

/** Size of a file, or null when it does not exist. */
export async function fileSize(path: string): Promise<number | null> {
  try {
    return (await stat(path)).size;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw error;
  }
}
