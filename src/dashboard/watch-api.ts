/**
 * The live prefix view's stream: `GET /api/watch?prefix=P` answers with
 * Server-Sent Events fed by a watch of P on the logged-in user's own client
 * (logins.ts), so the member checks that user's read permission on the
 * prefix exactly as for any client's watch.
 *
 * A fresh stream starts the watch first (the member fixes its start at the
 * linearizable current revision), then scans the prefix and sends it as one
 * `snapshot`; `events` follow, one SSE message per watch batch. The scan may
 * already hold some of the first events' changes: the page keeps, per key,
 * the change with the highest revision. Every message's `id:` is the next
 * revision to deliver, so the browser's EventSource reconnect (Last-Event-ID)
 * resumes the watch there, with no gap and no repeat; a resume revision that
 * was compacted starts over with a new snapshot.
 *
 * Refusals (the bounds, auth, permission) are one `failure` message on a
 * 200 stream: an EventSource cannot read a non-200 answer, and the page must
 * show why (and stop reconnecting).
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { CompactedError, type KvClient, type WatchBatch, type WatchEvent } from '../client/index.js';
import type { Clock, Timer } from '../common/clock.js';
import { ConcordErrorCode } from '../common/errors.js';
import { DashboardApiError, describe, type Json } from './api-http.js';
import { certificateUserOf } from './certificate-login.js';
import { sessionIdFrom, type Logins } from './logins.js';

/** Watch streams open at once on this member; one more gets a `failure` (CONCORD_ERR_DASHBOARD_BUSY). */
export const watchStreamsMax = 64;
/** Watch streams open at once per login (a password login, a certificate user, or everyone anonymous). */
export const watchStreamsPerLoginMax = 8;
/** An SSE comment this often keeps proxies from dropping an idle stream. */
export const watchHeartbeatMs = 15_000;
/** Keys a live view's snapshot holds at most (the page stops adding keys there too). */
export const liveKeysMax = 5_000;
/** Value characters a live prefix view shows per key. */
const previewCharsMax = 200;
/** How long the browser waits before reconnecting a dropped stream (SSE `retry:`). */
const reconnectMs = 2_000;

interface Entry extends Json {
  readonly key: string;
  readonly preview: string;
  readonly version: number;
  readonly modRevision: number;
}

export class WatchStreams {
  private readonly open = new Set<ServerResponse>();
  private readonly perLogin = new Map<string, number>();

  constructor(
    private readonly logins: Logins,
    private readonly clock: Clock,
  ) {}

  /** Streams open now (for tests and close). */
  get count(): number {
    return this.open.size;
  }

  async serve(request: IncomingMessage, response: ServerResponse, url: URL): Promise<void> {
    response.writeHead(200, { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-store', 'x-accel-buffering': 'no' });
    response.write(`retry: ${reconnectMs}\n\n`);
    let login: string | null = null;
    const abort = new AbortController();
    response.on('close', () => abort.abort());
    let heartbeat: Timer | null = null;
    try {
      const prefix = url.searchParams.get('prefix') ?? '';
      let from = resumeRevision(request.headers['last-event-id'], url.searchParams.get('rev'));
      const resolved = await this.logins.clientFor(sessionIdFrom(request.headers.cookie), certificateUserOf(request));
      if (abort.signal.aborted) return;
      if (this.open.size >= watchStreamsMax) throw busy(`at most ${watchStreamsMax} watch streams at once on this member`);
      if ((this.perLogin.get(resolved.login) ?? 0) >= watchStreamsPerLoginMax) throw busy(`at most ${watchStreamsPerLoginMax} watch streams at once per login`);
      login = resolved.login;
      this.perLogin.set(login, (this.perLogin.get(login) ?? 0) + 1);
      this.open.add(response);
      heartbeat = this.clock.setRepeating(watchHeartbeatMs, () => void response.write(': heartbeat\n\n'));
      for (;;) {
        try {
          await follow(resolved.client, prefix, from, response, abort.signal);
          return;
        } catch (error) {
          // History gone below the resume point: start over with a new snapshot.
          if (!(error instanceof CompactedError) || from === null || abort.signal.aborted) throw error;
          from = null;
        }
      }
    } catch (error) {
      if (!abort.signal.aborted) response.write(frame('failure', describe(error)));
    } finally {
      heartbeat?.cancel();
      if (login !== null) {
        this.open.delete(response);
        const left = (this.perLogin.get(login) ?? 1) - 1;
        if (left > 0) this.perLogin.set(login, left);
        else this.perLogin.delete(login);
      }
      response.end();
    }
  }

  /** Ends every stream (the member is shutting down). */
  close(): void {
    for (const response of this.open) response.destroy();
  }
}

/** Watches `prefix` from `from` (null: a snapshot first) and writes its batches until the signal or an error ends it. */
async function follow(client: KvClient, prefix: string, from: number | null, response: ServerResponse, signal: AbortSignal): Promise<void> {
  const stream = client.watch({ prefix }, { ...(from !== null ? { startRevision: from } : {}), progressNotify: true, signal });
  if (from === null) {
    const start = await stream.started;
    const snapshot = await livePrefix(client, prefix, signal);
    await write(response, frame('snapshot', { ...snapshot, revision: start - 1, keysMax: liveKeysMax }, start));
  }
  for await (const batch of stream) await write(response, batchFrame(batch));
}

/** Every key under `prefix` with a preview of its value (the live view's snapshot and `GET /api/prefix`). */
export async function livePrefix(client: KvClient, prefix: string, signal?: AbortSignal): Promise<Json> {
  const entries: Entry[] = [];
  let truncated = false;
  outer: for await (const page of client.scan({ prefix }, { limit: liveKeysMax + 1, ...(signal !== undefined ? { signal } : {}) })) {
    for (const kv of page) {
      if (entries.length >= liveKeysMax) {
        truncated = true;
        break outer;
      }
      entries.push({ key: kv.keyString(), preview: preview(kv.value), version: kv.version, modRevision: kv.modRevision });
    }
  }
  return { prefix, entries, truncated };
}

/** One SSE message: `event:`, `data:` (one line of JSON: JSON.stringify never writes a raw newline), and the resume revision as `id:`. */
export function frame(event: string, data: Json, nextRevision?: number): string {
  return `${nextRevision !== undefined ? `id: ${nextRevision}\n` : ''}event: ${event}\ndata: ${JSON.stringify(data)}\n\n`;
}

export function batchFrame(batch: WatchBatch): string {
  if (batch.progress) return frame('progress', { revision: batch.revision }, batch.revision + 1);
  return frame('events', { revision: batch.revision, events: batch.events.map(eventJson) }, batch.revision + 1);
}

function eventJson(e: WatchEvent): Json {
  return { type: e.type, key: e.kv.keyString(), preview: preview(e.kv.value), version: e.kv.version, modRevision: e.kv.modRevision };
}

function preview(value: Uint8Array): string {
  const text = new TextDecoder('utf-8', { fatal: false }).decode(value.subarray(0, previewCharsMax * 4));
  return text.length > previewCharsMax ? `${text.slice(0, previewCharsMax)}…` : text;
}

/** Writes, then waits while the browser is slow to read: the watch's own bound (the client's buffer, then the member) takes over. */
async function write(response: ServerResponse, text: string): Promise<void> {
  if (response.write(text)) return;
  await new Promise<void>((resolve) => {
    const done = (): void => {
      response.off('drain', done);
      response.off('close', done);
      resolve();
    };
    response.on('drain', done);
    response.on('close', done);
  });
}

/** Last-Event-ID (an EventSource reconnecting) over `rev` (the page asking); null: from now, with a snapshot. */
function resumeRevision(lastEventId: string | string[] | undefined, rev: string | null): number | null {
  const text = typeof lastEventId === 'string' && lastEventId !== '' ? lastEventId : rev;
  if (text === null || text === '') return null;
  if (!/^[1-9][0-9]{0,15}$/.test(text)) throw new DashboardApiError(400, ConcordErrorCode.DashboardBadRequest, 'rev (or Last-Event-ID) must be a positive revision');
  return Number(text);
}

function busy(message: string): DashboardApiError {
  return new DashboardApiError(503, ConcordErrorCode.DashboardBusy, message);
}
