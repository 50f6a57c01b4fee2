/**
 * A linearizability checker in the manner of Porcupine (Athalye), which in
 * turn implements the Wing & Gong algorithm with Lowe's memoization ("WGL"):
 *
 * - The history is a list of operations, each with a call time and either a
 *   return time and output, or an unknown outcome (the client gave up: the
 *   operation may or may not have taken effect, at any moment after its call).
 * - Call and return events are put in one list sorted by time. The search
 *   repeatedly picks a call event that is "minimal" (no return event before
 *   it), applies the operation to the model state, and, if the model accepts
 *   the output, removes ("lifts") the operation from the list and continues.
 *   When no minimal call is left to try, the operation whose return heads the
 *   list should have been linearized already: backtrack. Minimal calls are
 *   tried in `orderHint` order (the simulator passes the log position the
 *   system gave each operation), which finds a valid order at once when
 *   there is one, without changing the answer.
 * - Memoization: a (set of linearized operations, model state) pair that was
 *   explored once is never explored again; and (see checkPartition) neither
 *   is one that differs only by having linearized more unknown-outcome
 *   operations.
 *
 * An operation with an unknown outcome gets a return time of +infinity and the
 * model accepts any output for it, so it can take effect anywhere after its
 * call, or (by being linearized after everything else) effectively never.
 * The search therefore succeeds as soon as every operation with a known
 * outcome has been linearized.
 *
 * Models may partition a history into independent sub-histories (for example
 * one per key), which are checked separately (P-compositionality).
 */

/** One client operation. `returnTime`/`output` are undefined when the outcome is unknown. */
export interface Operation<I, O> {
  readonly clientId: number;
  readonly input: I;
  readonly callTime: number;
  readonly returnTime: number | undefined;
  readonly output: O | undefined;
  /**
   * Optional search-order hint (for example the log index at which the
   * system applied the operation): among operations that may be linearized
   * at the same point, lower hints are tried first. It never changes the
   * answer, only how fast a valid order is found.
   */
  readonly orderHint?: number;
}

export interface Model<S, I, O> {
  /** The state before any operation. */
  init(): S;
  /**
   * Apply `input` to `state`. `output` is what the client observed, or
   * undefined for an unknown outcome (the model must then accept, choosing the
   * deterministic effect the operation would have had). Returns the new state
   * if the observed output is possible from `state`, else undefined.
   */
  step(state: S, input: I, output: O | undefined): { state: S } | undefined;
  /** A string that identifies a state (equal states, equal keys): the memoization key. */
  stateKey(state: S): string;
  /** Split a history into independent histories (default: one). */
  partition?(ops: readonly Operation<I, O>[]): Operation<I, O>[][];
  describeOperation?(op: Operation<I, O>): string;
}

export const CheckResult = {
  Ok: 'ok',
  Illegal: 'illegal',
  /** The search budget ran out before an answer. */
  Unknown: 'unknown',
} as const;
export type CheckResult = (typeof CheckResult)[keyof typeof CheckResult];

export interface CheckOutcome<I, O> {
  readonly result: CheckResult;
  /** For `illegal`: the partition that failed and the longest linearization found for it. */
  readonly failedPartition?: readonly Operation<I, O>[];
  readonly longestLinearization?: readonly Operation<I, O>[];
  /** Search steps taken across all partitions. */
  readonly steps: number;
}

export interface CheckOptions {
  /** Upper bound on search steps (per whole check); hitting it gives `unknown`. */
  readonly searchStepsMax?: number;
}

const searchStepsMaxDefault = 5_000_000;

interface EventNode {
  readonly isCall: boolean;
  /** Index of the operation in the partition. */
  readonly opIndex: number;
  readonly time: number;
  /** For call events, the matching return event. */
  match: EventNode | null;
  prev: EventNode | null;
  next: EventNode | null;
}

export function checkOperations<S, I, O>(
  model: Model<S, I, O>,
  history: readonly Operation<I, O>[],
  options: CheckOptions = {},
): CheckOutcome<I, O> {
  for (const op of history) validateOperation(op);
  const partitions = model.partition ? model.partition(history) : [history.slice()];
  let budget = options.searchStepsMax ?? searchStepsMaxDefault;
  let steps = 0;
  let sawUnknown = false;
  for (const ops of partitions) {
    const outcome = checkPartition(model, ops, budget);
    steps += outcome.steps;
    budget -= outcome.steps;
    if (outcome.result === CheckResult.Illegal) {
      return {
        result: CheckResult.Illegal,
        failedPartition: ops,
        longestLinearization: outcome.longest.map((i) => ops[i] as Operation<I, O>),
        steps,
      };
    }
    if (outcome.result === CheckResult.Unknown) sawUnknown = true;
    if (budget <= 0) return { result: CheckResult.Unknown, steps };
  }
  return { result: sawUnknown ? CheckResult.Unknown : CheckResult.Ok, steps };
}

function validateOperation<I, O>(op: Operation<I, O>): void {
  if (!Number.isFinite(op.callTime)) throw new RangeError(`operation call time must be finite, got ${op.callTime}`);
  if (op.returnTime !== undefined && op.returnTime < op.callTime) {
    throw new RangeError(`operation returns (${op.returnTime}) before it is called (${op.callTime})`);
  }
}

function buildEventList<I, O>(ops: readonly Operation<I, O>[]): EventNode {
  const events: EventNode[] = [];
  ops.forEach((op, opIndex) => {
    const call: EventNode = { isCall: true, opIndex, time: op.callTime, match: null, prev: null, next: null };
    const ret: EventNode = {
      isCall: false,
      opIndex,
      time: op.returnTime ?? Number.POSITIVE_INFINITY,
      match: null,
      prev: null,
      next: null,
    };
    call.match = ret;
    events.push(call, ret);
  });
  // Sort by time; on a tie a call comes before a return, so operations that
  // touch at one instant are treated as concurrent (the permissive reading).
  // The sort is stable, which keeps the search order deterministic.
  events.sort((a, b) => (a.time !== b.time ? a.time - b.time : a.isCall === b.isCall ? 0 : a.isCall ? -1 : 1));
  const head: EventNode = { isCall: false, opIndex: -1, time: Number.NEGATIVE_INFINITY, match: null, prev: null, next: null };
  let last = head;
  for (const e of events) {
    last.next = e;
    e.prev = last;
    last = e;
  }
  return head;
}

function lift(call: EventNode): void {
  const ret = call.match as EventNode;
  (call.prev as EventNode).next = call.next;
  if (call.next) call.next.prev = call.prev;
  (ret.prev as EventNode).next = ret.next;
  if (ret.next) ret.next.prev = ret.prev;
}

function unlift(call: EventNode): void {
  // Reinsert in the reverse order of removal: the return first, then the call.
  const ret = call.match as EventNode;
  (ret.prev as EventNode).next = ret;
  if (ret.next) ret.next.prev = ret;
  (call.prev as EventNode).next = call;
  if (call.next) call.next.prev = call;
}

class Bitset {
  readonly words: Uint32Array;
  constructor(size: number) {
    this.words = new Uint32Array(Math.ceil(size / 32) || 1);
  }
  set(i: number): void {
    this.words[i >>> 5] = ((this.words[i >>> 5] as number) | (1 << (i & 31))) >>> 0;
  }
  clear(i: number): void {
    this.words[i >>> 5] = ((this.words[i >>> 5] as number) & ~(1 << (i & 31))) >>> 0;
  }
  key(): string {
    let s = '';
    for (const w of this.words) s += w.toString(36) + '.';
    return s;
  }
}

/** True when every bit of `a` is set in `b`. */
function isSubset(a: Uint32Array, b: Uint32Array): boolean {
  for (let i = 0; i < a.length; i++) if (((a[i] as number) & ~(b[i] as number)) !== 0) return false;
  return true;
}

interface PartitionOutcome {
  result: CheckResult;
  longest: number[];
  steps: number;
}

function checkPartition<S, I, O>(model: Model<S, I, O>, ops: readonly Operation<I, O>[], budget: number): PartitionOutcome {
  const head = buildEventList(ops);
  // Operations with a known outcome and those without are tracked in separate bitsets: see `seen`.
  const slot: number[] = [];
  let knownCount = 0;
  let unknownCount = 0;
  for (const op of ops) slot.push(op.returnTime === undefined ? unknownCount++ : knownCount++);
  const isKnown = (opIndex: number) => (ops[opIndex] as Operation<I, O>).returnTime !== undefined;
  let knownRemaining = knownCount;
  const known = new Bitset(knownCount);
  const unknown = new Bitset(unknownCount);
  /**
   * Memoization with dominance. A search node is (linearized known ops K,
   * linearized unknown-outcome ops U, model state). Every node stored here was
   * explored (or is being explored) without success. A node with the same K
   * and state and a superset of U can do nothing the stored one could not:
   * unknown-outcome operations never have to be linearized, and leaving one
   * out never blocks another (its return is at infinity). So it is skipped.
   * With U always empty this is Porcupine's (bitset, state) cache; with many
   * timed-out operations it avoids exploring every subset of them.
   */
  const seen = new Map<string, Uint32Array[]>();
  const hintOf = (e: EventNode) => ops[e.opIndex]?.orderHint ?? Number.POSITIVE_INFINITY;
  /**
   * The operations that may be linearized next: those whose call comes before
   * the first remaining return event. Tried in order-hint order (then list
   * order), which only changes how soon a valid order is found.
   */
  const candidates = (): EventNode[] => {
    const out: EventNode[] = [];
    for (let e = head.next; e !== null && e.isCall; e = e.next) out.push(e);
    if (out.length > 1) out.sort((a, b) => hintOf(a) - hintOf(b) || 0);
    return out;
  };
  interface Frame {
    readonly call: EventNode;
    readonly stateBefore: S;
    readonly cands: EventNode[];
    readonly at: number;
  }
  const stack: Frame[] = [];
  let longest: number[] = [];
  let state = model.init();
  let steps = 0;
  let cands = candidates();
  let at = 0;

  const mark = (opIndex: number, on: boolean): void => {
    const bits = isKnown(opIndex) ? known : unknown;
    if (on) bits.set(slot[opIndex] as number);
    else bits.clear(slot[opIndex] as number);
  };

  while (knownRemaining > 0) {
    if (steps++ >= budget) return { result: CheckResult.Unknown, longest, steps };
    if (at >= cands.length) {
      // No candidate left at this point: the operation whose return is at the head of the
      // list cannot be linearized in this order. Backtrack.
      const top = stack.pop();
      if (top === undefined) return { result: CheckResult.Illegal, longest, steps };
      state = top.stateBefore;
      mark(top.call.opIndex, false);
      if (isKnown(top.call.opIndex)) knownRemaining++;
      unlift(top.call);
      cands = top.cands;
      at = top.at + 1;
      continue;
    }
    const entry = cands[at] as EventNode;
    const op = ops[entry.opIndex] as Operation<I, O>;
    const next = model.step(state, op.input, op.returnTime === undefined ? undefined : op.output);
    if (next !== undefined) {
      mark(entry.opIndex, true);
      const key = known.key() + '|' + model.stateKey(next.state);
      let visited = seen.get(key);
      if (visited === undefined) seen.set(key, (visited = []));
      if (!visited.some((u) => isSubset(u, unknown.words))) {
        visited.push(unknown.words.slice());
        stack.push({ call: entry, stateBefore: state, cands, at });
        state = next.state;
        if (op.returnTime !== undefined) knownRemaining--;
        lift(entry);
        if (stack.length > longest.length) longest = stack.map((f) => f.call.opIndex);
        cands = candidates();
        at = 0;
        continue;
      }
      mark(entry.opIndex, false);
    }
    at++;
  }
  return { result: CheckResult.Ok, longest, steps };
}

/** A human-readable account of a failed check, for simulator reports. */
export function describeFailure<S, I, O>(model: Model<S, I, O>, outcome: CheckOutcome<I, O>): string {
  const show = (op: Operation<I, O>): string =>
    model.describeOperation
      ? model.describeOperation(op)
      : `client ${op.clientId} ${JSON.stringify(op.input)} -> ${op.returnTime === undefined ? '?' : JSON.stringify(op.output)} [${op.callTime}, ${op.returnTime ?? 'inf'}]`;
  const lines: string[] = [`linearizability: ${outcome.result} after ${outcome.steps} search steps`];
  if (outcome.failedPartition) {
    lines.push(`longest linearizable prefix (${outcome.longestLinearization?.length ?? 0} ops):`);
    for (const op of outcome.longestLinearization ?? []) lines.push('  ' + show(op));
    const done = new Set(outcome.longestLinearization ?? []);
    const rest = outcome.failedPartition.filter((op) => !done.has(op)).sort((a, b) => a.callTime - b.callTime);
    lines.push(`not linearizable after that (${rest.length} ops, by call time; first 20):`);
    for (const op of rest.slice(0, 20)) lines.push('  ' + show(op));
  }
  return lines.join('\n');
}
