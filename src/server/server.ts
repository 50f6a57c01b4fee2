/**
 * `startServer(config)`: one Concord member. It opens the data directory
 * (locked), restores the key-value state from the latest snapshot, starts the
 * Raft core over the durable log, listens on the peer URL (Raft traffic and
 * forwarded requests) and the client URL, and starts the clock.
 */
import { mkdirSync, readFileSync } from 'node:fs';
import { serverVersion } from './version.js';
import { KvStateMachine } from '../kv/index.js';
import { InboundBudget, RpcServer, listen, parseAddress, type Listener, type TlsOptions } from '../net/index.js';
import { clientMethods, type StatusResponse } from '../protocol/index.js';
import { ClientService } from './kv-service.js';
import { listenResp, respClusterTopology, type RespListener } from './resp-listener.js';
import { KvReplica, kvStateMachinePort } from './kv-replica.js';
import { LeaseExpirer } from './lease-expirer.js';
import { startWatches } from './watch-wiring.js';
import { StartingIdentity } from './member-status.js';
import { InvalidConfigError, type ServerConfig } from './config.js';
import { checkMayBootstrap, checkMayJoin } from './bootstrap-probe.js';
import { InitialClusterState } from './config.js';
import { MemberTable } from './member-table.js';
import { withMemberTable } from './membership-snapshot.js';
import { MembershipService } from './member-changes.js';
import { quorumReachable, transferLeadership } from './leader-transfer.js';
import { ConcordErrorCode } from '../common/errors.js';
import { createLogger, type Logger } from './logger.js';
import { readMemberFile, writeMemberFile } from './member-file.js';
import { PeerNetwork } from './peer-network.js';
import { peerMessages, type PeerMessages } from './peer-protocol.js';
import { RaftHost } from './raft-host.js';
import { ServerMetrics } from './metrics.js';
import { CertificateLogin, Dashboard } from '../dashboard/index.js';
import { DataDirSize } from './data-size.js';
import { PeerRoundTrips } from './peer-traffic.js';
import { createRaftCore } from './raft-core-adapter.js';
import { openHostStorage } from './storage-adapter.js';
import type { Disk, StorageFailedError } from '../storage/index.js';
import { ServerExitCode } from './exit-codes.js';
import { EntryClock, observingEntryTime } from './entry-clock.js';
import type { Clock } from '../common/clock.js';
import type { RandomSource } from '../common/rng.js';
import { systemClock, systemRandom } from '../common/system-clock.js';
import { SnapshotStreams } from './snapshot-streams.js';

export interface RunningServer {
  readonly config: ServerConfig;
  /** The bound client address (the real port when configured with port 0). */
  readonly clientUrl: string;
  readonly peerUrl: string;
  /** The bound RESP address (--resp-url), or null when the Redis front end is off. */
  readonly respUrl: string | null;
  /** This member's status, as `cluster.status` reports it. */
  status(): Omit<StatusResponse, 'header'>;
  /**
   * Graceful shutdown: stop accepting requests, let in-flight ones finish, a
   * leader hands leadership to the most up-to-date follower, then close the
   * listeners, links and storage (everything acknowledged is already durable).
   * Idempotent.
   */
  close(): Promise<void>;
  /**
   * Resolves (it never rejects) if the member stopped itself after a real
   * storage failure (EIO on write or fdatasync, see exit-codes.ts): it has
   * closed its listeners, peer links and storage without answering anything
   * more. A process running one member exits with ServerExitCode.StorageFailed.
   */
  readonly failed: Promise<StorageFailedError>;
  /**
   * Resolves (it never rejects) once this member learned it was removed from
   * the cluster and stopped itself (it logged why, with
   * CONCORD_ERR_MEMBER_REMOVED). A process running one member exits with
   * ServerExitCode.Removed.
   */
  readonly removed: Promise<void>;
}

/** Largest frame on client and peer connections: a value at the limit plus headroom, or an append batch. */
function frameBytesMaxFor(config: ServerConfig): number {
  return Math.max(16 * 1024 * 1024, 2 * (config.valueBytesMax + config.keyBytesMax) + 64 * 1024);
}


/**
 * Bounds on inbound connections that no client can exhaust (issue 12 §3; docs/security.md),
 * from the configuration (defaults in config.ts). The per-listener connection cap defaults to
 * half the soft fd limit less a storage reserve (src/net/inbound-limits.ts); both listeners of
 * a member share one partial-frame budget. Peers get no idle timeout (heartbeats keep links
 * busy), and the same handshake and rate bounds.
 */
function connectionBoundsOf(config: ServerConfig, inboundBudget: InboundBudget): { client: ConnectionBounds; peer: ConnectionBounds } {
  const peer: ConnectionBounds = {
    handshakeTimeoutMs: config.handshakeTimeoutMs,
    receiveRateMinBytesPerSec: config.receiveRateMinBytesPerSec,
    receiveRateGraceMs: config.receiveRateGraceMs,
    inboundBudget,
    ...(config.connectionsMax === undefined ? {} : { connectionsMax: config.connectionsMax }),
  };
  return { peer, client: { ...peer, idleTimeoutMs: config.idleTimeoutMs } };
}

interface ConnectionBounds {
  readonly idleTimeoutMs?: number;
  readonly handshakeTimeoutMs: number;
  readonly receiveRateMinBytesPerSec: number;
  readonly receiveRateGraceMs: number;
  readonly inboundBudget: InboundBudget;
  readonly connectionsMax?: number;
}

export interface StartServerOptions {
  /** The disk under the data directory (default: the real one). Tests inject a simulated disk to fail writes. */
  readonly disk?: Disk;
  /** Time for the whole member: timers, deadlines, the leader's clock in entries (default: the system clock). */
  readonly clock?: Clock;
  /** Randomness for the whole member: election timeouts, proposal ids (default: the system's CSPRNG). */
  readonly random?: RandomSource;
}

/** The peer TLS material from the configured files, or undefined for plain peers (config.ts checks they come together). */
function peerTlsOf(config: ServerConfig): TlsOptions | undefined {
  if (config.peerCertFile === undefined || config.peerKeyFile === undefined || config.peerTrustedCaFile === undefined) return undefined;
  const read = (setting: string, path: string): Buffer => {
    try {
      return readFileSync(path);
    } catch (error) {
      throw new InvalidConfigError(`${setting}: cannot read ${path}: ${(error as Error).message}`);
    }
  };
  return {
    cert: read('peerCertFile', config.peerCertFile),
    key: read('peerKeyFile', config.peerKeyFile),
    ca: read('peerTrustedCaFile', config.peerTrustedCaFile),
  };
}

/** Loopback (or a local transport): where plain-TCP peers are acceptable for development. */
function isLocalAddress(url: string): boolean {
  const parsed = parseAddress(url);
  if (parsed.transport !== 'tcp') return true;
  const host = parsed.host.replace(/^\[|\]$/g, '');
  return host === 'localhost' || host === '::1' || /^127\./.test(host);
}

export async function startServer(config: ServerConfig, logger?: Logger, options: StartServerOptions = {}): Promise<RunningServer> {
  const clock = options.clock ?? systemClock;
  const random = options.random ?? systemRandom;
  const log = logger ?? createLogger({ level: config.logLevel, format: config.logFormat, bindings: { member: config.name } });
  mkdirSync(config.dataDir, { recursive: true });

  // The storage takes the data directory lock first: nothing is written before we own the directory.
  const storage = await openHostStorage(config.dataDir, log, options.disk);
  const cleanups: (() => Promise<void>)[] = [() => storage.close()];
  const cleanup = async (): Promise<void> => {
    for (const fn of cleanups.reverse()) await fn().catch((error: unknown) => log.warn({ err: error }, 'cleanup step failed'));
  };
  try {
    const peerTls = peerTlsOf(config);
    if (peerTls === undefined && !isLocalAddress(config.peerUrl)) {
      log.warn(
        { peerUrl: config.peerUrl },
        'listening for peers WITHOUT TLS on a non-loopback address: anyone who reaches it can forge Raft traffic; set --peer-cert-file, --peer-key-file and --peer-trusted-ca-file (docs/security.md)',
      );
    }
    let stored = readMemberFile(config.dataDir);
    if (stored === null) {
      stored = { name: config.name, initialCluster: config.initialCluster };
      writeMemberFile(config.dataDir, stored);
    } else if (stored.name !== config.name) {
      throw new InvalidConfigError(`data dir ${config.dataDir} belongs to member "${stored.name}", not "${config.name}"`);
    }
    let clusterId = stored.clusterId ?? null;
    let joining = false;
    if (storage.isEmpty()) {
      const io = { logger: log, clock, random, frameBytesMax: frameBytesMaxFor(config), ...(peerTls === undefined ? {} : { tls: peerTls }) };
      if (config.initialClusterState === InitialClusterState.Existing) {
        // A member added with `concord member add`: it never bootstraps; the leader brings it up to date.
        clusterId = await checkMayJoin(config, io);
        joining = true;
      } else {
        clusterId = await checkMayBootstrap(config, io);
      }
      stored = { ...stored, ...(clusterId === null ? {} : { clusterId }) };
      writeMemberFile(config.dataDir, stored);
    } else if (clusterId === null) {
      log.warn({ dataDir: config.dataDir }, 'this data dir has no cluster ID yet: it will be learned from the first peer that connects, and kept');
    }
    const memberFile = stored;
    const fresh = joining ? false : await storage.bootstrapIfEmpty(Object.keys(config.initialCluster));

    const kv = new KvStateMachine({
      keyBytesMax: config.keyBytesMax,
      valueBytesMax: config.valueBytesMax,
      sessionsMax: config.sessionsMax,
      sessionsPerUserMax: config.sessionsPerUserMax,
      sessionResultBytesPerUserMax: config.sessionResultBytesPerUserMax,
      sessionTableBytesMax: config.sessionTableBytesMax,
    });
    // The replicated member table rides in the state machine's snapshots (membership-snapshot.ts).
    const table = new MemberTable(config.initialCluster);
    const machine = withMemberTable(kvStateMachinePort(kv), table);
    const latest = storage.hostStorage.readSnapshot();
    if (latest !== null) {
      await machine.restore(latest.contents);
      log.info({ index: latest.meta.index, keys: kv.keyCount, members: table.list().length }, 'restored the state machine from the latest snapshot');
    }
    if (joining) log.info({ cluster: config.initialCluster }, 'joining an existing cluster: waiting for the leader to send the log (or a snapshot)');

    const tickIntervalMs = config.heartbeatIntervalMs;
    const { core } = createRaftCore({
      name: config.name,
      storage: storage.raftStorage,
      applied: kv.appliedIndex,
      heartbeatIntervalTicks: 1,
      electionTimeoutTicks: Math.max(2, Math.round(config.electionTimeoutMs / tickIntervalMs)),
      random,
    });

    const identity = new StartingIdentity(config.name, config.peerUrl, config.clientUrl, serverVersion());
    const metrics = config.metricsUrl === undefined ? null : new ServerMetrics(config.name);
    const frameBytesMax = frameBytesMaxFor(config);
    // The leader's time in entries, bounded by elapsed ticks (entry-clock.ts: the clock rule).
    const entryClock = new EntryClock(clock);
    entryClock.observeApplied(kv.clockMs);
    let resolveRemoved: () => void = () => {};
    const removed = new Promise<void>((resolve) => (resolveRemoved = resolve));
    let onRemoved: (by: string) => void = () => {};
    let resolveFailed: (error: StorageFailedError) => void = () => {};
    const failed = new Promise<StorageFailedError>((resolve) => (resolveFailed = resolve));
    // Set once everything is listening; a fatal failure cannot come earlier (the loop starts last).
    let halt: (error: StorageFailedError) => void = (error) => resolveFailed(error);
    const dataSize = new DataDirSize(config.dataDir, clock);
    const roundTrips = metrics === null ? null : new PeerRoundTrips(clock, { observe: (peer, seconds) => metrics.peerRoundTripSeconds.observe({ To: peer }, seconds) });
    const peers = new PeerNetwork({
      identity,
      cluster: table.empty ? config.initialCluster : table.peerUrls(),
      membership: {
        wasRemoved: (name) => table.wasRemoved(name),
        describe: (name) => ({ member: table.has(name), addedAt: table.get(name)?.addedAt ?? 0, removed: table.wasRemoved(name) }),
      },
      onRemoved: (by) => onRemoved(by),
      helloIntervalMs: 1000,
      frameBytesMax,
      logger: log,
      clock,
      random,
      ...(peerTls === undefined ? {} : { tls: peerTls }),
      clusterId,
      persistClusterId: (id) => writeMemberFile(config.dataDir, { ...memberFile, clusterId: id }),
      ...(roundTrips !== null ? { traffic: roundTrips } : {}),
    });
    cleanups.push(() => peers.close());
    const host = new RaftHost(
      {
        identity,
        tickIntervalMs,
        snapshotEveryEntries: config.snapshotEveryEntries,
        snapshotCatchUpEntries: config.snapshotCatchUpEntries,
        pendingRequestsMax: config.pendingRequestsMax,
        dataSizeBytes: () => dataSize.bytes(),
        clock,
        random,
        onFatalStorageFailure: (error) => halt(error),
      },
      core,
      storage.hostStorage,
      observingEntryTime(machine, () => kv.clockMs, entryClock),
      peers,
      log,
      metrics,
    );
    cleanups.push(() => host.stop());
    metrics?.watch({
      term: () => host.status().member.term,
      commitIndex: () => host.status().member.commitIndex,
      appliedIndex: () => kv.appliedIndex,
      snapshotIndex: () => host.status().member.snapshotIndex,
      isLeader: () => host.isLeader(),
      inflight: () => host.inflight,
      leaderId: () => host.status().member.leaderId,
      storageFailed: () => host.status().member.storageFailed,
      pendingProposals: () => host.pendingProposals,
      dataSizeBytes: () => dataSize.bytes(),
      sessions: () => kv.sessionCount,
      sessionTableBytes: () => kv.sessionBytes,
      peerTrafficBytes: () => peers.trafficBytes(),
      sinceLastTickMs: () => host.sinceLastTickMs(),
      // A loop that missed ten ticks (and at least two seconds) is stuck, not merely busy.
      liveTickGapMaxMs: Math.max(2000, 10 * tickIntervalMs),
    });

    // Backups (`snapshot.save`): the state as applied now, with its entry's term and this member's cluster ID.
    const snapshots = new SnapshotStreams(
      {
        take: () => {
          const snapshot = kv.snapshot();
          const index = snapshot.appliedIndex;
          return {
            index,
            term: index === 0 ? 0 : storage.hostStorage.term(index),
            keys: snapshot.keys,
            measure: (sliceEntries) => snapshot.measure(sliceEntries),
            contents: snapshot,
          };
        },
        clusterId: () => readMemberFile(config.dataDir)?.clusterId ?? null,
      },
      clock,
      random,
    );
    table.onChange(() => {
      peers.setMembers(table.peerUrls());
      if (table.wasRemoved(config.name)) log.warn({ index: table.changeIndex }, 'applied the removal of this member; it stops once a peer confirms it');
    });
    const membership = new MembershipService({
      host,
      table,
      peers,
      clock,
      random,
      logger: log,
      electionTimeoutMs: config.electionTimeoutMs,
      forwardRemove: (request, deadlineMs) => service.forwardToLeader('member.remove', request, deadlineMs),
    });
    const replica = new KvReplica(host, kv, () => entryClock.viewMs());
    const stampingClock = entryClock.stampingClock();
    // Watches, and the leader's automatic compaction of their history (watch-wiring.ts).
    const watching = startWatches({ config, kv, replica, clock, stampingClock, tickIntervalMs, header: () => service.header(), logger: log });
    cleanups.push(async () => watching.stop());
    const service = new ClientService(replica, peers, config.requestTimeoutMs, stampingClock, {
      clientCertAuth: config.clientCertAuth === true,
      membership,
      snapshots,
      watches: watching.service,
    });
    // The leader proposes lease and key-TTL expiries once it has confirmed its leadership (lease-expirer.ts).
    const expirer = new LeaseExpirer(replica, kv, stampingClock, () => entryClock.viewMs(), { intervalMs: tickIntervalMs, requestTimeoutMs: config.requestTimeoutMs }, log);
    cleanups.push(async () => expirer.stop());
    const clientHandlers = service.rpcHandlers({ forwarded: false });
    const clientRpc = new RpcServer(clientMethods, metrics === null ? clientHandlers : metrics.withMetrics(clientHandlers), { logger: log });
    const peerRpc = new RpcServer(clientMethods, service.rpcHandlers({ forwarded: true }), { logger: log });

    const bounds = connectionBoundsOf(config, new InboundBudget(config.partialFrameBytesMax));
    const peerListener: Listener<PeerMessages> = await listen(config.peerUrl, {
      messages: peerMessages,
      frameBytesMax,
      ...bounds.peer,
      clock,
      logger: log,
      ...(peerTls === undefined ? {} : { tls: { ...peerTls, requestClientCert: true, rejectUnauthorized: true } }),
      // Forwarded requests are served only once the peer proved who it is and its cluster (its first valid hello).
      onConnection: (connection) => peers.attachIncoming(connection, () => peerRpc.serve(connection)),
    });
    cleanups.push(() => peerListener.close());
    const clientListener = await listen(config.clientUrl, {
      ...clientTlsOptions(config),
      frameBytesMax,
      ...bounds.client,
      clock,
      logger: log,
      onConnection: (connection) => clientRpc.serve(connection),
    });
    cleanups.push(() => clientListener.close());
    const respListener: RespListener | null =
      config.respUrl === undefined
        ? null
        : await listenResp({
            url: config.respUrl,
            service,
            clock,
            random,
            memberName: config.name,
            isLeader: () => host.isLeader(),
            requestTimeoutMs: config.requestTimeoutMs,
            keyBytesMax: config.keyBytesMax,
            valueBytesMax: config.valueBytesMax,
            keyspace: () => ({ keys: kv.keyCount, expires: kv.keyTtlCount }),
            entryTimeMs: () => replica.readTimeMs(),
            authEnabled: () => kv.auth.enabled,
            ...(clientTlsOptions(config).tls !== undefined ? { tls: clientTlsOptions(config).tls! } : {}),
            logger: log,
            ...(config.respCluster === 'emulated' ? { cluster: respClusterTopology(config.name, host, peers) } : {}),
          });
    if (respListener !== null) cleanups.push(() => respListener.close());
    if (respListener !== null) identity.respListening(respListener.address);
    // Listening on port 0 (tests) binds a real port: announce that one.
    identity.listening(clientListener.address);

    // The dashboard is a client of this member's own client URL (the one it listens on).
    const dashboardTls = dashboardClientTls(clientTlsOptions(config).tls);
    const httpsMetrics = config.metricsUrl?.startsWith('https:') === true;
    // Certificate login: browsers' certificates on an https:// listener, acted on through a private client listener (certificate-login.ts).
    const certificateLogin = metrics !== null && config.dashboard === true && httpsMetrics && config.clientCertAuth === true ? await CertificateLogin.create(clock) : null;
    const loginListener =
      certificateLogin === null
        ? null
        : await listen('tls://127.0.0.1:0', { tls: certificateLogin.listenerTls, frameBytesMax, ...bounds.client, clock, logger: log, onConnection: (connection) => clientRpc.serve(connection) });
    if (loginListener !== null) cleanups.push(() => loginListener.close());
    const dashboard =
      metrics !== null && config.dashboard === true
        ? new Dashboard({
            clientUrl: clientListener.address,
            registry: metrics.registry,
            clock,
            ...(dashboardTls !== undefined ? { tls: dashboardTls } : {}),
            ...(loginListener !== null ? { certificates: { endpoint: loginListener.address, login: certificateLogin! } } : {}),
          })
        : null;
    if (dashboard !== null) cleanups.push(() => dashboard.close());
    const metricsServer = metrics !== null && config.metricsUrl !== undefined ? await metrics.listen(config.metricsUrl, dashboard === null ? undefined : (req, res) => dashboard.handle(req, res), httpsMetrics ? metricsHttps(config) : undefined) : null;
    if (metricsServer !== null) cleanups.push(() => metricsServer.close());

    peers.start(host);
    host.start();
    expirer.start();
    log.info(
      {
        clientUrl: clientListener.address,
        peerUrl: peerListener.address,
        dataDir: config.dataDir,
        fresh,
        cluster: config.initialCluster,
        clusterId,
        peerTls: peerTls !== undefined,
        appliedIndex: kv.appliedIndex,
        metrics: metricsServer?.address ?? null,
        resp: respListener?.address ?? null,
      },
      'concord member started',
    );

    let closing: Promise<void> | null = null;
    /** Closes everything in order without a drain or a leadership transfer: the storage failed, or this member was removed. */
    const closeWithoutDrain = async (): Promise<void> => {
      expirer.stop();
      watching.stop();
      await clientListener.close().catch(() => {});
      await respListener?.close().catch(() => {});
      await host.stop().catch(() => {});
      await peers.close().catch(() => {});
      await peerListener.close().catch(() => {});
      await metricsServer?.close().catch(() => {});
      await dashboard?.close().catch(() => {});
      await storage.close().catch(() => {});
    };
    halt = (error) => {
      log.fatal(
        { err: error, systemCode: error.systemCode, errno: error.errno, syscall: error.syscall, path: error.path, exitCode: ServerExitCode.StorageFailed },
        'storage failed: this member stops now (its peers keep every acknowledged write)',
      );
      // No leadership transfer and no drain: nothing more may be written or answered from this disk.
      closing ??= closeWithoutDrain();
      void closing.then(() => resolveFailed(error));
    };
    onRemoved = (by) => {
      if (closing !== null) return;
      log.error(
        { by, code: ConcordErrorCode.MemberRemoved, exitCode: ServerExitCode.Removed },
        `this member ("${config.name}") was removed from the cluster (member ${by} says so): it stops and does not campaign; to bring it back, \`concord member add\` it again and start it with an empty data dir and --initial-cluster-state existing`,
      );
      host.stopAccepting();
      closing = closeWithoutDrain();
      void closing.then(() => resolveRemoved());
    };
    const live = (name: string): boolean => peers.isLive(name, config.electionTimeoutMs);
    const transferIo = { clock, logger: log, electionTimeoutMs: config.electionTimeoutMs, reachable: live };
    return {
      failed,
      removed,
      config,
      clientUrl: clientListener.address,
      peerUrl: peerListener.address,
      respUrl: respListener?.address ?? null,
      status: () => host.status(),
      close: () =>
        (closing ??= (async () => {
          const deadline = clock.monotonicMs() + config.shutdownTimeoutMs;
          expirer.stop();
          host.stopAccepting();
          // Held polls answer now (new ones are refused: ShuttingDown), so the client listener can close.
          watching.stop();
          // A leader with no quorum reachable can commit nothing in flight: it waits neither for that nor for a transfer.
          // (A follower's view of liveness covers only the leader; it has nothing in flight of its own to wait for.)
          if (!host.isLeader() || quorumReachable(host.coreStatus(), config.name, live)) {
            await host.drainInflight(deadline);
            if (host.isLeader()) {
              const moved = await transferLeadership(host, transferIo, { deadlineMs: Math.min(deadline, clock.monotonicMs() + 2 * config.electionTimeoutMs) });
              if (moved.ok) log.info({ leader: moved.leader }, 'leadership handed over');
              else log.info({ reason: moved.reason }, 'leadership not handed over before shutdown');
            }
          } else if (host.isLeader()) {
            log.info('no quorum of voters is reachable: shutting down without draining or handing leadership over');
          }
          await clientListener.close();
          await respListener?.close();
          await host.stop();
          await peers.close();
          await peerListener.close();
          await metricsServer?.close();
          await dashboard?.close();
          await storage.close();
        })()),
    };
  } catch (error) {
    await cleanup();
    throw error;
  }
}

/**
 * The dashboard's own connection to a tls:// client URL: it trusts
 * --trusted-ca-file and presents this member's certificate, which a member
 * with --client-cert-auth demands of every client. That certificate names the
 * member, not a user: once auth is on the connection has no rights of its
 * own, and every call acts as the browser's user (docs/dashboard.md, "TLS").
 */
function dashboardClientTls(listener: TlsOptions | undefined): TlsOptions | undefined {
  if (listener === undefined) return undefined;
  return { ...(listener.ca !== undefined ? { ca: listener.ca } : {}), ...(listener.cert !== undefined ? { cert: listener.cert, key: listener.key! } : {}) };
}

/**
 * An https:// metrics listener: the client certificate (etcd's rule), and with
 * --client-cert-auth it asks browsers for a certificate without demanding one
 * (/metrics and the health probes stay open; the dashboard checks it).
 */
function metricsHttps(config: ServerConfig): { cert: Buffer; key: Buffer; ca?: Buffer; requestCert: boolean; rejectUnauthorized: false } {
  const tls = clientTlsOptions(config).tls!;
  return { cert: tls.cert as Buffer, key: tls.key as Buffer, ...(tls.ca !== undefined ? { ca: tls.ca as Buffer } : {}), requestCert: config.clientCertAuth === true, rejectUnauthorized: false };
}

/** The client listener's TLS material (read at start: rotating certificates means restarting the member). */
function clientTlsOptions(config: ServerConfig): { tls?: TlsOptions } {
  if (config.certFile === undefined || config.keyFile === undefined) return {};
  const read = (setting: string, path: string): Buffer => {
    try {
      return readFileSync(path);
    } catch (error) {
      throw new InvalidConfigError(`${setting} ${path}: ${(error as Error).message}`);
    }
  };
  return {
    tls: {
      cert: read('certFile', config.certFile),
      key: read('keyFile', config.keyFile),
      ...(config.trustedCaFile !== undefined ? { ca: read('trustedCaFile', config.trustedCaFile) } : {}),
      requestClientCert: config.clientCertAuth === true,
    },
  };
}
