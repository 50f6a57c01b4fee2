/**
 * Before a member bootstraps an empty data directory, it asks its peers
 * whether the cluster already ran. A member restarted with an empty data
 * directory under a name the cluster knows must not bootstrap: at term 1,
 * with no vote and no log, it could vote twice in one term and help elect a
 * leader that lacks committed entries (issue 11; etcd refuses the same with
 * --initial-cluster-state). A bootstrapped log is one entry at term 1
 * (raft/bootstrap.ts); a peer with more, or at a higher term, shows the
 * cluster ran.
 *
 * How: for the probe only, the member listens on its peer URL (answering
 * other probers that it is probing too) and links to every peer, sending a
 * hello with `replyWanted`; a running member answers with its term and last
 * log index (PeerNetwork), a probing one with `probing`. The probe ends once
 * every peer answered, or after `timeoutMs` (a member down at the first
 * start of a new cluster does not keep the others from starting).
 */
import type { Clock } from '../common/clock.js';
import { ConcordError, ConcordErrorCode } from '../common/errors.js';
import type { RandomSource } from '../common/rng.js';
import { identityNames, listen, PeerLink, PeerLinkState, type TlsOptions } from '../net/index.js';
import { newClusterId, settleClusterId } from './cluster-id.js';
import { InitialClusterState, type ServerConfig } from './config.js';
import type { Logger } from './logger.js';
import { StartingIdentity, type MemberIdentity } from './member-status.js';
import { serverVersion } from './version.js';
import { peerMessages, type Hello, type PeerMessages } from './peer-protocol.js';

export interface PeerLogState {
  readonly name: string;
  /** True when the peer is itself probing (a fresh member too). */
  readonly probing: boolean;
  readonly term: number;
  readonly lastLogIndex: number;
  /** The peer's cluster ID (settled when it runs, its candidate while it probes). */
  readonly clusterId?: string;
  /** The prober's place in the peer's member table (peers that have one). */
  readonly you?: { readonly member: boolean; readonly addedAt: number; readonly removed: boolean };
}

export interface BootstrapProbeOptions {
  readonly identity: MemberIdentity;
  readonly cluster: Readonly<Record<string, string>>;
  readonly frameBytesMax: number;
  readonly logger: Logger;
  readonly clock: Clock;
  readonly random: RandomSource;
  readonly timeoutMs: number;
  /** How often an unanswered peer is asked again (default 200 ms). */
  readonly askEveryMs?: number;
  /** Mutual TLS between members (as PeerNetwork takes it). */
  readonly tls?: TlsOptions;
  /** This member's candidate cluster ID, sent in its hellos (cluster-id.ts). */
  readonly clusterIdCandidate?: string;
}

/** The term and log of a member that has only bootstrapped (raft/bootstrap.ts: one ConfChange at index 1, term 1). */
export const bootstrappedTermMax = 1;
export const bootstrappedLogIndexMax = 1;

/** True when the peer's answer shows the cluster ran beyond its bootstrap. */
export function showsClusterRan(state: PeerLogState): boolean {
  return !state.probing && (state.term > bootstrappedTermMax || state.lastLogIndex > bootstrappedLogIndexMax);
}

/** Asks every peer for its Raft state; resolves with the answers received (the first from each peer). */
export async function probePeers(options: BootstrapProbeOptions): Promise<PeerLogState[]> {
  const { identity, logger } = options;
  const peers = Object.entries(options.cluster).filter(([name]) => name !== identity.name);
  if (peers.length === 0) return [];
  const answers = new Map<string, PeerLogState>();
  const candidate = options.clusterIdCandidate === undefined ? {} : { clusterId: options.clusterIdCandidate };
  const hello = (extra: Partial<Hello>): Hello => ({ name: identity.name, clientUrl: identity.clientUrl(), peerUrl: identity.peerUrl, ...candidate, ...extra });
  const tls = options.tls;
  const quick = { frameBytesMax: options.frameBytesMax, logger, closeTimeoutMs: 100, clock: options.clock };

  const listener = await listen<PeerMessages>(identity.peerUrl, {
    ...quick,
    messages: peerMessages,
    ...(tls === undefined ? {} : { tls: { ...tls, requestClientCert: true, rejectUnauthorized: true } }),
    onConnection: (connection) => {
      connection.setMessageHandler((message) => {
        if (message.type !== 'hello' || message.body.replyWanted !== true) return;
        if (tls !== undefined && !identityNames(connection.peerIdentity, message.body.name)) return;
        try {
          connection.post({ type: 'hello', body: hello({ log: { probing: true, term: 0, lastLogIndex: 0 } }) });
        } catch {
          // The prober asks again.
        }
      });
    },
  });

  let finish!: () => void;
  const done = new Promise<void>((resolve) => (finish = resolve));
  const links: PeerLink<PeerMessages>[] = [];
  const ask = (link: PeerLink<PeerMessages>) => link.send({ type: 'hello', body: hello({ replyWanted: true }) });
  for (const [name, peerUrl] of peers) {
    const link = new PeerLink<PeerMessages>(peerUrl, {
      ...quick,
      messages: peerMessages,
      ...(tls === undefined ? {} : { tls: { ...tls, peerName: name } }),
      backoffInitialMs: 50,
      backoffMaxMs: 500,
      connectTimeoutMs: 1000,
      random: options.random,
      onStateChange: (state, self) => {
        if (state === PeerLinkState.Connected) ask(self);
      },
      onMessage: (message) => {
        if (message.type !== 'hello' || message.body.name !== name || message.body.log === undefined || answers.has(name)) return;
        const body = message.body;
        answers.set(name, {
          name,
          ...body.log!,
          ...(body.clusterId === undefined ? {} : { clusterId: body.clusterId }),
          ...(body.you === undefined ? {} : { you: body.you }),
        });
        if (answers.size === peers.length) finish();
      },
    });
    links.push(link);
  }
  const again = options.clock.setRepeating(options.askEveryMs ?? 200, () => {
    peers.forEach(([name], i) => {
      if (!answers.has(name)) ask(links[i]!);
    });
  });
  const timeout = options.clock.setTimer(options.timeoutMs, finish);
  try {
    await done;
  } finally {
    again.cancel();
    timeout.cancel();
    await Promise.all(links.map((link) => link.close()));
    await listener.close();
  }
  return [...answers.values()];
}

/** This member must not bootstrap its empty data directory: the cluster exists. */
export class BootstrapRefusedError extends ConcordError {
  constructor(message: string) {
    super(ConcordErrorCode.BootstrapRefused, message);
  }
}

/** What an operator does about a member whose data directory was lost (docs/operations.md, "Replacing a failed member"). */
export function replaceMemberAdvice(name: string): string {
  return (
    `to bring member "${name}" back, restore its data directory (its log and vote must survive), ` +
    `or replace it: \`concord member remove ${name}\`, then \`concord member add ${name} --peer-url URL --learner\`, ` +
    'start it with an empty data directory and --initial-cluster-state existing, and promote it once caught up (docs/operations.md); ' +
    'only the first start of a new cluster may begin with empty data directories (--initial-cluster-state new)'
  );
}

/** How long a member starting on an empty data directory waits for its peers' answers before bootstrapping. */
const bootstrapProbeTimeoutMs = 10_000;

/**
 * Called for an empty data directory: returns the cluster ID to bootstrap
 * with (cluster-id.ts) when it may bootstrap, throws
 * BootstrapRefusedError (after logging how to bring the member back) when
 * --initial-cluster-state is existing or a peer shows the cluster already ran.
 */
export async function checkMayBootstrap(
  config: ServerConfig,
  io: { readonly logger: Logger; readonly clock: Clock; readonly random: RandomSource; readonly frameBytesMax: number; readonly tls?: TlsOptions },
): Promise<string> {
  const log = io.logger;
  if (config.initialClusterState === InitialClusterState.Existing) {
    const message = `data dir ${config.dataDir} is empty and --initial-cluster-state is existing: member "${config.name}" refuses to bootstrap; ${replaceMemberAdvice(config.name)}`;
    log.error({ dataDir: config.dataDir }, message);
    throw new BootstrapRefusedError(message);
  }
  const own = newClusterId(io.random);
  const answers = await probePeers({
    identity: new StartingIdentity(config.name, config.peerUrl, config.clientUrl, serverVersion()),
    cluster: config.initialCluster,
    ...io,
    timeoutMs: bootstrapProbeTimeoutMs,
    clusterIdCandidate: own,
  });
  const ran = answers.filter(showsClusterRan);
  if (ran.length > 0) {
    const seen = ran.map((a) => `${a.name} at term ${a.term} with ${a.lastLogIndex} log entries`).join(', ');
    const message = `data dir ${config.dataDir} is empty but the cluster already ran (${seen}): member "${config.name}" refuses to bootstrap; ${replaceMemberAdvice(config.name)}`;
    log.error({ dataDir: config.dataDir, peers: ran }, message);
    throw new BootstrapRefusedError(message);
  }
  const clusterId = settleClusterId(own, answers);
  log.info({ answered: answers.map((a) => a.name), clusterId }, 'no peer has run beyond its bootstrap: bootstrapping a new cluster');
  return clusterId;
}

/**
 * Called for an empty data directory with --initial-cluster-state existing:
 * the member never bootstraps. It asks its peers whether it is a member: one
 * that `concord member add` added (at a log index past the bootstrap) may
 * start empty and wait for the leader to send it the log or a snapshot
 * (a learner does not vote; a voter added that way has never voted). An
 * initial member whose data directory was lost is refused (it may have
 * voted: it could vote twice in a term), and so is a name that is no member.
 * Returns the cluster ID the peers answered with (null: none said).
 */
export async function checkMayJoin(
  config: ServerConfig,
  io: { readonly logger: Logger; readonly clock: Clock; readonly random: RandomSource; readonly frameBytesMax: number; readonly tls?: TlsOptions },
): Promise<string | null> {
  const log = io.logger;
  const answers = (
    await probePeers({
      identity: new StartingIdentity(config.name, config.peerUrl, config.clientUrl, serverVersion()),
      cluster: config.initialCluster,
      ...io,
      timeoutMs: bootstrapProbeTimeoutMs,
    })
  ).filter((a) => !a.probing);
  const refuse = (why: string): never => {
    const message = `data dir ${config.dataDir} is empty and --initial-cluster-state is existing: member "${config.name}" ${why}`;
    log.error({ dataDir: config.dataDir, answered: answers.map((a) => a.name) }, message);
    throw new BootstrapRefusedError(message);
  };
  if (answers.length === 0) refuse('cannot join: no peer of --initial-cluster answered; start it once the cluster is up');
  const added = answers.find((a) => a.you?.member === true && a.you.addedAt > bootstrappedLogIndexMax);
  const initial = answers.find((a) => a.you?.member === true && a.you.addedAt <= bootstrappedLogIndexMax);
  if (added === undefined && initial !== undefined) refuse(`refuses to bootstrap: it is an initial member and its data is lost; ${replaceMemberAdvice(config.name)}`);
  if (added === undefined) refuse(`is not a member of the cluster: add it first with \`concord member add ${config.name} --peer-url ${config.peerUrl} --learner\``);
  const clusterId = answers.find((a) => a.clusterId !== undefined)?.clusterId ?? null;
  log.info({ addedAt: added!.you!.addedAt, by: added!.name, clusterId }, 'this member was added to the cluster: joining it (it never bootstraps)');
  return clusterId;
}
