/**
 * `client.sessionTable`: a read-only look at the cluster's replicated session
 * table (`session.list`): how many sessions are live, those holding the most
 * saved results, those expiring first. Admin once auth is enabled.
 */
import { Method, type SessionListResponse } from '../protocol/index.js';
import type { MemberCall } from './members.js';
import type { CallOptions } from './options.js';

export interface SessionListOptions extends CallOptions {
  /** Sessions per list (default and cap 100). */
  readonly limit?: number;
}

export class SessionTableClient {
  constructor(private readonly call: MemberCall) {}

  list(options: SessionListOptions = {}): Promise<SessionListResponse> {
    const { limit, ...call } = options;
    return this.call(Method.SessionList, limit === undefined ? {} : { limit }, call);
  }
}
