/**
 * A simulated client of the replicated register: one operation at a time,
 * sent to the node it believes leads. The history it records is what the
 * linearizability checker judges:
 *
 * - a write or compare-and-set returns when the node that accepted the
 *   proposal applies it (the outcome is then known);
 * - a proposal that the core dropped synchronously never entered the log: the
 *   client retries elsewhere (same operation, same call time);
 * - an operation the client gives up on (timeout) after some node accepted it
 *   has an unknown outcome: it may or may not have taken effect;
 * - an operation that certainly did not take effect (dropped everywhere, or
 *   its entry was overwritten) leaves the history, as does a read that timed
 *   out (reads have no effect).
 */
import type { NodeId } from '../../src/raft/types.js';
import type { Operation } from './linearizability.js';
import { RegisterOpKind, type RegisterInput, type RegisterOutput } from './register-model.js';

export interface RecordedOp {
  readonly clientId: number;
  /** The client's sequence number for this operation (its command id is "clientId:seq"). */
  readonly seq: number;
  readonly input: RegisterInput;
  readonly callTime: number;
  returnTime: number | undefined;
  output: RegisterOutput | undefined;
  /** Where the system put it in its order (log index; reads: applied index + 0.5), a hint for the checker. */
  orderHint: number | undefined;
  /** Some node accepted it into its log at least once (so it may have taken effect). */
  accepted: boolean;
  /** The client gave up on it after a node had accepted it: its outcome was unknown to the client. */
  timedOut: boolean;
  /** Dropped from the history: it certainly had no effect (or is a read that never returned). */
  discarded: boolean;
  done: boolean;
}

export class History {
  private readonly ops: RecordedOp[] = [];
  /** History time: strictly increasing, so real-time order between calls and returns is exact. */
  private clock = 0;

  now(): number {
    return this.clock++;
  }

  call(clientId: number, seq: number, input: RegisterInput): RecordedOp {
    const op: RecordedOp = {
      clientId,
      seq,
      input,
      callTime: this.now(),
      returnTime: undefined,
      output: undefined,
      orderHint: undefined,
      accepted: false,
      timedOut: false,
      discarded: false,
      done: false,
    };
    this.ops.push(op);
    return op;
  }

  complete(op: RecordedOp, output: RegisterOutput, orderHint?: number): void {
    op.returnTime = this.now();
    op.output = output;
    op.orderHint = orderHint;
    op.done = true;
  }

  /** The client stops waiting: unknown outcome if it may have taken effect, else it leaves the history. */
  giveUp(op: RecordedOp): void {
    op.done = true;
    op.timedOut = op.accepted && op.input.kind !== RegisterOpKind.Read;
    if (!op.accepted || op.input.kind === RegisterOpKind.Read) op.discarded = true;
  }

  discard(op: RecordedOp): void {
    op.done = true;
    op.discarded = true;
  }

  /**
   * At the end of a run, settle the operations whose client never learned
   * their outcome, from what the replicas actually applied (the simulator sees
   * every replica's log; a real test could not):
   * - a command no replica applied (or applied as stale, without effect) took
   *   no effect during the run; anything later would be linearized after every
   *   observed operation, which is the same as never: it leaves the history;
   * - a command some replica applied took effect, with the result the state
   *   machine computed, no later than when the first replica applied it: it
   *   gets that output and that return time (a client told at that moment
   *   would have seen exactly this).
   * This leaves the checker no optional operations, which keeps its search
   * from exploring every subset of them, and it makes the check stricter.
   */
  settleUnknownOutcomes(
    appliedResult: (clientId: number, seq: number) => { output: RegisterOutput; time: number; index: number } | undefined,
  ): { applied: number; unapplied: number } {
    let applied = 0;
    let unapplied = 0;
    for (const op of this.ops) {
      if (op.discarded || op.returnTime !== undefined || !op.done) continue;
      const result = appliedResult(op.clientId, op.seq);
      if (result === undefined) {
        op.discarded = true;
        unapplied++;
      } else {
        op.output = result.output;
        op.returnTime = result.time;
        op.orderHint = result.index;
        applied++;
      }
    }
    return { applied, unapplied };
  }

  operations(): Operation<RegisterInput, RegisterOutput>[] {
    return this.ops
      .filter((op) => !op.discarded)
      .map((op) => ({
        clientId: op.clientId,
        input: op.input,
        callTime: op.callTime,
        returnTime: op.returnTime,
        output: op.output,
        ...(op.orderHint !== undefined ? { orderHint: op.orderHint } : {}),
      }));
  }

  /** ok: the client saw the outcome; unknown: it timed out after acceptance; discarded: certainly no effect. */
  stats(): { total: number; ok: number; unknown: number; discarded: number } {
    let ok = 0;
    let unknown = 0;
    let discarded = 0;
    for (const op of this.ops) {
      if (op.timedOut) unknown++;
      else if (op.discarded) discarded++;
      else if (op.returnTime !== undefined) ok++;
    }
    return { total: this.ops.length, ok, unknown, discarded };
  }
}

export interface ClientState {
  readonly id: number;
  seq: number;
  /** Where to send the next attempt. */
  target: NodeId;
  current: RecordedOp | null;
  /** Attempts of the current operation so far (makes ReadIndex contexts unique). */
  attempt: number;
  /** Deadline of the current operation, simulated ms. */
  deadlineMs: number;
  /** Bumped per operation, so stale timer events are ignored. */
  generation: number;
  /** Last value seen per key: compare-and-set expects it, so that swaps succeed often. */
  readonly lastSeen: Map<string, string | null>;
}
