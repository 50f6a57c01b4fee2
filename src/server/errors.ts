/**
 * Errors a member answers clients with. Each carries a stable protocol code
 * (src/protocol/error-codes.ts) and `details` that the net layer's RPC passes
 * to the caller unchanged (e.g. the leader hint of NotLeader).
 */
import { ConcordError } from '../common/errors.js';
import { ErrorCode } from '../protocol/index.js';

/** An error a member returns to a client, with the protocol's stable code and details. */
export class ServerError extends ConcordError {
  constructor(
    code: string,
    message: string,
    readonly details: Record<string, unknown> = {},
    options?: { cause?: unknown },
  ) {
    super(code, message, options);
  }
}

export function overloaded(queue: string, limit: number): ServerError {
  return new ServerError(ErrorCode.Overloaded, `${queue} is full (${limit} waiting); retry later`, { queue, limit });
}
