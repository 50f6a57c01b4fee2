/**
 * Snapshots on disk: written as a stream to a temp file with a running
 * CRC-32C, then fsync, rename, fsync of the directory (so a crash leaves
 * either the old set of snapshots or the new one, never a half file under a
 * final name); read back as a stream of chunks (never one giant buffer); the
 * last `snapshotsRetained` kept, older ones deleted, except those held for
 * transfers to followers (`hold`: a transfer finishes with the snapshot it
 * started with, however many newer ones are taken meanwhile; docs/storage.md).
 * Incoming InstallSnapshot
 * chunks are received into a temp file the same way and finalized when the
 * Raft core hands out the completed snapshot.
 */
import * as path from 'node:path';
import { crc32c } from '@node-rs/crc32';
import { assert } from '../common/errors.js';
import { SnapshotUnavailableError, type SnapshotChunk } from '../raft/storage.js';
import type { IncomingSnapshotChunk } from '../raft/ready.js';
import { emptyConfState, type SnapshotMetadata } from '../raft/types.js';
import type { Disk, DiskFile } from './disk.js';
import { CorruptSnapshotFileError, SnapshotChunkRejectedError, SnapshotTooLargeError } from './errors.js';
import type { Logger } from '../common/logger.js';
import {
  decodeSnapshotMetadata,
  decodeSnapshotTrailer,
  encodeSnapshotFooter,
  parseSnapshotFileName,
  snapshotFileName,
  snapshotTrailerBytes,
  tempSuffix,
} from './snapshot-file.js';

export interface SnapshotInfo {
  readonly meta: SnapshotMetadata;
  readonly path: string;
  readonly contentBytes: number;
}

export interface SnapshotStoreOptions {
  readonly dir: string;
  readonly disk: Disk;
  readonly logger: Logger;
  /** How many snapshots to keep (at least 1). */
  readonly snapshotsRetained: number;
  /** Largest snapshot contents accepted, written or received. */
  readonly snapshotBytesMax: number;
}

/** One signal from a caller's signal and/or a timeout (house rule: `{ signal?, timeoutMs? }`). */
export function abortSignalOf(options: { signal?: AbortSignal; timeoutMs?: number }): AbortSignal | undefined {
  const timeout = options.timeoutMs === undefined ? undefined : AbortSignal.timeout(options.timeoutMs);
  if (options.signal && timeout) return AbortSignal.any([options.signal, timeout]);
  return options.signal ?? timeout;
}

export const emptySnapshotMetadata: SnapshotMetadata = { index: 0, term: 0, conf: emptyConfState };

/** Streams contents into a temp file; `finish` makes it a snapshot. */
export class SnapshotWriter {
  private bytes = 0;
  private crc = 0;
  private state: 'open' | 'finished' | 'aborted' = 'open';
  private failure: unknown = null;

  constructor(
    private readonly store: SnapshotStore,
    readonly index: number,
    readonly term: number,
    readonly tempPath: string,
    private readonly file: DiskFile,
    private readonly bytesMax: number,
  ) {}

  get writtenBytes(): number {
    return this.bytes;
  }

  async write(data: Uint8Array): Promise<void> {
    assert(this.state === 'open', `snapshot writer is ${this.state}`);
    if (this.failure !== null) throw this.failure;
    if (this.bytes + data.byteLength > this.bytesMax) throw new SnapshotTooLargeError(this.bytesMax);
    try {
      await this.file.writev([data], this.bytes);
    } catch (error) {
      this.failure = error;
      throw error;
    }
    this.crc = crc32c(data, this.crc);
    this.bytes += data.byteLength;
  }

  /** Writes metadata and trailer, syncs, renames into place, syncs the directory. */
  async finish(meta: SnapshotMetadata): Promise<SnapshotInfo> {
    assert(this.state === 'open', `snapshot writer is ${this.state}`);
    assert(meta.index === this.index && meta.term === this.term, 'snapshot metadata does not match the writer');
    if (this.failure !== null) throw this.failure;
    this.state = 'finished';
    const finalPath = path.join(path.dirname(this.tempPath), snapshotFileName(this.index, this.term));
    try {
      await this.file.writev([encodeSnapshotFooter(meta, this.bytes, this.crc)], this.bytes);
      await this.file.datasync();
      await this.file.close();
      await this.store.disk.rename(this.tempPath, finalPath);
      await this.store.disk.fsyncDir(path.dirname(finalPath));
    } catch (error) {
      await this.discard();
      throw error;
    }
    return this.store.adopt({ meta, path: finalPath, contentBytes: this.bytes });
  }

  async abort(): Promise<void> {
    if (this.state !== 'open') return;
    this.state = 'aborted';
    await this.discard();
  }

  private async discard(): Promise<void> {
    await this.file.close().catch(() => {});
    await this.store.disk.unlink(this.tempPath).catch(() => {});
  }
}

/**
 * Bound of snapshots held for transfers besides the latest: a leader sends
 * one snapshot per follower at a time, so this is never reached in a cluster
 * of sane size; past it, only the newest are held.
 */
export const snapshotsHeldMax = 16;

interface HeldSnapshot {
  readonly info: SnapshotInfo;
  readonly file: DiskFile;
}

interface Receiving {
  readonly writer: SnapshotWriter;
  done: boolean;
}

export class SnapshotStore {
  readonly disk: Disk;
  private readonly dir: string;
  private readonly logger: Logger;
  private readonly options: SnapshotStoreOptions;
  /** On disk, oldest first. */
  private snapshots: SnapshotInfo[] = [];
  /** The latest snapshot, opened for synchronous chunk reads. */
  private latestFile: DiskFile | null = null;
  private receiving: Receiving | null = null;
  private tempCounter = 0;
  /** Former latest snapshots still read by transfers, kept open (and on disk) until released. */
  private readonly held = new Map<number, HeldSnapshot>();
  /** Indexes the last `hold` asked for. */
  private wanted = new Set<number>();
  /**
   * Indexes read by chunkSync since the last `hold`: held too, so that a
   * transfer started between two `hold` calls cannot lose its snapshot.
   */
  private readonly readSinceHold = new Set<number>();

  private constructor(options: SnapshotStoreOptions) {
    this.options = options;
    this.disk = options.disk;
    this.dir = options.dir;
    this.logger = options.logger;
  }

  /** Opens the store: removes temp files a crash left, checks the latest snapshot's checksum. */
  static async open(options: SnapshotStoreOptions): Promise<SnapshotStore> {
    assert(options.snapshotsRetained >= 1, 'snapshotsRetained must be at least 1');
    const store = new SnapshotStore(options);
    await options.disk.mkdirp(options.dir);
    const found: Array<{ index: number; term: number; name: string }> = [];
    for (const name of await options.disk.readdir(options.dir)) {
      if (name.endsWith(tempSuffix)) {
        options.logger.warn({ file: path.join(options.dir, name) }, 'removing a partial snapshot left by a crash');
        await options.disk.unlink(path.join(options.dir, name));
        continue;
      }
      const parsed = parseSnapshotFileName(name);
      if (parsed) found.push({ ...parsed, name });
    }
    found.sort((a, b) => a.index - b.index);
    const latest = found[found.length - 1];
    if (latest) {
      // Only the latest is read on start (its checksum in full): older ones are fallbacks for readers.
      const info = await store.inspect(path.join(options.dir, latest.name), latest.index, latest.term, true);
      for (const older of found.slice(0, -1)) {
        store.snapshots.push({
          meta: { index: older.index, term: older.term, conf: emptyConfState },
          path: path.join(options.dir, older.name),
          contentBytes: -1,
        });
      }
      store.snapshots.push(info);
      store.latestFile = await options.disk.open(info.path, 'read');
    }
    return store;
  }

  latest(): SnapshotInfo | null {
    return this.snapshots[this.snapshots.length - 1] ?? null;
  }

  metadata(): SnapshotMetadata {
    return this.latest()?.meta ?? emptySnapshotMetadata;
  }

  /** Starts writing a snapshot of the local state machine. */
  async createWriter(index: number, term: number): Promise<SnapshotWriter> {
    this.checkNewer(index);
    return this.openWriter(index, term);
  }

  /** Writes a whole snapshot from a stream of chunks. */
  async write(
    meta: SnapshotMetadata,
    source: AsyncIterable<Uint8Array> | Iterable<Uint8Array>,
    options: { signal?: AbortSignal; timeoutMs?: number } = {},
  ): Promise<SnapshotInfo> {
    const signal = abortSignalOf(options);
    const writer = await this.createWriter(meta.index, meta.term);
    try {
      for await (const chunk of source) {
        signal?.throwIfAborted();
        await writer.write(chunk);
      }
      signal?.throwIfAborted();
    } catch (error) {
      await writer.abort();
      throw error;
    }
    return writer.finish(meta);
  }

  /**
   * Reads the contents of the snapshot at `index` (the latest by default) as
   * chunks of at most `chunkBytes`; the checksum is verified at the end.
   * Breaking out of the loop closes the file.
   */
  async *read(
    index?: number,
    options: { chunkBytes?: number; signal?: AbortSignal; timeoutMs?: number } = {},
  ): AsyncGenerator<Uint8Array, void, undefined> {
    const signal = abortSignalOf(options);
    const info = index === undefined ? this.latest() : this.snapshots.find((s) => s.meta.index === index);
    if (!info) throw new SnapshotUnavailableError(index ?? 0);
    const chunkBytes = options.chunkBytes ?? 1024 * 1024;
    let file: DiskFile;
    try {
      file = await this.disk.open(info.path, 'read');
    } catch (error) {
      // Deleted by retention since the caller looked: a newer snapshot exists.
      if ((error as { code?: unknown }).code === 'ENOENT') throw new SnapshotUnavailableError(info.meta.index);
      throw error;
    }
    try {
      const trailer = await this.readTrailer(file, info.path);
      let crc = 0;
      for (let at = 0; at < trailer.contentBytes; ) {
        signal?.throwIfAborted();
        const buf = new Uint8Array(Math.min(chunkBytes, trailer.contentBytes - at));
        const n = await file.read(buf, at);
        if (n !== buf.byteLength) throw new CorruptSnapshotFileError(info.path, `short read at ${at}`);
        crc = crc32c(buf, crc);
        at += n;
        if (at === trailer.contentBytes && crc !== trailer.contentCrc) {
          throw new CorruptSnapshotFileError(info.path, 'content checksum mismatch');
        }
        yield buf;
      }
    } finally {
      await file.close();
    }
  }

  /**
   * Synchronous chunk of the latest snapshot, or of an older one still held
   * for a transfer, for `Storage.snapshotChunk`.
   */
  chunkSync(index: number, offset: number, maxBytes: number): SnapshotChunk {
    const latest = this.latest();
    let source: HeldSnapshot | undefined;
    if (latest !== null && latest.meta.index === index && this.latestFile !== null) {
      source = { info: latest, file: this.latestFile };
      this.readSinceHold.add(index);
    } else {
      source = this.held.get(index);
    }
    if (source === undefined) throw new SnapshotUnavailableError(index);
    const info = source.info;
    assert(offset >= 0 && offset <= info.contentBytes, `snapshot chunk offset ${offset} outside 0..${info.contentBytes}`);
    const n = Math.min(Math.max(maxBytes, 1), info.contentBytes - offset);
    const data = new Uint8Array(n);
    const read = source.file.readSync(data, offset);
    if (read !== n) throw new CorruptSnapshotFileError(info.path, `short read at ${offset}`);
    return { data, done: offset + n >= info.contentBytes };
  }

  /**
   * The snapshots transfers still read (the sender's whole current set): each
   * stays readable by chunkSync, and on disk, until a later call leaves it out,
   * even once newer snapshots replaced it. Returns true when something held
   * was let go: then `releaseUnheld` closes and deletes what retention no
   * longer keeps.
   */
  hold(indexes: readonly number[]): boolean {
    const wanted = new Set([...indexes].sort((a, b) => b - a).slice(0, snapshotsHeldMax));
    this.wanted = wanted;
    this.readSinceHold.clear();
    let released = false;
    for (const index of this.held.keys()) if (!wanted.has(index)) released = true;
    return released;
  }

  /** Closes held snapshots no longer wanted and deletes those past retention (after `hold` returned true). */
  async releaseUnheld(): Promise<void> {
    for (const [index, h] of [...this.held]) {
      if (this.wanted.has(index)) continue;
      this.held.delete(index);
      await h.file.close().catch(() => {});
    }
    await this.deleteExcess();
  }

  /** Bytes received so far of an incoming snapshot, or null. */
  receiveProgress(): { index: number; term: number; bytes: number; done: boolean } | null {
    const r = this.receiving;
    return r ? { index: r.writer.index, term: r.writer.term, bytes: r.writer.writtenBytes, done: r.done } : null;
  }

  /**
   * Writes one incoming chunk. Chunks must come in order: offset 0 starts a
   * transfer (discarding any other one), any other offset must continue the
   * current transfer exactly where it stands, or SnapshotChunkRejectedError
   * tells the sender where to resume. A transfer lives in a temp file, so
   * after a restart it starts again from 0.
   */
  async receiveChunk(chunk: IncomingSnapshotChunk): Promise<void> {
    let r = this.receiving;
    const same = r !== null && r.writer.index === chunk.index && r.writer.term === chunk.term;
    if (!same || r === null) {
      if (chunk.offset !== 0) {
        throw new SnapshotChunkRejectedError(chunk.index, chunk.term, 0, 'no transfer of this snapshot in progress');
      }
      const latest = this.latest();
      if (latest !== null && chunk.index <= latest.meta.index) {
        // A stale transfer (a delayed message from an old leader): not an error of ours, refuse it.
        throw new SnapshotChunkRejectedError(chunk.index, chunk.term, 0, `not newer than the latest snapshot at ${latest.meta.index}`);
      }
      await this.abortReceiving();
      r = { writer: await this.openWriter(chunk.index, chunk.term), done: false };
      this.receiving = r;
    } else if (chunk.offset === 0 && r.writer.writtenBytes > 0) {
      // The sender restarted the transfer from the beginning.
      await this.abortReceiving();
      r = { writer: await this.openWriter(chunk.index, chunk.term), done: false };
      this.receiving = r;
    }
    if (r.done) throw new SnapshotChunkRejectedError(chunk.index, chunk.term, r.writer.writtenBytes, 'transfer already complete');
    if (chunk.offset !== r.writer.writtenBytes) {
      throw new SnapshotChunkRejectedError(chunk.index, chunk.term, r.writer.writtenBytes, `unexpected offset ${chunk.offset}`);
    }
    await r.writer.write(chunk.data);
    r.done = chunk.done;
  }

  /** Turns a completely received snapshot into the latest snapshot. */
  async finalizeReceived(meta: SnapshotMetadata): Promise<SnapshotInfo> {
    const r = this.receiving;
    assert(
      r !== null && r.done && r.writer.index === meta.index && r.writer.term === meta.term,
      `no completely received snapshot at index ${meta.index} term ${meta.term} to install`,
    );
    this.receiving = null;
    return r.writer.finish(meta);
  }

  /** @internal Called by SnapshotWriter.finish once the file is in place. */
  async adopt(info: SnapshotInfo): Promise<SnapshotInfo> {
    this.checkNewer(info.meta.index);
    const file = await this.disk.open(info.path, 'read');
    const previous = this.latest();
    if (previous !== null && this.latestFile !== null) {
      const index = previous.meta.index;
      // A transfer is streaming the snapshot being replaced: it finishes with it.
      if ((this.wanted.has(index) || this.readSinceHold.has(index)) && this.held.size < snapshotsHeldMax) {
        this.held.set(index, { info: previous, file: this.latestFile });
      } else {
        await this.latestFile.close();
      }
    }
    this.latestFile = file;
    this.snapshots.push(info);
    await this.deleteExcess();
    this.logger.info({ index: info.meta.index, term: info.meta.term, bytes: info.contentBytes }, 'snapshot saved');
    return info;
  }

  async close(): Promise<void> {
    await this.abortReceiving();
    await this.latestFile?.close();
    this.latestFile = null;
    for (const h of this.held.values()) await h.file.close().catch(() => {});
    this.held.clear();
  }

  /** Deletes the snapshots past the `snapshotsRetained` newest that no transfer holds. */
  private async deleteExcess(): Promise<void> {
    const retainedFrom = this.snapshots.length - this.options.snapshotsRetained;
    if (retainedFrom <= 0) return;
    const kept: SnapshotInfo[] = [];
    for (const [i, old] of this.snapshots.entries()) {
      if (i >= retainedFrom || this.held.has(old.meta.index)) {
        kept.push(old);
        continue;
      }
      await this.disk.unlink(old.path).catch((error: unknown) => {
        this.logger.warn({ file: old.path, err: error }, 'could not delete an old snapshot');
      });
    }
    this.snapshots = kept;
  }

  private checkNewer(index: number): void {
    const latest = this.latest();
    assert(
      latest === null || index > latest.meta.index,
      `snapshot at index ${index} is not newer than the latest snapshot at ${latest?.meta.index}`,
    );
  }

  private async openWriter(index: number, term: number): Promise<SnapshotWriter> {
    const tempPath = path.join(this.dir, `${snapshotFileName(index, term)}.${this.tempCounter++}${tempSuffix}`);
    const file = await this.disk.open(tempPath, 'create-exclusive');
    return new SnapshotWriter(this, index, term, tempPath, file, this.options.snapshotBytesMax);
  }

  private async abortReceiving(): Promise<void> {
    const r = this.receiving;
    this.receiving = null;
    await r?.writer.abort();
  }

  private async readTrailer(file: DiskFile, filePath: string) {
    const size = await file.size();
    if (size < snapshotTrailerBytes) throw new CorruptSnapshotFileError(filePath, 'file too short for a trailer');
    const buf = new Uint8Array(snapshotTrailerBytes);
    await file.read(buf, size - snapshotTrailerBytes);
    const trailer = decodeSnapshotTrailer(buf, size);
    if (typeof trailer === 'string') throw new CorruptSnapshotFileError(filePath, trailer);
    return trailer;
  }

  /** Reads and checks a snapshot file's trailer, metadata and (optionally) contents. */
  private async inspect(filePath: string, index: number, term: number, verifyContents: boolean): Promise<SnapshotInfo> {
    const file = await this.disk.open(filePath, 'read');
    try {
      const trailer = await this.readTrailer(file, filePath);
      const metaBytes = new Uint8Array(trailer.metadataBytes);
      await file.read(metaBytes, trailer.contentBytes);
      if (crc32c(metaBytes) !== trailer.metadataCrc) throw new CorruptSnapshotFileError(filePath, 'metadata checksum mismatch');
      const meta = decodeSnapshotMetadata(metaBytes);
      if (typeof meta === 'string') throw new CorruptSnapshotFileError(filePath, meta);
      if (meta.index !== index || meta.term !== term) {
        throw new CorruptSnapshotFileError(filePath, `metadata says index ${meta.index} term ${meta.term}, name disagrees`);
      }
      if (verifyContents) {
        let crc = 0;
        const buf = new Uint8Array(Math.min(1024 * 1024, Math.max(trailer.contentBytes, 1)));
        for (let at = 0; at < trailer.contentBytes; ) {
          const want = Math.min(buf.byteLength, trailer.contentBytes - at);
          const view = buf.subarray(0, want);
          if ((await file.read(view, at)) !== want) throw new CorruptSnapshotFileError(filePath, `short read at ${at}`);
          crc = crc32c(view, crc);
          at += want;
        }
        if (crc !== trailer.contentCrc) throw new CorruptSnapshotFileError(filePath, 'content checksum mismatch');
      }
      return { meta, path: filePath, contentBytes: trailer.contentBytes };
    } finally {
      await file.close();
    }
  }
}
