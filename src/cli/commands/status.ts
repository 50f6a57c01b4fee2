/** `concord status`: every member's own view (role, term, commit and applied index, leader). */
import type { Command } from 'commander';
import type { ClusterStatus } from '../../client/index.js';
import { formatTable } from '../table.js';
import { addClientOptions, withClient, type ClientCommandOptions } from '../client-options.js';
import { CliExit, ExitCode } from '../exit-codes.js';

export function formatStatus(status: ClusterStatus): string {
  const rows = status.members.map((member) => {
    const s = member.status;
    return [
      member.name,
      member.clientUrl ?? '-',
      member.peerUrl,
      s === null ? 'unreachable' : s.role + (s.storageFailed ? ' (storage failed)' : ''),
      s === null ? '-' : String(s.term),
      s === null ? '-' : String(s.commitIndex),
      s === null ? '-' : String(s.appliedIndex),
      s === null ? '-' : (s.leaderId ?? 'none'),
    ];
  });
  const table = formatTable(['NAME', 'CLIENT URL', 'PEER URL', 'ROLE', 'TERM', 'COMMIT', 'APPLIED', 'LEADER'], rows);
  const problems = status.members.filter((m) => m.status === null).map((m) => `${m.name}: ${m.error ?? 'unreachable'}`);
  return problems.length === 0 ? table : `${table}\n\n${problems.join('\n')}`;
}

export function registerStatusCommand(program: Command): void {
  addClientOptions(
    program.command('status').description('show every member: name, URLs, role, term, commit and applied index, leader'),
  ).action(async (options: ClientCommandOptions) => {
    const status = await withClient(options, 'read', 'status', (client) => client.status());
    if (options.json) process.stdout.write(JSON.stringify(status) + '\n');
    else process.stdout.write(formatStatus(status) + '\n');
    // A cluster without a leader cannot serve writes or linearizable reads: say so in the exit code.
    if (status.leaderId === null) throw new CliExit(ExitCode.Failure, 'no leader');
  });
}
