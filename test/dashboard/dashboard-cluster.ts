/**
 * The three-member cluster the browser tests drive (Chromium and Firefox):
 * real member processes with the dashboard on, a client of the cluster, the
 * CLI, and the member whose dashboard the page shows (a follower, so that
 * killing the leader leaves the page up).
 */
import { execFile } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { connect, type KvClient } from '../../src/client/index.js';
import { LocalCluster, MemberOutput, type LocalMember } from '../../src/cli/dev/local-cluster.js';
import { freePortRange } from '../../src/cli/dev/free-ports.js';

export const repoRoot = fileURLToPath(new URL('../../../', import.meta.url));
/** Written by every run: docs/dashboard.md shows them. */
export const shots = join(repoRoot, 'docs', 'dashboard');
/** Waits for a page condition with a deadline generous enough for a loaded machine. */
export const slowMs = 30_000;
const run = promisify(execFile);

export interface DashboardCluster {
  readonly cluster: LocalCluster;
  readonly kv: KvClient;
  readonly viewer: LocalMember;
  /** Runs `concord ARGS --endpoints <the cluster>`; resolves with its stdout. */
  cli(...args: string[]): Promise<string>;
  stop(): Promise<void>;
}

export async function startDashboardCluster(): Promise<DashboardCluster> {
  const dataDir = mkdtempSync(join(tmpdir(), 'concord-dashboard-'));
  let cluster: LocalCluster | undefined;
  try {
    const base = await freePortRange(3, 300);
    cluster = await LocalCluster.start({
      nodes: 3,
      dataDir,
      clientPortBase: base,
      peerPortBase: base + 100,
      metricsPortBase: base + 200,
      output: MemberOutput.Ignore,
      serverArgs: ['--dashboard', '--heartbeat-interval-ms', '100', '--election-timeout-ms', '1000', '--log-level', 'warn'],
    });
    const { leader } = await cluster.waitForLeader({ timeoutMs: 60_000 });
    const started = cluster;
    const viewer = started.members.find((m) => m.name !== leader.name)!;
    const kv = await connect({ endpoints: started.endpoints, timeoutMs: 30_000 });
    mkdirSync(shots, { recursive: true });
    return {
      cluster: started,
      kv,
      viewer,
      cli: async (...args) => (await run(process.execPath, [join(repoRoot, 'bin', 'concord.js'), ...args, '--endpoints', started.endpoints.join(',')], { timeout: 30_000 })).stdout,
      stop: async () => {
        await kv.close().catch(() => undefined);
        await started.stop();
        rmSync(dataDir, { recursive: true, force: true });
      },
    };
  } catch (error) {
    await cluster?.stop();
    rmSync(dataDir, { recursive: true, force: true });
    throw error;
  }
}
