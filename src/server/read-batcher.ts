/**
 * Linearizable reads by ReadIndex (Raft thesis §6.4), batched: every read
 * that arrives in one event-loop turn shares one ReadIndex request, so one
 * heartbeat round confirms leadership for all of them.
 *
 * Lifecycle of a batch: `enqueue` adds readers to the open batch; `flush`
 * (called by the Raft loop once per turn) closes it and asks the core for a
 * read index with the batch id as context; when the core answers with a
 * ReadState, the batch waits until the state machine has applied that index,
 * then every reader in it runs against the local state.
 */
import type { Clock } from '../common/clock.js';
import { ErrorCode } from '../protocol/index.js';
import { ServerError, overloaded } from './errors.js';

interface Reader {
  readonly deadlineMs: number;
  readonly resolve: () => void;
  readonly reject: (error: Error) => void;
}

interface Batch {
  readonly id: number;
  readonly readers: Reader[];
  /** Known once the core answered; the batch is served when applied >= readIndex. */
  readIndex: number | null;
}

export interface ReadIndexSource {
  /** Asks the core for a read index; throws when the request is refused (not leader, too many pending). */
  requestReadIndex(context: Uint8Array): void;
}

export class ReadBatcher {
  private open: Batch | null = null;
  /** Batches sent to the core, by id, oldest first. */
  private readonly inflight = new Map<number, Batch>();
  private nextBatchId = 1;
  private readersWaiting = 0;

  constructor(
    private readonly readersMax: number,
    private readonly clock: Clock,
    /** The error for a batch whose ReadIndex request the core refused for a reason of its own. */
    private readonly makeRefusedError: () => Error,
    /** Called after readers were answered (served, failed or expired): drain waits on it. */
    private readonly onSettled: () => void = () => {},
  ) {}

  get pendingReaders(): number {
    return this.readersWaiting;
  }

  /** Resolves when a linearizable read may run against the local state machine. */
  enqueue(deadlineMs: number): Promise<void> {
    if (this.readersWaiting >= this.readersMax) throw overloaded('read queue', this.readersMax);
    this.open ??= { id: this.nextBatchId++, readers: [], readIndex: null };
    const batch = this.open;
    this.readersWaiting++;
    return new Promise<void>((resolve, reject) => {
      batch.readers.push({ deadlineMs, resolve, reject });
    });
  }

  /** True when a batch waits to be sent to the core. */
  get hasOpenBatch(): boolean {
    return this.open !== null;
  }

  /** Sends the open batch to the core. */
  flush(source: ReadIndexSource): void {
    const batch = this.open;
    if (batch === null) return;
    this.open = null;
    try {
      source.requestReadIndex(encodeBatchId(batch.id));
    } catch (error) {
      this.fail(batch, error instanceof ServerError ? error : this.makeRefusedError());
      return;
    }
    this.inflight.set(batch.id, batch);
  }

  /** A ReadState from the core: the batch named by `context` may be served once applied >= index. */
  onReadState(index: number, context: Uint8Array, appliedIndex: number): void {
    const id = decodeBatchId(context);
    if (id === null) return;
    const batch = this.inflight.get(id);
    if (batch === undefined) return;
    batch.readIndex = index;
    if (appliedIndex >= index) this.serve(batch);
  }

  /** The state machine advanced: serve every batch whose read index is now applied. */
  onApplied(appliedIndex: number): void {
    for (const batch of this.inflight.values()) {
      if (batch.readIndex !== null && batch.readIndex <= appliedIndex) this.serve(batch);
    }
  }

  /** Leadership was lost: reads not yet confirmed can no longer be (the client retries elsewhere). */
  failUnconfirmed(makeError: () => Error): void {
    for (const batch of [...this.inflight.values()]) {
      if (batch.readIndex === null) this.fail(batch, makeError());
    }
    if (this.open !== null) {
      const batch = this.open;
      this.open = null;
      this.fail(batch, makeError());
    }
  }

  failAll(makeError: () => Error): void {
    for (const batch of [...this.inflight.values()]) this.fail(batch, makeError());
    if (this.open !== null) {
      const batch = this.open;
      this.open = null;
      this.fail(batch, makeError());
    }
  }

  /** Rejects readers past their deadline (called on every clock tick; deadlines on clock.monotonicMs). */
  expire(): void {
    const nowMs = this.clock.monotonicMs();
    let expired = 0;
    const batches = [...this.inflight.values()];
    if (this.open !== null) batches.push(this.open);
    for (const batch of batches) {
      for (let i = batch.readers.length - 1; i >= 0; i--) {
        const reader = batch.readers[i]!;
        if (reader.deadlineMs <= nowMs) {
          batch.readers.splice(i, 1);
          this.readersWaiting--;
          expired++;
          reader.reject(new ServerError(ErrorCode.Timeout, 'linearizable read timed out waiting for the read index'));
        }
      }
      if (batch.readers.length === 0 && batch !== this.open) this.inflight.delete(batch.id);
    }
    if (expired > 0) this.onSettled();
  }

  private serve(batch: Batch): void {
    this.inflight.delete(batch.id);
    this.readersWaiting -= batch.readers.length;
    for (const reader of batch.readers) reader.resolve();
    this.onSettled();
  }

  private fail(batch: Batch, error: Error): void {
    this.inflight.delete(batch.id);
    this.readersWaiting -= batch.readers.length;
    for (const reader of batch.readers) reader.reject(error);
    this.onSettled();
  }
}

/** Batch ids travel as the ReadIndex context: 8 bytes, big-endian. */
function encodeBatchId(id: number): Uint8Array {
  const out = new Uint8Array(8);
  new DataView(out.buffer).setFloat64(0, id);
  return out;
}

function decodeBatchId(context: Uint8Array): number | null {
  if (context.length !== 8) return null;
  return new DataView(context.buffer, context.byteOffset, 8).getFloat64(0);
}
