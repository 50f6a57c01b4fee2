/**
 * `startServer(config)`: one Concord member. It opens the data directory
 * (locked), restores the key-value state from the latest snapshot, starts the
 * Raft core over the durable log, listens on the peer URL (Raft traffic and
 * forwarded requests) and the client URL, and starts the clock.
 */
import { mkdirSync } from 'node:fs';
import { serverVersion } from './version.js';
import { KvStateMachine } from '../kv/index.js';
import { RpcServer, listen, type Listener } from '../net/index.js';
import { clientMethods, type StatusResponse } from '../protocol/index.js';
import { ClientService } from './kv-service.js';
import { KvReplica, kvStateMachinePort } from './kv-replica.js';
import { StartingIdentity } from './member-status.js';
import { InvalidConfigError, type ServerConfig } from './config.js';
import { checkMayBootstrap } from './bootstrap-probe.js';
import { createLogger, type Logger } from './logger.js';
import { readMemberFile, writeMemberFile } from './member-file.js';
import { PeerNetwork } from './peer-network.js';
import { peerMessages, type PeerMessages } from './peer-protocol.js';
import { RaftHost } from './raft-host.js';
import { ServerMetrics } from './metrics.js';
import { DataDirSize } from './data-size.js';
import { PeerRoundTrips } from './peer-traffic.js';
import { createRaftCore } from './raft-core-adapter.js';
import { openHostStorage } from './storage-adapter.js';
import type { Disk } from '../storage/index.js';
import type { Clock } from '../common/clock.js';
import type { RandomSource } from '../common/rng.js';
import { systemClock, systemRandom } from '../common/system-clock.js';

export interface RunningServer {
  readonly config: ServerConfig;
  /** The bound client address (the real port when configured with port 0). */
  readonly clientUrl: string;
  readonly peerUrl: string;
  /** This member's status, as `cluster.status` reports it. */
  status(): Omit<StatusResponse, 'header'>;
  /**
   * Graceful shutdown: stop accepting requests, let in-flight ones finish, a
   * leader hands leadership to the most up-to-date follower, then close the
   * listeners, links and storage (everything acknowledged is already durable).
   * Idempotent.
   */
  close(): Promise<void>;
}

/** Largest frame on client and peer connections: a value at the limit plus headroom, or an append batch. */
function frameBytesMaxFor(config: ServerConfig): number {
  return Math.max(16 * 1024 * 1024, 2 * (config.valueBytesMax + config.keyBytesMax) + 64 * 1024);
}


export interface StartServerOptions {
  /** The disk under the data directory (default: the real one). Tests inject a simulated disk to fail writes. */
  readonly disk?: Disk;
  /** Time for the whole member: timers, deadlines, the leader's clock in entries (default: the system clock). */
  readonly clock?: Clock;
  /** Randomness for the whole member: election timeouts, proposal ids (default: the system's CSPRNG). */
  readonly random?: RandomSource;
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
    const stored = readMemberFile(config.dataDir);
    if (stored === null) writeMemberFile(config.dataDir, { name: config.name, initialCluster: config.initialCluster });
    else if (stored.name !== config.name) {
      throw new InvalidConfigError(`data dir ${config.dataDir} belongs to member "${stored.name}", not "${config.name}"`);
    }
    if (storage.isEmpty()) await checkMayBootstrap(config, { logger: log, clock, random, frameBytesMax: frameBytesMaxFor(config) });
    const fresh = await storage.bootstrapIfEmpty(Object.keys(config.initialCluster));

    const kv = new KvStateMachine({ keyBytesMax: config.keyBytesMax, valueBytesMax: config.valueBytesMax });
    const latest = storage.hostStorage.readSnapshot();
    if (latest !== null) {
      await kv.restoreAsync(latest.contents);
      log.info({ index: latest.meta.index, keys: kv.keyCount }, 'restored the state machine from the latest snapshot');
    }

    const tickIntervalMs = config.heartbeatIntervalMs;
    const core = createRaftCore({
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
    const dataSize = new DataDirSize(config.dataDir, clock);
    const roundTrips = metrics === null ? null : new PeerRoundTrips(clock, { observe: (peer, seconds) => metrics.peerRoundTripSeconds.observe({ To: peer }, seconds) });
    const peers = new PeerNetwork({
      identity,
      cluster: config.initialCluster,
      helloIntervalMs: 1000,
      frameBytesMax,
      logger: log,
      clock,
      random,
      ...(roundTrips !== null ? { traffic: roundTrips } : {}),
    });
    cleanups.push(() => peers.close());
    const host = new RaftHost(
      {
        identity,
        tickIntervalMs,
        snapshotEveryEntries: config.snapshotEveryEntries,
        pendingRequestsMax: config.pendingRequestsMax,
        dataSizeBytes: () => dataSize.bytes(),
        clock,
        random,
      },
      core,
      storage.hostStorage,
      kvStateMachinePort(kv),
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
      peerTrafficBytes: () => peers.trafficBytes(),
      sinceLastTickMs: () => host.sinceLastTickMs(),
      // A loop that missed ten ticks (and at least two seconds) is stuck, not merely busy.
      liveTickGapMaxMs: Math.max(2000, 10 * tickIntervalMs),
    });

    const service = new ClientService(new KvReplica(host, kv), peers, config.requestTimeoutMs, clock);
    const clientHandlers = service.rpcHandlers({ forwarded: false });
    const clientRpc = new RpcServer(clientMethods, metrics === null ? clientHandlers : metrics.withMetrics(clientHandlers), { logger: log });
    const peerRpc = new RpcServer(clientMethods, service.rpcHandlers({ forwarded: true }), { logger: log });

    const peerListener: Listener<PeerMessages> = await listen(config.peerUrl, {
      messages: peerMessages,
      frameBytesMax,
      clock,
      logger: log,
      onConnection: (connection) => {
        peers.attachIncoming(connection);
        peerRpc.serve(connection);
      },
    });
    cleanups.push(() => peerListener.close());
    const clientListener = await listen(config.clientUrl, {
      frameBytesMax,
      clock,
      logger: log,
      onConnection: (connection) => clientRpc.serve(connection),
    });
    cleanups.push(() => clientListener.close());
    // Listening on port 0 (tests) binds a real port: announce that one.
    identity.listening(clientListener.address);

    const metricsServer = metrics !== null && config.metricsUrl !== undefined ? await metrics.listen(config.metricsUrl) : null;
    if (metricsServer !== null) cleanups.push(() => metricsServer.close());

    peers.start(host);
    host.start();
    log.info(
      {
        clientUrl: clientListener.address,
        peerUrl: peerListener.address,
        dataDir: config.dataDir,
        fresh,
        cluster: config.initialCluster,
        appliedIndex: kv.appliedIndex,
        metrics: metricsServer?.address ?? null,
      },
      'concord member started',
    );

    let closing: Promise<void> | null = null;
    return {
      config,
      clientUrl: clientListener.address,
      peerUrl: peerListener.address,
      status: () => host.status(),
      close: () =>
        (closing ??= (async () => {
          const deadline = clock.monotonicMs() + config.shutdownTimeoutMs;
          host.stopAccepting();
          await host.drainInflight(deadline);
          const transferred = await host.transferLeadership(Math.min(deadline, clock.monotonicMs() + 2 * config.electionTimeoutMs));
          if (transferred) log.info({ leader: host.leaderId() }, 'leadership handed over');
          await clientListener.close();
          await host.stop();
          await peers.close();
          await peerListener.close();
          await metricsServer?.close();
          await storage.close();
        })()),
    };
  } catch (error) {
    await cleanup();
    throw error;
  }
}
