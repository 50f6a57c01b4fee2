/**
 * Between a client write request and the state machine: the command a
 * put/update request proposes, the session TTL a request may ask for, and the
 * response an applied write's result becomes (kv-service.ts serves them).
 */
import { CommandKind, ResultKind, type ApplyResult, type Command } from '../kv/index.js';
import { protocolLimits, writeConditions, type Method, type MethodTypes, type ResponseHeader } from '../protocol/index.js';
import { internalError } from './errors.js';

type Request<M extends Method> = MethodTypes[M]['request'];
type Response<M extends Method> = MethodTypes[M]['response'];
/** The methods whose applied result writeResponse shapes. */
export type WriteMethod = 'kv.put' | 'kv.update' | 'kv.delete' | 'session.open' | 'session.keepAlive' | 'session.close' | 'lease.grant' | 'lease.revoke' | 'lease.keepAlive' | 'kv.compact';

/** The applied result as the method's response (`header`: this leader's, whose revision includes the write). */
export function writeResponse<M extends WriteMethod>(method: M, result: ApplyResult, header: ResponseHeader): Response<M> {
  switch (method) {
    case 'kv.put':
    case 'kv.update':
      if (result.kind !== ResultKind.Write) throw unexpected(result);
      return { header, revision: result.modRevision, version: result.version } as Response<M>;
    case 'kv.delete':
      if (result.kind !== ResultKind.Delete) throw unexpected(result);
      return { header, revision: result.revision, deleted: result.deleted } as Response<M>;
    case 'session.open':
      if (result.kind !== ResultKind.SessionOpened) throw unexpected(result);
      return { header, sessionId: result.sessionId, ttlMs: result.ttlMs } as Response<M>;
    case 'lease.grant':
      if (result.kind !== ResultKind.LeaseGranted) throw unexpected(result);
      return { header, id: result.id, ttlMs: result.ttlMs } as Response<M>;
    case 'lease.revoke':
      if (result.kind !== ResultKind.LeaseDeleted) throw unexpected(result);
      return { header, revision: result.revision, deletedKeys: result.keys } as Response<M>;
    case 'lease.keepAlive':
      if (result.kind !== ResultKind.LeaseKeptAlive) throw unexpected(result);
      return { header, ttls: result.ttls } as Response<M>;
    default:
      return { header } as Response<M>;
  }
}

export function writeCommand(
  kind: typeof CommandKind.Put | typeof CommandKind.Update,
  request: Request<'kv.put'> | Request<'kv.update'>,
): Command {
  const command = { kind, key: request.key, value: request.value, session: request.session, ...writeConditions(request) };
  const keepValue = kind === CommandKind.Update && (request as Request<'kv.update'>).keepValue === true;
  if ((request.lease ?? 0) === 0 && (request.ttlMs ?? 0) === 0 && (request.expiresAtMs ?? 0) === 0 && request.keepTtl !== true && !keepValue) return command;
  return {
    ...command,
    ...(request.lease !== undefined && request.lease !== 0 ? { lease: request.lease } : {}),
    ...(request.ttlMs !== undefined && request.ttlMs !== 0 ? { ttlMs: request.ttlMs } : {}),
    ...(request.expiresAtMs !== undefined && request.expiresAtMs !== 0 ? { expiresAtMs: request.expiresAtMs } : {}),
    ...(request.keepTtl === true ? { keepTtl: true } : {}),
    ...(keepValue ? { keepValue: true } : {}),
  } as Command;
}

export function clampTtl(ttlMs: number): number {
  if (ttlMs === 0) return 0;
  return Math.min(Math.max(ttlMs, protocolLimits.sessionTtlMinMs), protocolLimits.sessionTtlMaxMs);
}

export function unexpected(result: ApplyResult): Error {
  return internalError(`unexpected result kind ${result.kind}`);
}
