/** Running many seeds, and reporting a failure so that it can be replayed exactly. */
import { TraceMode, runSimulation, type SimResult } from './cluster.js';
import type { Scenario } from './scenario.js';

export interface CampaignOptions {
  readonly seedStart: number;
  readonly seeds: number;
  readonly countStaleVotes?: boolean;
  readonly skipDatasync?: boolean;
  readonly restartSnapshotTransfers?: boolean;
  /** A variation applied to every seed's scenario (see scenarioProfiles). */
  readonly scenario?: (s: Scenario) => Scenario;
  /** Called every few seeds with the number done so far. */
  readonly onProgress?: (done: number, elapsedMs: number) => void;
  readonly onResult?: (result: SimResult) => void;
}

export interface CampaignSummary {
  readonly seedsRun: number;
  readonly elapsedMs: number;
  /** The first failing run; the campaign stops there. */
  readonly failure?: SimResult;
}

export async function runCampaign(options: CampaignOptions): Promise<CampaignSummary> {
  const started = performance.now();
  let done = 0;
  let lastProgress = started;
  for (let seed = options.seedStart; seed < options.seedStart + options.seeds; seed++) {
    // Runs are deterministic, so a campaign runs without tracing and replays a failing seed with it.
    const base = {
      seed,
      countStaleVotes: options.countStaleVotes ?? false,
      skipDatasync: options.skipDatasync ?? false,
      restartSnapshotTransfers: options.restartSnapshotTransfers ?? false,
      ...(options.scenario ? { scenario: options.scenario } : {}),
    };
    let result = await runSimulation({ ...base, trace: TraceMode.Off });
    if (!result.ok) result = await runSimulation({ ...base, trace: TraceMode.Tail });
    done++;
    options.onResult?.(result);
    const now = performance.now();
    if (options.onProgress && (now - lastProgress > 500 || done === options.seeds || !result.ok)) {
      lastProgress = now;
      options.onProgress(done, now - started);
    }
    if (!result.ok) return { seedsRun: done, elapsedMs: performance.now() - started, failure: result };
  }
  return { seedsRun: done, elapsedMs: performance.now() - started };
}

/** The command that replays a seed exactly. */
export function replayCommand(seed: number, extraFlags = ''): string {
  return `npm run sim -- --seed ${seed}${extraFlags}`;
}

/** A failure report: what broke, the seed, the replay command, and the tail of the trace. */
export function formatFailure(result: SimResult, extraFlags = ''): string {
  const f = result.failure;
  const lines = [
    `SIMULATION FAILED: seed ${result.seed}`,
    `  ${f ? `${f.kind} at ${f.timeMs} ms: ${f.message}` : 'unknown failure'}`,
    `  replay:       ${replayCommand(result.seed, extraFlags)}`,
    `  full trace:   ${replayCommand(result.seed, extraFlags)} --trace`,
    `  trace tail (last ${result.traceTail.length} lines):`,
    ...result.traceTail.map((l) => '    ' + l),
  ];
  return lines.join('\n');
}
