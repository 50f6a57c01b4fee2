/**
 * The dashboard's JSON API under /api/. Every call goes through a client of
 * the client protocol (logins.ts), so forwarding to the leader,
 * linearizable reads and auth behave exactly as for any client. Writes are
 * CSRF-safe: they must carry a JSON body and the X-Concord-Dashboard header,
 * which a cross-site form cannot send and a cross-site fetch cannot send
 * without a CORS preflight this server never grants.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { AuthenticationFailedError, KvError, PermissionDeniedError, ServerError, type KvClient } from '../client/index.js';
import { ConcordError, ConcordErrorCode } from '../common/errors.js';
import type { ClusterTracker } from './cluster-view.js';
import { loginIdleMs, sessionCookie, sessionIdFrom, type Logins } from './logins.js';

/** Largest JSON body the API reads (a value up to 1 MiB, base64 in JSON). */
export const apiBodyBytesMax = 1_500_000;
/** Keys one tree listing or live prefix view reads at most. */
export const prefixKeysMax = 5_000;
/** Value characters a live prefix view shows per key. */
const previewCharsMax = 200;
export const csrfHeader = 'x-concord-dashboard';

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

export interface ApiContext {
  readonly logins: Logins;
  readonly cluster: ClusterTracker;
}

type Json = Record<string, unknown>;

export async function handleApi(request: IncomingMessage, response: ServerResponse, url: URL, ctx: ApiContext): Promise<void> {
  try {
    const method = request.method ?? 'GET';
    if (method !== 'GET' && request.headers[csrfHeader] !== '1') throw new DashboardApiError(403, ConcordErrorCode.DashboardCsrf, `writes need the ${csrfHeader} header`);
    const body = method === 'GET' ? {} : await readJson(request);
    const sessionId = sessionIdFrom(request.headers.cookie);
    const route = `${method} ${url.pathname}`;
    if (route === 'POST /api/login') {
      const user = stringField(body, 'user');
      const id = await ctx.logins.login(user, stringField(body, 'password'));
      response.setHeader('set-cookie', `${sessionCookie}=${id}; Path=/; HttpOnly; SameSite=Strict; Max-Age=${loginIdleMs / 1000}`);
      return send(response, 200, { user });
    }
    if (route === 'POST /api/logout') {
      await ctx.logins.logout(sessionId);
      response.setHeader('set-cookie', `${sessionCookie}=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0`);
      return send(response, 200, {});
    }
    const { client, user } = await ctx.logins.clientFor(sessionId);
    send(response, 200, { user, ...(await route_(route, url.searchParams, body, client, ctx)) });
  } catch (error) {
    const { status, code, message } = describe(error);
    send(response, status, { error: { code, message } });
  }
}

async function route_(route: string, query: URLSearchParams, body: Json, client: KvClient, ctx: ApiContext): Promise<Json> {
  switch (route) {
    case 'GET /api/status':
      return { cluster: await ctx.cluster.view(client) };
    case 'GET /api/tree':
      return tree(client, query.get('prefix') ?? '');
    case 'GET /api/prefix':
      return livePrefix(client, query.get('prefix') ?? '');
    case 'GET /api/key': {
      const key = query.get('key') ?? '';
      if (key === '') throw new DashboardApiError(400, ConcordErrorCode.DashboardBadRequest, 'key is required');
      const kv = await client.get(key);
      if (kv === null) throw new DashboardApiError(404, ConcordErrorCode.DashboardNotFound, `no key ${JSON.stringify(key)}`);
      return { key, value: Buffer.from(kv.value).toString('base64'), version: kv.version, createRevision: kv.createRevision, modRevision: kv.modRevision };
    }
    case 'PUT /api/key': {
      const key = stringField(body, 'key');
      const value = Buffer.from(stringField(body, 'value', true), typeof body.encoding === 'string' && body.encoding === 'base64' ? 'base64' : 'utf8');
      const written = await client.put(key, value);
      return { written };
    }
    case 'DELETE /api/key':
      return { deleted: await client.delete(stringField(body, 'key')) };
    case 'POST /api/leader/transfer':
      return { transfer: await client.leader.transfer(typeof body.to === 'string' && body.to !== '' ? body.to : undefined) };
    default:
      throw new DashboardApiError(404, ConcordErrorCode.DashboardNotFound, `no API ${route}`);
  }
}

/** The next `/`-separated level under `prefix`: child folders (with key counts) and keys. */
async function tree(client: KvClient, prefix: string): Promise<Json> {
  const folders = new Map<string, number>();
  const keys: string[] = [];
  let read = 0;
  let truncated = false;
  outer: for await (const page of client.scan({ prefix }, { limit: prefixKeysMax + 1 })) {
    for (const entry of page) {
      if (++read > prefixKeysMax) {
        truncated = true;
        break outer;
      }
      const rest = entry.keyString().slice(prefix.length);
      const slash = rest.indexOf('/');
      if (slash < 0) keys.push(prefix + rest);
      else {
        const folder = prefix + rest.slice(0, slash + 1);
        folders.set(folder, (folders.get(folder) ?? 0) + 1);
      }
    }
  }
  return { prefix, folders: [...folders].map(([name, count]) => ({ name, count })), keys, truncated };
}

/**
 * Every key under `prefix` with a preview of its value. The page polls it
 * every second; when watch lands this is the seam to switch to a stream.
 */
async function livePrefix(client: KvClient, prefix: string): Promise<Json> {
  const entries: Json[] = [];
  let truncated = false;
  outer: for await (const page of client.scan({ prefix }, { limit: prefixKeysMax + 1 })) {
    for (const entry of page) {
      if (entries.length >= prefixKeysMax) {
        truncated = true;
        break outer;
      }
      entries.push({ key: entry.keyString(), preview: preview(entry.value), version: entry.version, modRevision: entry.modRevision });
    }
  }
  return { prefix, entries, truncated };
}

function preview(value: Uint8Array): string {
  const text = new TextDecoder('utf-8', { fatal: false }).decode(value.subarray(0, previewCharsMax * 4));
  return text.length > previewCharsMax ? `${text.slice(0, previewCharsMax)}…` : text;
}

function stringField(body: Json, name: string, allowEmpty = false): string {
  const v = body[name];
  if (typeof v !== 'string' || (!allowEmpty && v === '')) throw new DashboardApiError(400, ConcordErrorCode.DashboardBadRequest, `${name} must be a non-empty string`);
  return v;
}

async function readJson(request: IncomingMessage): Promise<Json> {
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
function describe(error: unknown): { status: number; code: string; message: string } {
  if (error instanceof DashboardApiError) return { status: error.status, code: error.code, message: error.message };
  const code = (error as { code?: unknown }).code;
  const message = error instanceof Error ? error.message : String(error);
  const codeText = typeof code === 'string' ? code : 'unknown';
  if (error instanceof AuthenticationFailedError) return { status: 401, code: codeText, message };
  if (error instanceof PermissionDeniedError) return { status: 403, code: codeText, message };
  if (error instanceof KvError) return { status: 409, code: codeText, message };
  if (error instanceof ServerError) return { status: 502, code: codeText, message };
  return { status: 503, code: codeText, message };
}

export function send(response: ServerResponse, status: number, body: Json): void {
  if (response.headersSent) return;
  response.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store' }).end(JSON.stringify(body));
}
