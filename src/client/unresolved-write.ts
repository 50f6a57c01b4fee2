/**
 * A write whose outcome the client could not learn before its deadline: it
 * may or may not have been applied. It keeps the exact request (session id and
 * seq included) so that `KvClient.retryWrite()` can send it again: the state
 * machine applies a (session, seq) at most once and answers a retry with the
 * original result, so the caller learns what happened without risking a
 * second application.
 */
import type { Method } from '../protocol/index.js';
import type { ClientSession } from './session.js';

export const UnresolvedWriteState = {
  Pending: 'pending',
  /** `retryWrite` learned its outcome. */
  Resolved: 'resolved',
  /** Given up on (`forgetWrite`, or too many newer writes): the server may have discarded its result. */
  Forgotten: 'forgotten',
  /** Its session ended: nobody can tell any more whether it was applied. */
  SessionExpired: 'session-expired',
} as const;
export type UnresolvedWriteState = (typeof UnresolvedWriteState)[keyof typeof UnresolvedWriteState];

export class UnresolvedWrite {
  state: UnresolvedWriteState = UnresolvedWriteState.Pending;

  get pending(): boolean {
    return this.state === UnresolvedWriteState.Pending;
  }

  constructor(
    readonly method: Method,
    /** The request without its `session` field (that is rebuilt on every send, with a fresh ackedSeq). */
    readonly fields: Readonly<Record<string, unknown>>,
    readonly session: ClientSession,
    readonly seq: number,
  ) {}

  get sessionId(): number {
    return this.session.id;
  }
}
