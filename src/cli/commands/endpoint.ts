/**
 * `concord endpoint health` and `concord endpoint status`, as etcdctl's: one
 * line per member (the whole cluster, like etcdctl's `--cluster`), from each
 * member's own `cluster.status` report. Both exit non-zero when a member is
 * unhealthy, so that scripts and probes can use them as they use etcdctl.
 */
import type { Command } from 'commander';
import type { ClusterStatus, MemberReport } from '../../client/index.js';
import { formatTable } from '../table.js';
import { addClientOptions, withClient, type ClientCommandOptions } from '../client-options.js';
import { CliExit, ExitCode } from '../exit-codes.js';

export interface EndpointHealth {
  readonly endpoint: string;
  readonly name: string;
  readonly health: boolean;
  /** Why the member is unhealthy ('' when healthy). */
  readonly error: string;
}

/** A member is healthy when it answers, knows a leader of its term, has applied what it knows committed, and its storage works. */
export function memberHealth(member: MemberReport): EndpointHealth {
  const endpoint = member.status?.clientUrl ?? member.clientUrl ?? member.peerUrl;
  const s = member.status;
  let error = '';
  if (s === null) error = `unreachable: ${member.error ?? 'no answer'}`;
  else if (s.storageFailed) error = 'storage failed';
  else if (s.leaderId === null) error = 'no leader known (an election may be in progress)';
  else if (s.appliedIndex < s.commitIndex) error = `applied index ${s.appliedIndex} behind commit index ${s.commitIndex}`;
  return { endpoint, name: member.name, health: error === '', error };
}

export function formatHealth(rows: readonly EndpointHealth[]): string {
  return rows.map((r) => (r.health ? `${r.endpoint} is healthy (${r.name})` : `${r.endpoint} is unhealthy (${r.name}): ${r.error}`)).join('\n');
}

/** etcdctl's `endpoint status` columns. */
export interface EndpointStatus {
  readonly endpoint: string;
  readonly id: string;
  readonly version: string | null;
  readonly dataSizeBytes: number | null;
  readonly isLeader: boolean;
  readonly isLearner: boolean;
  readonly raftTerm: number | null;
  readonly raftIndex: number | null;
  readonly raftAppliedIndex: number | null;
  readonly errors: readonly string[];
}

export function memberEndpointStatus(member: MemberReport): EndpointStatus {
  const s = member.status;
  const errors: string[] = [];
  if (s === null) errors.push(`unreachable: ${member.error ?? 'no answer'}`);
  else {
    if (s.storageFailed) errors.push('storage failed');
    if (s.leaderId === null) errors.push('no leader');
  }
  return {
    endpoint: s?.clientUrl ?? member.clientUrl ?? member.peerUrl,
    id: member.name,
    version: s?.version ?? null,
    dataSizeBytes: s?.dataSizeBytes ?? null,
    isLeader: s !== null && s.role === 'leader',
    isLearner: !member.voter,
    raftTerm: s?.term ?? null,
    raftIndex: s?.commitIndex ?? null,
    raftAppliedIndex: s?.appliedIndex ?? null,
    errors,
  };
}

/** Bytes for people, as etcdctl prints them (humanize: 25 kB, 1.2 MB). */
export function formatBytes(bytes: number): string {
  const units = ['B', 'kB', 'MB', 'GB', 'TB'];
  let value = bytes;
  let unit = 0;
  while (value >= 1000 && unit < units.length - 1) {
    value /= 1000;
    unit++;
  }
  return unit === 0 ? `${bytes} B` : `${value < 10 ? value.toFixed(1) : Math.round(value)} ${units[unit]}`;
}

export function formatEndpointStatus(rows: readonly EndpointStatus[]): string {
  const dash = (v: number | string | null): string => (v === null ? '-' : String(v));
  return formatTable(
    ['ENDPOINT', 'ID', 'VERSION', 'DB SIZE', 'IS LEADER', 'IS LEARNER', 'RAFT TERM', 'RAFT INDEX', 'RAFT APPLIED INDEX', 'ERRORS'],
    rows.map((r) => [
      r.endpoint,
      r.id,
      dash(r.version),
      r.dataSizeBytes === null ? '-' : formatBytes(r.dataSizeBytes),
      String(r.isLeader),
      String(r.isLearner),
      dash(r.raftTerm),
      dash(r.raftIndex),
      dash(r.raftAppliedIndex),
      r.errors.join(', '),
    ]),
  );
}

async function clusterStatus(options: ClientCommandOptions): Promise<ClusterStatus> {
  return withClient(options, 'read', 'status', (client) => client.status());
}

export function registerEndpointCommands(program: Command): void {
  const endpoint = program.command('endpoint').description("every member's health or status, as etcdctl endpoint health | status");
  addClientOptions(
    endpoint.command('health').description('whether each member is healthy (answers, knows a leader, applied what it knows committed, storage works); exits 3 if any is not'),
  ).action(async (options: ClientCommandOptions) => {
    const rows = (await clusterStatus(options)).members.map(memberHealth);
    if (options.json) process.stdout.write(JSON.stringify(rows) + '\n');
    else process.stdout.write(formatHealth(rows) + '\n');
    const unhealthy = rows.filter((r) => !r.health);
    if (unhealthy.length > 0) throw new CliExit(ExitCode.Failure, `unhealthy cluster: ${unhealthy.map((r) => r.name).join(', ')}`);
  });
  addClientOptions(
    endpoint.command('status').description("each member's ID, version, data size, leader and learner flags, raft term, index and applied index, errors; exits 3 if any has errors"),
  ).action(async (options: ClientCommandOptions) => {
    const rows = (await clusterStatus(options)).members.map(memberEndpointStatus);
    if (options.json) process.stdout.write(JSON.stringify(rows) + '\n');
    else process.stdout.write(formatEndpointStatus(rows) + '\n');
    const failing = rows.filter((r) => r.errors.length > 0);
    if (failing.length > 0) throw new CliExit(ExitCode.Failure, `${failing.length} member(s) with errors: ${failing.map((r) => r.id).join(', ')}`);
  });
}
