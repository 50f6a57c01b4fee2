/**
 * Prometheus metrics (prom-client), served over HTTP at `<metricsUrl>/metrics`
 * when `--metrics-url` is set, beside the health endpoints (health.ts:
 * /livez, /readyz, /health). One registry per member (not the global one),
 * so that several members in one process (tests) do not collide. The
 * `concord_server_*`, `concord_disk_*`, `concord_network_*` and
 * `concord_mvcc_*` families carry etcd's names (docs/operations.md, Metrics)
 * so that etcd's dashboards and alerts carry over.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer, type ServerOptions as HttpsOptions } from 'node:https';
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { Handlers, MethodTable } from '../net/index.js';
import { InvalidConfigError } from './config.js';
import { healthEndpoint, type HealthInputs } from './health.js';

export interface MemberGauges {
  term(): number;
  commitIndex(): number;
  appliedIndex(): number;
  snapshotIndex(): number;
  isLeader(): boolean;
  inflight(): number;
  /** The leader known in the current term, or null. */
  leaderId(): string | null;
  storageFailed(): boolean;
  /** Proposals this member accepted and has not answered yet. */
  pendingProposals(): number;
  /** Bytes of the data directory on disk (WAL and snapshots). */
  dataSizeBytes(): number;
  /** Live client sessions, and the accounted bytes of the session table (src/kv/session-quotas.ts). */
  sessions(): number;
  sessionTableBytes(): number;
  /** Bytes sent to and received from each peer so far (monotonic). */
  peerTrafficBytes(): readonly { peer: string; sentBytes: number; receivedBytes: number }[];
  /** Milliseconds since the Raft host last ticked (see health.ts). */
  sinceLastTickMs(): number;
  readonly liveTickGapMaxMs: number;
}

/** Before the member is built: live, not ready. */
const notStarted: HealthInputs = {
  leaderId: () => null,
  commitIndex: () => 0,
  appliedIndex: () => 0,
  storageFailed: () => false,
  sinceLastTickMs: () => 0,
  liveTickGapMaxMs: 1,
};

/** prometheus.ExponentialBuckets(start, factor, count), as etcd builds its histograms. */
function exponentialBuckets(start: number, factor: number, count: number): number[] {
  return Array.from({ length: count }, (_, i) => start * factor ** i);
}

export class ServerMetrics {
  readonly registry = new Registry();
  readonly requests: Counter<'method' | 'code'>;
  readonly requestSeconds: Histogram<'method'>;
  readonly persistSeconds: Histogram;
  readonly readyEntries: Histogram;
  readonly proposals: Counter;
  readonly readIndexRequests: Counter;
  /** etcd_server_leader_changes_seen_total: times this member saw a new leader. */
  readonly leaderChanges: Counter;
  /** etcd_server_proposals_failed_total: proposals answered with an error (timeout, leader change, refusal). */
  readonly proposalsFailed: Counter;
  /** etcd_disk_wal_fsync_duration_seconds: one durable write of the log (write + fdatasync, one group commit). */
  readonly walFsyncSeconds: Histogram;
  /** etcd_network_peer_round_trip_time_seconds, by peer (label To). */
  readonly peerRoundTripSeconds: Histogram<'To'>;
  readonly peerSentBytes: Counter<'To'>;
  readonly peerReceivedBytes: Counter<'From'>;
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
    gauge('concord_server_has_leader', '1 when this member knows a leader of its current term (etcd_server_has_leader)', (g) => (g.leaderId() !== null && !g.storageFailed() ? 1 : 0));
    gauge('concord_server_is_leader', '1 when this member is the leader (etcd_server_is_leader)', (g) => (g.isLeader() ? 1 : 0));
    // etcd exports these two as gauges holding the commit and applied index despite the _total suffix; so do we.
    gauge('concord_server_proposals_committed_total', 'highest log index known committed (etcd_server_proposals_committed_total)', (g) => g.commitIndex());
    gauge('concord_server_proposals_applied_total', 'highest log index applied (etcd_server_proposals_applied_total)', (g) => g.appliedIndex());
    gauge('concord_server_proposals_pending', 'proposals accepted and not answered yet (etcd_server_proposals_pending)', (g) => g.pendingProposals());
    gauge('concord_server_storage_failed', '1 once the storage failed (the member refuses writes and leaves the cluster until restarted)', (g) => (g.storageFailed() ? 1 : 0));
    gauge('concord_sessions', 'live client sessions in the replicated session table (bounded by --sessions-max)', (g) => g.sessions());
    gauge('concord_session_table_bytes', 'accounted bytes of sessions and saved results (bounded by --session-table-bytes-max)', (g) => g.sessionTableBytes());
    gauge('concord_mvcc_db_total_size_in_bytes', 'bytes of the data directory on disk: WAL and snapshots (etcd_mvcc_db_total_size_in_bytes)', (g) => g.dataSizeBytes());
    this.leaderChanges = new Counter({ name: 'concord_server_leader_changes_seen_total', help: 'leader changes this member saw (etcd_server_leader_changes_seen_total)', registers: [this.registry] });
    this.proposalsFailed = new Counter({ name: 'concord_server_proposals_failed_total', help: 'proposals answered with an error (etcd_server_proposals_failed_total)', registers: [this.registry] });
    this.walFsyncSeconds = new Histogram({
      name: 'concord_disk_wal_fsync_duration_seconds',
      help: 'time to make one batch of log entries durable, write and fdatasync (etcd_disk_wal_fsync_duration_seconds)',
      buckets: exponentialBuckets(0.001, 2, 14),
      registers: [this.registry],
    });
    this.peerRoundTripSeconds = new Histogram({
      name: 'concord_network_peer_round_trip_time_seconds',
      help: 'heartbeat round trip to each follower, measured by the leader (etcd_network_peer_round_trip_time_seconds)',
      labelNames: ['To'],
      buckets: exponentialBuckets(0.0001, 2, 14),
      registers: [this.registry],
    });
    // The links count their bytes; a scrape adds what moved since the last one.
    const reported = new Map<string, { sentBytes: number; receivedBytes: number }>();
    const collectTraffic = (): void => {
      const g = gauges();
      if (g === null) return;
      for (const t of g.peerTrafficBytes()) {
        const last = reported.get(t.peer) ?? { sentBytes: 0, receivedBytes: 0 };
        if (t.sentBytes > last.sentBytes) this.peerSentBytes.inc({ To: t.peer }, t.sentBytes - last.sentBytes);
        if (t.receivedBytes > last.receivedBytes) this.peerReceivedBytes.inc({ From: t.peer }, t.receivedBytes - last.receivedBytes);
        reported.set(t.peer, { sentBytes: Math.max(t.sentBytes, last.sentBytes), receivedBytes: Math.max(t.receivedBytes, last.receivedBytes) });
      }
    };
    this.peerSentBytes = new Counter({
      name: 'concord_network_peer_sent_bytes_total',
      help: 'bytes sent to each peer (etcd_network_peer_sent_bytes_total)',
      labelNames: ['To'],
      registers: [this.registry],
      collect: collectTraffic,
    });
    this.peerReceivedBytes = new Counter({
      name: 'concord_network_peer_received_bytes_total',
      help: 'bytes received from each peer (etcd_network_peer_received_bytes_total)',
      labelNames: ['From'],
      registers: [this.registry],
      collect: collectTraffic,
    });
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

  /** What the health endpoints read (null until the member is built: then not ready). */
  private healthInputs(): HealthInputs | null {
    const g = this.gauges;
    if (g === null) return null;
    return {
      leaderId: () => (g.storageFailed() ? null : g.leaderId()),
      commitIndex: () => g.commitIndex(),
      appliedIndex: () => g.appliedIndex(),
      storageFailed: () => g.storageFailed(),
      sinceLastTickMs: () => g.sinceLastTickMs(),
      liveTickGapMaxMs: g.liveTickGapMaxMs,
    };
  }

  /**
   * Serves GET /metrics, /livez, /readyz and /health at `url` (http://host:port),
   * and whatever `mount` (the web dashboard) answers for before those.
   */
  /** `https` (for an https:// URL): the certificate, and whether to ask browsers for theirs (the dashboard's certificate login). */
  async listen(url: string, mount?: (request: IncomingMessage, response: ServerResponse) => boolean, https?: HttpsOptions): Promise<{ address: string; close(): Promise<void> }> {
    let parsed: URL;
    try {
      parsed = new URL(url);
    } catch {
      throw new InvalidConfigError(`metricsUrl "${url}" is not a URL like http://127.0.0.1:9101`);
    }
    if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') throw new InvalidConfigError(`metricsUrl "${url}" must be http://host:port`);
    if (parsed.protocol === 'https:' && https === undefined) throw new InvalidConfigError(`metricsUrl "${url}" needs a certificate`);
    const answer = (request: IncomingMessage, response: ServerResponse): void => {
      if (mount !== undefined && mount(request, response)) return;
      const target = new URL(request.url ?? '/', 'http://metrics.invalid');
      if (request.method === 'GET' && target.pathname !== '/metrics') {
        const inputs = this.healthInputs();
        const answer = healthEndpoint(target.pathname, target.searchParams, inputs ?? notStarted);
        if (answer !== null) {
          response.writeHead(answer.status, { 'content-type': answer.contentType }).end(answer.body);
          return;
        }
      }
      if (request.method !== 'GET' || target.pathname !== '/metrics') {
        response.writeHead(404).end('not found; try /metrics, /livez, /readyz or /health\n');
        return;
      }
      this.registry.metrics().then(
        (body) => response.writeHead(200, { 'content-type': this.registry.contentType }).end(body),
        (error: unknown) => response.writeHead(500).end(String(error)),
      );
    };
    const server: Server = parsed.protocol === 'https:' ? createHttpsServer(https!, answer) : createServer(answer);
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(Number(parsed.port || 80), parsed.hostname.replace(/^\[|\]$/g, ''), () => resolve());
    });
    const bound = server.address();
    const port = typeof bound === 'object' && bound !== null ? bound.port : Number(parsed.port);
    return {
      address: `${parsed.protocol}//${parsed.hostname}:${port}`,
      close: () =>
        new Promise<void>((resolve) => {
          server.close(() => resolve());
          // Open event streams (the dashboard's load) would hold close() forever.
          server.closeAllConnections();
        }),
    };
  }
}
