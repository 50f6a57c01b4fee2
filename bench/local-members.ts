/**
 * The cluster the member benchmarks run against: three local `concord server`
 * processes on free loopback ports, fsync on, output ignored, in a temp dir
 * that `stop()` removes. (bench/kv.ts builds its own: it keeps logs and may
 * set peer TLS.)
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LocalCluster, MemberOutput } from '../src/cli/dev/local-cluster.js';
import { freePortRange } from '../src/cli/dev/free-ports.js';

export interface BenchMembers {
  readonly cluster: LocalCluster;
  /** Stops the members and removes their data. */
  stop(): Promise<void>;
}

/** Starts the three members (does not wait for a leader); `name` tags the temp dir; `serverArgs` go to every member. */
export async function startBenchMembers(name: string, serverArgs: readonly string[] = []): Promise<BenchMembers> {
  const dataDir = mkdtempSync(join(tmpdir(), `concord-bench-${name}-`));
  const clientPortBase = await freePortRange(3, 100);
  const cluster = await LocalCluster.start({
    nodes: 3,
    dataDir,
    clientPortBase,
    peerPortBase: clientPortBase + 100,
    output: MemberOutput.Ignore,
    serverArgs: ['--log-level', 'warn', ...serverArgs],
  });
  return {
    cluster,
    stop: async () => {
      await cluster.stop();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}
