/**
 * The HTTP side of the dashboard's API: JSON bodies in (bounded), JSON
 * answers out, and an HTTP status for each of the member's typed errors
 * (the error's own code and message reach the page unchanged).
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import {
  AuthenticationFailedError,
  KvError,
  LeaderTransferFailedError,
  LearnerNotCaughtUpError,
  MemberChangePendingError,
  MemberExistsError,
  MemberNotFoundError,
  MemberNotLearnerError,
  PermissionDeniedError,
  QuorumAtRiskError,
  ServerError,
} from '../client/index.js';
import { ConcordError, ConcordErrorCode } from '../common/errors.js';

/** Largest JSON body the API reads (a value up to 1 MiB, base64 in JSON). */
export const apiBodyBytesMax = 1_500_000;

export type Json = Record<string, unknown>;

/** An answer of the API itself (not of the member): its HTTP status and code. */
export class DashboardApiError extends ConcordError {
  constructor(
    readonly status: number,
    code: ConcordErrorCode,
    message: string,
  ) {
    super(code, message);
  }
}

export function stringField(body: Json, name: string, allowEmpty = false): string {
  const v = body[name];
  if (typeof v !== 'string' || (!allowEmpty && v === '')) throw new DashboardApiError(400, ConcordErrorCode.DashboardBadRequest, `${name} must be a non-empty string`);
  return v;
}

export async function readJson(request: IncomingMessage): Promise<Json> {
  if (!(request.headers['content-type'] ?? '').startsWith('application/json')) throw new DashboardApiError(415, ConcordErrorCode.DashboardBadRequest, 'send application/json');
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of request) {
    size += (chunk as Buffer).length;
    if (size > apiBodyBytesMax) throw new DashboardApiError(413, ConcordErrorCode.DashboardBodyTooLarge, `request body over ${apiBodyBytesMax} bytes`);
    chunks.push(chunk as Buffer);
  }
  if (size === 0) return {};
  try {
    const parsed: unknown = JSON.parse(Buffer.concat(chunks).toString('utf8'));
    if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw new Error('not an object');
    return parsed as Json;
  } catch {
    throw new DashboardApiError(400, ConcordErrorCode.DashboardBadRequest, 'the body is not a JSON object');
  }
}

/** An HTTP status for the member's typed errors (the code is the protocol's, shown on the page). */
export function describe(error: unknown): { status: number; code: string; message: string } {
  if (error instanceof DashboardApiError) return { status: error.status, code: error.code, message: error.message };
  const code = (error as { code?: unknown }).code;
  const message = error instanceof Error ? error.message : String(error);
  const codeText = typeof code === 'string' ? code : 'unknown';
  if (error instanceof AuthenticationFailedError) return { status: 401, code: codeText, message };
  if (error instanceof PermissionDeniedError) return { status: 403, code: codeText, message };
  if (error instanceof KvError || isMembershipRefusal(error)) return { status: 409, code: codeText, message };
  if (error instanceof ServerError) return { status: 502, code: codeText, message };
  return { status: 503, code: codeText, message };
}

export function send(response: ServerResponse, status: number, body: Json): void {
  if (response.headersSent) return;
  response.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store' }).end(JSON.stringify(body));
}

/** The cluster refused a membership change (the message says why: quorum, catch-up, a change pending). */
function isMembershipRefusal(error: unknown): boolean {
  return [MemberNotFoundError, MemberExistsError, MemberChangePendingError, MemberNotLearnerError, LearnerNotCaughtUpError, QuorumAtRiskError, LeaderTransferFailedError].some((type) => error instanceof type);
}
