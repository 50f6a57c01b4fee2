/**
 * What becomes of a write's seq when its call ends: settled when answered or
 * proven not applied; kept for `retryWrite` (an `UnresolvedWrite`, attached
 * to the error) when the outcome is unknown; forgotten when the session ends
 * or too many newer writes have gone out. The retry loop reports each write
 * call's end here; the seq window and the bound on kept writes live here too.
 *
 * The exactly-once rule (Raft thesis §6.3; docs/client.md): a write that any
 * attempt may have applied is never sent under another session. Its outcome
 * can be learned only by re-sending the same (session, seq); once the session
 * is gone, nobody can tell, and the caller is told so (the error carries the
 * `unresolvedWrite`, in state `session-expired`).
 */
import type { Method } from '../protocol/index.js';
import { KvError, SessionExpiredError } from '../kv/errors.js';
import { AbortedError, TimeoutError, UnavailableError, type OutcomeUnknown } from './errors.js';
import type { ClientSession } from './session.js';
import { UnresolvedWrite, UnresolvedWriteState } from './unresolved-write.js';

/** See `allocateSeq`: well below the members' default sessionResultsMax (4096). */
export const unresolvedSeqWindow = 1024;

/**
 * The write a call is sending: a new write numbered in this session, or an
 * unresolved write being retried (whose earlier attempts may have applied it).
 */
export type WriteInCall = ClientSession | UnresolvedWrite;

/** A write request as sent: its fields plus the session reference. */
export interface WriteRequest {
  readonly key: Uint8Array;
  readonly value?: Uint8Array;
  readonly session: { readonly sessionId: number; readonly seq: number; readonly ackedSeq: number };
  readonly expectedVersion?: number;
  readonly expectedModRevision?: number;
}

export class UnresolvedWrites {
  /** In insertion order: the oldest first. */
  private readonly writes = new Set<UnresolvedWrite>();

  constructor(
    /** Bound on kept writes (KvClientOptions.unresolvedWritesMax): beyond it the oldest is forgotten. */
    private readonly writesMax: number,
    /** The client's current session (an unresolved write of an older one can no longer be retried). */
    private readonly currentSession: () => ClientSession | null,
  ) {}

  get list(): readonly UnresolvedWrite[] {
    return [...this.writes];
  }

  /**
   * The next seq of `session`. An unresolved write holds the session's
   * ackedSeq back, so the members keep every later result of the session;
   * they keep at most sessionResultsMax (4096 by default) and then refuse
   * writes. So a write stays retryable only while fewer than
   * `unresolvedSeqWindow` writes have been sent after it; then it is forgotten.
   */
  allocateSeq(session: ClientSession): number {
    const seq = session.allocateSeq();
    if (this.writes.size > 0) this.forgetLagging(seq);
    return seq;
  }

  /** Gives up on an unresolved write: its seq is settled, so the members may forget its saved result. */
  forget(write: UnresolvedWrite, because: UnresolvedWriteState = UnresolvedWriteState.Forgotten): void {
    if (!write.pending) return;
    write.state = because;
    this.writes.delete(write);
    write.session.settle(write.seq);
  }

  /** The write's call got its answer. */
  answered(write: WriteInCall, request: WriteRequest): void {
    if (write instanceof UnresolvedWrite) this.resolve(write);
    else write.settle(request.session.seq);
  }

  /**
   * The write's call ended with `error`; `mayHaveApplied` tells whether any
   * of its attempts may have been applied. Does the bookkeeping and returns
   * the error for the caller (with `unresolvedWrite` when the outcome is unknown).
   */
  failed(write: WriteInCall, method: Method, request: WriteRequest, error: unknown, mayHaveApplied: boolean): unknown {
    const retried = write instanceof UnresolvedWrite ? write : null;
    const session = retried?.session ?? (write as ClientSession);
    const seq = request.session.seq;
    if (error instanceof SessionExpiredError) {
      session.expired = true;
      if (retried === null && !mayHaveApplied) {
        session.settle(seq);
        return error;
      }
      // Applied or not, nobody can tell any more: say so, never send it again.
      const lost = retried ?? new UnresolvedWrite(method, writeFields(request), session, seq);
      this.forget(lost, UnresolvedWriteState.SessionExpired);
      return Object.assign(error, { unresolvedWrite: lost });
    }
    if (isOutcomeUnknown(error) && mayHaveApplied) {
      const unresolved = retried ?? new UnresolvedWrite(method, writeFields(request), session, seq);
      this.keep(unresolved);
      error.unresolvedWrite = unresolved;
      return error;
    }
    // A state machine's answer (e.g. VersionMismatchError) is the write's outcome.
    if (retried !== null && error instanceof KvError) this.resolve(retried);
    else if (retried === null) session.settle(seq);
    return error;
  }

  private resolve(write: UnresolvedWrite): void {
    if (write.pending) write.state = UnresolvedWriteState.Resolved;
    this.writes.delete(write);
    write.session.settle(write.seq);
  }

  private keep(write: UnresolvedWrite): void {
    this.writes.add(write);
    while (this.writes.size > this.writesMax) {
      const oldest = this.writes.values().next().value as UnresolvedWrite;
      this.forget(oldest);
    }
  }

  private forgetLagging(newestSeq: number): void {
    const current = this.currentSession();
    for (const write of this.writes) {
      if (write.session === current && newestSeq - write.seq <= unresolvedSeqWindow) break;
      this.forget(write, write.session === current ? UnresolvedWriteState.Forgotten : UnresolvedWriteState.SessionExpired);
    }
  }
}

/** A write request for another attempt of `write` (the same seq, a fresh ackedSeq). */
export function retryRequest(write: WriteInCall, request: WriteRequest): WriteRequest {
  const session = write instanceof UnresolvedWrite ? write.session : write;
  const fields = write instanceof UnresolvedWrite ? write.fields : writeFields(request);
  return { ...fields, session: { sessionId: session.id, seq: request.session.seq, ackedSeq: session.ackedSeq } } as WriteRequest;
}

/**
 * A write's fields as an UnresolvedWrite keeps them: every field but the session (key, value if any, the
 * conditions given, a lease or TTL, a lease method's ids); an undefined field is not a field.
 */
export function writeFields(request: WriteRequest): Readonly<Record<string, unknown>> {
  const out: Record<string, unknown> = {};
  for (const [name, value] of Object.entries(request)) if (name !== 'session' && value !== undefined) out[name] = value;
  return out;
}

function isOutcomeUnknown(error: unknown): error is Error & OutcomeUnknown {
  return error instanceof TimeoutError || error instanceof AbortedError || error instanceof UnavailableError;
}
