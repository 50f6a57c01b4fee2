/**
 * Prometheus metrics (prom-client), served over HTTP at `<metricsUrl>/metrics`
 * when `--metrics-url` is set. One registry per member (not the global one),
 * so that several members in one process (tests) do not collide.
 */
import { createServer, type Server } from 'node:http';
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { Handlers, MethodTable } from '../net/index.js';
import { InvalidConfigError } from './config.js';

export interface MemberGauges {
  term(): number;
  commitIndex(): number;
  appliedIndex(): number;
  snapshotIndex(): number;
  isLeader(): boolean;
  inflight(): number;
}

export class ServerMetrics {
  readonly registry = new Registry();
  readonly requests: Counter<'method' | 'code'>;
  readonly requestSeconds: Histogram<'method'>;
  readonly persistSeconds: Histogram;
  readonly readyEntries: Histogram;
  readonly proposals: Counter;
  readonly readIndexRequests: Counter;
  private gauges: MemberGauges | null = null;

  constructor(member: string) {
    const gauges = () => this.gauges;
    this.registry.setDefaultLabels({ member });
    collectDefaultMetrics({ register: this.registry });
    const gauge = (name: string, help: string, read: (g: MemberGauges) => number): void => {
      new Gauge({
        name,
        help,
        registers: [this.registry],
        collect() {
          const g = gauges();
          if (g !== null) this.set(read(g));
        },
      });
    };
    gauge('concord_raft_term', 'current Raft term', (g) => g.term());
    gauge('concord_raft_commit_index', 'highest log index known committed', (g) => g.commitIndex());
    gauge('concord_raft_applied_index', 'highest log index applied to the state machine', (g) => g.appliedIndex());
    gauge('concord_snapshot_index', 'index of the latest snapshot', (g) => g.snapshotIndex());
    gauge('concord_is_leader', '1 when this member is the leader', (g) => (g.isLeader() ? 1 : 0));
    gauge('concord_requests_inflight', 'proposals and reads waiting on this member', (g) => g.inflight());
    this.requests = new Counter({ name: 'concord_requests_total', help: 'client requests by method and outcome code', labelNames: ['method', 'code'], registers: [this.registry] });
    this.requestSeconds = new Histogram({
      name: 'concord_request_duration_seconds',
      help: 'client request latency by method',
      labelNames: ['method'],
      buckets: [0.0002, 0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.5, 1, 5],
      registers: [this.registry],
    });
    this.persistSeconds = new Histogram({
      name: 'concord_persist_duration_seconds',
      help: 'time to make one Ready durable (one group commit)',
      buckets: [0.0001, 0.0002, 0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.5],
      registers: [this.registry],
    });
    this.readyEntries = new Histogram({
      name: 'concord_ready_entries',
      help: 'log entries persisted per Ready (proposal batching)',
      buckets: [1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024],
      registers: [this.registry],
    });
    this.proposals = new Counter({ name: 'concord_proposals_total', help: 'commands proposed by this member', registers: [this.registry] });
    this.readIndexRequests = new Counter({ name: 'concord_read_index_requests_total', help: 'ReadIndex rounds (one per batch of linearizable reads)', registers: [this.registry] });
  }

  /** Where the gauges read from, once the member is built (until then they report nothing). */
  watch(gauges: MemberGauges): void {
    this.gauges = gauges;
  }

  /**
   * The same handlers, each timed and counted by method and outcome code.
   * Label children are looked up once: prom-client hashes the labels on every unbound call.
   */
  withMetrics<M extends MethodTable<any>>(handlers: Handlers<M>): Handlers<M> {
    const out: Record<string, (request: never, context: never) => Promise<unknown>> = {};
    for (const [name, handler] of Object.entries(handlers as Record<string, (request: never, context: never) => Promise<unknown>>)) {
      const seconds = this.requestSeconds.labels(name);
      const succeeded = this.requests.labels(name, 'ok');
      const requests = this.requests;
      out[name] = (request, context) => {
        const done = seconds.startTimer();
        return handler(request, context).then(
          (response) => {
            done();
            succeeded.inc();
            return response;
          },
          (error: unknown) => {
            done();
            requests.inc({ method: name, code: (error as { code?: string }).code ?? 'unknown' });
            throw error;
          },
        );
      };
    }
    return out as unknown as Handlers<M>;
  }

  /** Serves GET /metrics at `url` (http://host:port). */
  async listen(url: string): Promise<{ address: string; close(): Promise<void> }> {
    let parsed: URL;
    try {
      parsed = new URL(url);
    } catch {
      throw new InvalidConfigError(`metricsUrl "${url}" is not a URL like http://127.0.0.1:9101`);
    }
    if (parsed.protocol !== 'http:') throw new InvalidConfigError(`metricsUrl "${url}" must be http://host:port`);
    const server: Server = createServer((request, response) => {
      if (request.method !== 'GET' || (request.url ?? '/').split('?')[0] !== '/metrics') {
        response.writeHead(404).end('not found; try /metrics\n');
        return;
      }
      this.registry.metrics().then(
        (body) => response.writeHead(200, { 'content-type': this.registry.contentType }).end(body),
        (error: unknown) => response.writeHead(500).end(String(error)),
      );
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(Number(parsed.port || 80), parsed.hostname.replace(/^\[|\]$/g, ''), () => resolve());
    });
    const bound = server.address();
    const port = typeof bound === 'object' && bound !== null ? bound.port : Number(parsed.port);
    return {
      address: `http://${parsed.hostname}:${port}`,
      close: () => new Promise<void>((resolve) => server.close(() => resolve())),
    };
  }
}
