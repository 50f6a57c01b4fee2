/**
 * The dashboard's JSON API under /api/. Every call goes through a client of
 * the client protocol (logins.ts), so forwarding to the leader,
 * linearizable reads and auth behave exactly as for any client. Writes are
 * CSRF-safe: they must carry a JSON body and the X-Concord-Dashboard header,
 * which a cross-site form cannot send and a cross-site fetch cannot send
 * without a CORS preflight this server never grants.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { KvClient } from '../client/index.js';
import { ConcordErrorCode } from '../common/errors.js';
import { DashboardApiError, describe, readJson, send, stringField, type Json } from './api-http.js';
import type { ClusterTracker } from './cluster-view.js';
import { certificateUserOf } from './certificate-login.js';
import { memberRoute } from './members-api.js';
import { sessionsAndLeases } from './sessions-api.js';
import { livePrefix } from './watch-api.js';
import { loginIdleMs, sessionCookie, sessionIdFrom, type Logins } from './logins.js';

/** Keys one tree listing reads at most. */
export const prefixKeysMax = 5_000;
export const csrfHeader = 'x-concord-dashboard';

export interface ApiContext {
  readonly logins: Logins;
  readonly cluster: ClusterTracker;
}

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
    const { client, user } = await ctx.logins.clientFor(sessionId, certificateUserOf(request));
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
    case 'GET /api/sessions':
      return sessionsAndLeases(client);
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
    default: {
      const answer = await memberRoute(route, body, client);
      if (answer !== null) return answer;
      throw new DashboardApiError(404, ConcordErrorCode.DashboardNotFound, `no API ${route}`);
    }
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
