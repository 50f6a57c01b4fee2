/**
 * `concord member list|add|promote|remove` and `concord leader transfer`, as
 * etcdctl's `member` commands and `move-leader`. `member add` prints the
 * exact flags and environment the new member must start with (its name, the
 * new configuration as --initial-cluster, --initial-cluster-state existing),
 * as etcdctl does. Procedures: docs/operations.md, "Membership changes".
 */
import type { Command } from 'commander';
import type { MemberChangeResponse, MemberEntry } from '../../client/index.js';
import { formatTable } from '../table.js';
import { addClientOptions, withClient, type ClientCommandOptions } from '../client-options.js';

function printJson(value: unknown): void {
  process.stdout.write(JSON.stringify(value) + '\n');
}

export function formatMembers(members: readonly MemberEntry[]): string {
  return formatTable(
    ['NAME', 'ID', 'ROLE', 'PEER URL', 'CLIENT URL', 'TRAILS LEADER BY', 'ACTIVE'],
    members.map((m) => [
      m.name,
      m.id,
      m.isLeader ? `${m.role} (leader)` : m.role,
      m.peerUrl,
      m.clientUrl ?? '-',
      m.isLeader ? '-' : `${m.trailingEntries} entries`,
      String(m.active),
    ]),
  );
}

/** The configuration after a change as --initial-cluster text (name=peerUrl,...). */
export function initialClusterOf(members: readonly MemberEntry[]): string {
  return members.map((m) => `${m.name}=${m.peerUrl}`).join(',');
}

/** What `member add` prints: how to start the new member (flags, then the same as environment lines). */
export function startInstructions(added: MemberChangeResponse, clientUrl: string | undefined): string {
  const m = added.member;
  const cluster = initialClusterOf(added.members);
  const client = clientUrl ?? 'tcp://HOST:PORT';
  return [
    `Member ${m.name} added to the cluster (ID ${m.id}, ${m.role}).`,
    '',
    'Start it with an empty data directory and these flags:',
    `  concord server --name ${m.name} --data-dir DATA_DIR --peer-url ${m.peerUrl} --client-url ${client} \\`,
    `    --initial-cluster ${cluster} --initial-cluster-state existing`,
    '',
    'or with this environment:',
    `CONCORD_NAME="${m.name}"`,
    `CONCORD_PEER_URL="${m.peerUrl}"`,
    `CONCORD_CLIENT_URL="${client}"`,
    `CONCORD_INITIAL_CLUSTER="${cluster}"`,
    'CONCORD_INITIAL_CLUSTER_STATE="existing"',
    ...(m.role === 'learner' ? ['', `Once it has caught up (concord member list: TRAILS LEADER BY), promote it: concord member promote ${m.name}`] : []),
  ].join('\n');
}

interface AddOptions extends ClientCommandOptions {
  readonly peerUrl: string;
  readonly clientUrl?: string;
  readonly learner?: boolean;
  readonly force?: boolean;
}

export function registerMemberCommands(program: Command): void {
  const member = program.command('member').description('list, add, promote and remove members (as etcdctl member)');
  addClientOptions(member.command('list').description('every member: name, ID, voter or learner, peer and client URLs, how far it trails the leader')).action(
    async (options: ClientCommandOptions) => {
      const answer = await withClient(options, 'read', 'member list', (client) => client.members.list());
      if (options.json) printJson(answer);
      else process.stdout.write(formatMembers(answer.members) + '\n');
    },
  );
  addClientOptions(
    member
      .command('add')
      .argument('<name>', 'the new member')
      .description('add a member (--learner: non-voting until promoted, the safe way); prints how to start it')
      .requiredOption('--peer-url <url>', 'the address other members reach it at, e.g. tcp://10.0.0.4:7101')
      .option('--client-url <url>', 'the address clients reach it at (it announces its own once running)')
      .option('--learner', 'add it as a learner (promote it once caught up)')
      .option('--force', 'add a voter even if the live voters would then be short of a quorum'),
  ).action(async (name: string, options: AddOptions) => {
    const added = await withClient(options, 'write', 'member add', (client) =>
      client.members.add(name, {
        peerUrl: options.peerUrl,
        learner: options.learner === true,
        ...(options.clientUrl !== undefined ? { clientUrl: options.clientUrl } : {}),
        ...(options.force === true ? { force: true } : {}),
      }),
    );
    if (options.json) {
      printJson({ ...added, initialCluster: initialClusterOf(added.members), initialClusterState: 'existing' });
    } else {
      process.stdout.write(startInstructions(added, options.clientUrl) + '\n');
    }
  });
  addClientOptions(member.command('promote').argument('<name>', 'a learner').description('make a caught-up learner a voter')).action(
    async (name: string, options: ClientCommandOptions) => {
      const answer = await withClient(options, 'write', 'member promote', (client) => client.members.promote(name));
      if (options.json) printJson(answer);
      else process.stdout.write(`Member ${name} promoted to voter (ID ${answer.member.id}).\n`);
    },
  );
  addClientOptions(
    member
      .command('remove')
      .argument('<name>', 'the member to remove')
      .description('remove a member (refused if the live voters would be short of a quorum, unless --force)')
      .option('--force', 'remove it even if the live voters would then be short of a quorum'),
  ).action(async (name: string, options: ClientCommandOptions & { force?: boolean }) => {
    const answer = await withClient(options, 'write', 'member remove', (client) => client.members.remove(name, { force: options.force === true }));
    if (options.json) printJson(answer);
    else process.stdout.write(`Member ${name} removed from the cluster (ID ${answer.member.id}).\n`);
  });

  const leader = program.command('leader').description('leadership (as etcdctl move-leader)');
  addClientOptions(
    leader.command('transfer').argument('[name]', 'the voter to hand leadership to (default: the most caught-up reachable one)').description('hand leadership to another voter'),
  ).action(async (name: string | undefined, options: ClientCommandOptions) => {
    const answer = await withClient(options, 'write', 'leader transfer', (client) => client.leader.transfer(name));
    if (options.json) printJson(answer);
    else process.stdout.write(`Leadership transferred from ${answer.previousLeader} to ${answer.leader}.\n`);
  });
}
