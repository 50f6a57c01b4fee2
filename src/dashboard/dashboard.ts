/**
 * The dashboard as the metrics listener mounts it: `handle` answers /ui
 * (the page), /api/ (the JSON API), /api/load (Server-Sent Events, one
 * load sample a second) and /api/watch (Server-Sent Events, a prefix's
 * changes: watch-api.ts) and leaves every other path to the listener.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Registry } from 'prom-client';
import type { Clock, Timer } from '../common/clock.js';
import { ConcordErrorCode } from '../common/errors.js';
import type { TlsOptions } from '../net/index.js';
import { systemClock } from '../common/system-clock.js';
import { handleApi } from './api.js';
import { send } from './api-http.js';
import { ClusterTracker } from './cluster-view.js';
import { LoadSampler, type LoadSample } from './load.js';
import { Logins } from './logins.js';
import type { CertificateLogin } from './certificate-login.js';
import { contentSecurityPolicy, StaticFiles } from './static-files.js';
import { WatchStreams } from './watch-api.js';

/** Load streams open at once; one more is refused with 503. */
export const loadStreamsMax = 32;
const loadIntervalMs = 1_000;

export interface DashboardOptions {
  /** The member's own client URL: the API is a client of it. */
  readonly clientUrl: string;
  /** For a tls:// client URL: whom to trust and the certificate to present (the member's own; see server.ts). */
  readonly tls?: TlsOptions;
  /** Certificate logins (an https:// listener asking browsers for certificates): the member's private listener for them. */
  readonly certificates?: { readonly endpoint: string; readonly login: CertificateLogin };
  /** The member's metrics registry: the load charts show the same numbers as /metrics. */
  readonly registry: Registry;
  readonly clock?: Clock;
}

const securityHeaders = {
  'content-security-policy': contentSecurityPolicy,
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  'x-frame-options': 'DENY',
};

export class Dashboard {
  private readonly clock: Clock;
  private readonly files = new StaticFiles();
  private readonly logins: Logins;
  private readonly cluster: ClusterTracker;
  private readonly sampler: LoadSampler;
  /** The live prefix views' watch streams (bounded per member and per login). */
  readonly watches: WatchStreams;
  private readonly streams = new Set<ServerResponse>();
  private timer: Timer | null = null;

  constructor(options: DashboardOptions) {
    this.clock = options.clock ?? systemClock;
    this.logins = new Logins(options.clientUrl, this.clock, options.tls, options.certificates);
    this.cluster = new ClusterTracker(this.clock);
    this.sampler = new LoadSampler(options.registry);
    this.watches = new WatchStreams(this.logins, this.clock);
  }

  /** True when the request was the dashboard's (answered or being answered). */
  handle(request: IncomingMessage, response: ServerResponse): boolean {
    const url = new URL(request.url ?? '/', 'http://dashboard.invalid');
    const path = url.pathname;
    if (path !== '/ui' && !path.startsWith('/ui/') && !path.startsWith('/api/')) return false;
    for (const [name, value] of Object.entries(securityHeaders)) response.setHeader(name, value);
    if (path === '/api/load' && request.method === 'GET') {
      this.openLoadStream(response);
      return true;
    }
    if (path === '/api/watch' && request.method === 'GET') {
      void this.watches.serve(request, response, url);
      return true;
    }
    if (path.startsWith('/api/')) {
      void handleApi(request, response, url, { logins: this.logins, cluster: this.cluster });
      return true;
    }
    const file = request.method === 'GET' || request.method === 'HEAD' ? this.files.lookup(path) : null;
    if (file === null) {
      response.writeHead(404, { 'content-type': 'text/plain; charset=utf-8' }).end('not found\n');
      return true;
    }
    response.writeHead(200, { 'content-type': file.contentType, 'cache-control': 'no-cache' }).end(request.method === 'HEAD' ? undefined : file.body);
    return true;
  }

  private openLoadStream(response: ServerResponse): void {
    if (this.streams.size >= loadStreamsMax) return send(response, 503, { error: { code: ConcordErrorCode.DashboardBusy, message: `at most ${loadStreamsMax} load streams at once` } });
    response.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-store' });
    // A late subscriber gets the last minutes at once, then one sample a second.
    response.write(`event: history\ndata: ${JSON.stringify(this.sampler.history)}\n\n`);
    this.streams.add(response);
    response.on('close', () => {
      this.streams.delete(response);
      if (this.streams.size === 0) this.stopSampling();
    });
    if (this.timer === null) {
      void this.tick();
      this.timer = this.clock.setRepeating(loadIntervalMs, () => void this.tick());
    }
  }

  private async tick(): Promise<void> {
    let sample: LoadSample | null;
    try {
      sample = await this.sampler.sample(this.clock.nowMs(), this.clock.monotonicMs());
    } catch {
      return; // a failed registry read skips one point
    }
    if (sample === null) return;
    const frame = `event: sample\ndata: ${JSON.stringify(sample)}\n\n`;
    // A slow browser must not make this member buffer without bound: drop its stream.
    for (const stream of this.streams) {
      if (stream.writableLength > 1 << 20) stream.destroy();
      else stream.write(frame);
    }
  }

  private stopSampling(): void {
    this.timer?.cancel();
    this.timer = null;
  }

  async close(): Promise<void> {
    this.stopSampling();
    for (const stream of this.streams) stream.end();
    this.streams.clear();
    this.watches.close();
    await this.logins.close();
  }
}
