/**
 * A member's watch side, built and started in one place for server.ts: the
 * hub over the state machine's history, the `watch.*` service, and the
 * leader's automatic compaction (its flags parsed here).
 */
import type { Clock } from '../common/clock.js';
import type { KvStateMachine } from '../kv/index.js';
import type { ResponseHeader } from '../protocol/index.js';
import { AutoCompactor, parseAutoCompaction } from './auto-compactor.js';
import type { ServerConfig } from './config.js';
import type { KvReplica } from './kv-replica.js';
import type { Logger } from './logger.js';
import { WatchHub, watchHubDefaults } from './watch-hub.js';
import { WatchService } from './watch-service.js';

export interface WatchWiringInput {
  readonly config: ServerConfig;
  readonly kv: KvStateMachine;
  readonly replica: KvReplica;
  readonly clock: Clock;
  /** Stamps proposed entries with the entry clock. */
  readonly stampingClock: Clock;
  readonly tickIntervalMs: number;
  readonly header: () => ResponseHeader;
  readonly logger: Logger;
}

export interface Watching {
  readonly hub: WatchHub;
  readonly service: WatchService;
  readonly compactor: AutoCompactor | null;
  stop(): void;
}

/** Throws InvalidConfigError for bad --auto-compaction-* flags (before anything listens). */
export function startWatches(input: WatchWiringInput): Watching {
  const { config, kv, replica, clock } = input;
  const policy = parseAutoCompaction(config.autoCompactionMode ?? 'periodic', config.autoCompactionRetention ?? '0');
  const hub = new WatchHub(kv.history, () => kv.revision, clock, {
    ...watchHubDefaults,
    lagRevisionsMax: config.watchLagRevisionsMax ?? watchHubDefaults.lagRevisionsMax,
    progressIntervalMs: config.watchProgressIntervalMs ?? watchHubDefaults.progressIntervalMs,
  });
  const service = new WatchService(
    {
      hub,
      clock,
      limits: kv.options,
      revision: () => kv.revision,
      catchUp: (deadlineMs) => replica.catchUp(deadlineMs),
      checkAccepting: () => replica.checkAccepting(),
      header: input.header,
    },
    config.requestTimeoutMs,
  );
  const compactor = policy === null ? null : new AutoCompactor(policy, replica, kv, input.stampingClock, input.tickIntervalMs, config.requestTimeoutMs, input.logger);
  hub.start();
  compactor?.start();
  return {
    hub,
    service,
    compactor,
    stop: () => {
      compactor?.stop();
      hub.stop();
    },
  };
}
