/**
 * A local 3-member Concord with RESP listeners for the real-client Redis
 * tests (real processes on loopback, data in a temp dir removed by stop()),
 * and the small helpers those tests share.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { execFile } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LocalCluster, MemberOutput, type LocalMember } from '../../src/cli/dev/local-cluster.js';
import { freePortRange } from '../../src/cli/dev/free-ports.js';

export const portOf = (m: LocalMember): number => Number(m.respUrl!.slice(m.respUrl!.lastIndexOf(':') + 1));

export function run(file: string, args: string[], input?: string): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = execFile(file, args, { timeout: 120_000 }, (error, stdout, stderr) => {
      resolve({ code: error === null ? 0 : typeof error.code === 'number' ? error.code : 1, stdout, stderr });
    });
    if (input !== undefined) child.stdin!.end(input);
  });
}

export interface RespCluster {
  readonly cluster: LocalCluster;
  readonly leader: LocalMember;
  readonly follower: LocalMember;
  /** The members' data directories' parent (removed by stop()). */
  readonly dataDir: string;
  stop(): Promise<void>;
}

/** Three members with fast elections and RESP on; `serverArgs` are added to every member's. */
export async function startRespCluster(dirPrefix: string, serverArgs: readonly string[] = []): Promise<RespCluster> {
  const dataDir = mkdtempSync(join(tmpdir(), dirPrefix));
  const base = await freePortRange(3, 200);
  const cluster = await LocalCluster.start({
    nodes: 3,
    dataDir,
    clientPortBase: base,
    peerPortBase: base + 100,
    respPortBase: base + 200,
    output: MemberOutput.Ignore,
    serverArgs: ['--heartbeat-interval-ms', '50', '--election-timeout-ms', '300', '--log-level', 'warn', '--request-timeout-ms', '8000', ...serverArgs],
  });
  const stop = async (): Promise<void> => {
    await cluster.stop();
    rmSync(dataDir, { recursive: true, force: true });
  };
  try {
    const { leader } = await cluster.waitForLeader({ timeoutMs: 60_000 });
    return { cluster, leader, follower: cluster.members.find((m) => m !== leader)!, dataDir, stop };
  } catch (error) {
    await stop();
    throw error;
  }
}
