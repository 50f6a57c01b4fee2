/**
 * A connection's plain writes (a put or a delete of one key, no conditions;
 * an incr, which the state machine decides at apply time)
 * collected while they wait for their turn in the connection's write order:
 * sent together as one `kv.txn` (one log entry, one seq of the connection's
 * session), each op answered from its own result. A pipeline of N SETs then
 * costs one proposal and one round trip instead of N of each, one after the
 * other.
 *
 * A batch is open (accepting ops) from its first op until its turn comes or a
 * bound is reached; anything else the connection sends meanwhile closes it,
 * so a later write never overtakes an earlier read or read-modify-write.
 */
import type { WireTxnOp, WireTxnOpResult } from '../protocol/index.js';

/** Most ops in one batch (a transaction's op bound, txnOpsMax, is far above it). */
export const WRITE_BATCH_OPS_MAX = 1_000;
/**
 * Most key and value bytes in one batch (one op alone may be bigger: it goes
 * as a batch of one). Kept well under the proposal and transaction byte
 * bounds, so that a batch is never refused for its size where its ops alone would not be.
 */
export const WRITE_BATCH_BYTES_MAX = 1024 * 1024;

interface Waiter {
  readonly resolve: (result: WireTxnOpResult) => void;
  readonly reject: (error: unknown) => void;
}

export class WriteBatch {
  readonly ops: WireTxnOp[] = [];
  private readonly waiters: Waiter[] = [];
  private bytes = 0;

  /** Whether `op` fits (an empty batch takes any op). */
  fits(op: WireTxnOp): boolean {
    if (this.ops.length === 0) return true;
    return this.ops.length < WRITE_BATCH_OPS_MAX && this.bytes + opBytes(op) <= WRITE_BATCH_BYTES_MAX;
  }

  /** Whether all of `ops` fit beside what the batch holds (a multi-key command's ops stay in one batch). */
  fitsAll(ops: readonly WireTxnOp[]): boolean {
    const bytes = ops.reduce((n, op) => n + opBytes(op), 0);
    return this.ops.length + ops.length <= WRITE_BATCH_OPS_MAX && this.bytes + bytes <= WRITE_BATCH_BYTES_MAX;
  }

  add(op: WireTxnOp): Promise<WireTxnOpResult> {
    this.ops.push(op);
    this.bytes += opBytes(op);
    return new Promise<WireTxnOpResult>((resolve, reject) => this.waiters.push({ resolve, reject }));
  }

  /** Answers op `i`. */
  settle(i: number, result: WireTxnOpResult): void {
    this.waiters[i]!.resolve(result);
  }

  fail(i: number, error: unknown): void {
    this.waiters[i]!.reject(error);
  }
}

function opBytes(op: WireTxnOp): number {
  return (op.key?.length ?? 0) + (op.value?.length ?? 0) + (op.by?.length ?? 0);
}
