/**
 * `concord dev`: a local cluster of real server processes on loopback, with
 * its data under ./.concord/dev, until Ctrl-C. Running it again restarts the
 * same members over the same data.
 */
import type { Command } from 'commander';
import { existsSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import { ensureTlsMaterial } from '../dev/tls-material.js';
import { LocalCluster, MemberOutput, type LocalMember } from '../dev/local-cluster.js';
import { devClientPortBase, devHost, devPeerPortBase } from '../endpoints.js';
import { CliExit, ExitCode } from '../exit-codes.js';
import { passwordEnv, resolveCredentials, userEnv } from '../client-options.js';
import { parsePositiveInteger } from '../parse.js';

export const defaultDevDataDir = '.concord/dev';
/** The user `concord dev --tls` makes a client certificate for. */
export const devTlsUser = 'root';

const noPrompt = (): Promise<string> => {
  throw new CliExit(ExitCode.Usage, `concord dev logs its status probe in as $${userEnv}: give the password as NAME:PASSWORD or $${passwordEnv}`);
};

/** The exact environment and flags for the CLI against a `dev --tls` cluster. */
export function devTlsLines(endpoints: string, caFileGiven: string, clientGiven: { certFile: string; keyFile: string }): string[] {
  const caFile = resolve(caFileGiven);
  const client = { certFile: resolve(clientGiven.certFile), keyFile: resolve(clientGiven.keyFile) };
  const env = [`CONCORD_ENDPOINTS=${endpoints}`, `CONCORD_CACERT=${caFile}`, `CONCORD_CERT=${client.certFile}`, `CONCORD_KEY=${client.keyFile}`];
  return [
    ...env.map((line) => `  export ${line}`),
    '  npx concord put hello world && npx concord get hello',
    'or with flags on each command:',
    `  npx concord get hello --endpoints ${endpoints} --cacert ${caFile} --cert ${client.certFile} --key ${client.keyFile}`,
  ];
}

/**
 * A signal this soon after the first is the same request delivered twice
 * (e.g. to this process and to its process group), not an impatient user.
 */
const duplicateSignalWindowMs = 500;
/** The default metrics port of a member: its client port plus this (7201.. for the default 7001..). */
const metricsPortOffset = 200;

interface DevOptions {
  readonly nodes: number;
  readonly dataDir: string;
  readonly host: string;
  readonly clientPort: number;
  readonly peerPort: number;
  readonly metricsPort?: number;
  readonly logs: boolean;
  readonly heartbeatIntervalMs?: number;
  readonly electionTimeoutMs?: number;
  readonly snapshotEveryEntries?: number;
  readonly leaderTimeout: number;
  readonly tls: boolean;
  /** Commander's --no-dashboard. */
  readonly dashboard: boolean;
  /** False with --no-resp. */
  readonly resp: boolean;
  readonly respPortBase: number;
  readonly respCluster?: string;
}

/** Redis's port: `redis-cli` with no flags reaches the first member. */
export const devRespPortBase = 6379;

export function registerDevCommand(program: Command): void {
  program
    .command('dev')
    .description('start a local cluster of server processes on loopback (Ctrl-C stops it; data is kept for the next run)')
    .option('--nodes <n>', 'number of members', parsePositiveInteger, 3)
    .option('--data-dir <dir>', 'data directory (one subdirectory per member)', defaultDevDataDir)
    .option('--host <host>', 'loopback address to listen on', devHost)
    .option('--client-port <port>', 'client port of the first member (the others follow)', parsePositiveInteger, devClientPortBase)
    .option('--peer-port <port>', 'peer port of the first member (the others follow)', parsePositiveInteger, devPeerPortBase)
    .option('--metrics-port <port>', 'metrics and health port of the first member, /metrics /livez /readyz /health (default: client port + 200; 0: off)', (v: string) => (v === '0' ? 0 : parsePositiveInteger(v)))
    .option('--logs', 'print the members\' logs here instead of <data-dir>/<name>.log', false)
    .option('--heartbeat-interval-ms <ms>', 'passed to every member', parsePositiveInteger)
    .option('--election-timeout-ms <ms>', 'passed to every member', parsePositiveInteger)
    .option('--snapshot-every-entries <n>', 'passed to every member', parsePositiveInteger)
    .option('--leader-timeout <ms>', 'how long to wait for a leader', parsePositiveInteger, 30_000)
    .option('--no-dashboard', 'do not serve the web dashboard at <metrics URL>/ui')
    .option('--resp-port-base <port>', 'Redis protocol (RESP) port of the first member (the others follow)', parsePositiveInteger, devRespPortBase)
    .option('--no-resp', 'do not serve the Redis protocol')
    .option('--resp-cluster <mode>', 'passed to every member: emulated answers CLUSTER SLOTS/NODES as one shard led by the leader, for cluster clients (redis-cli -c, ioredis Cluster)')
    .option('--tls', 'create a local CA, member and client certificates in <data-dir>/tls; mutual TLS between members, TLS with client certificates for clients', false)
    .action(async (options: DevOptions) => {
      await runDev(options);
    });
}

async function runDev(options: DevOptions): Promise<void> {
  const restarting = existsSync(options.dataDir);
  const serverArgs: string[] = [];
  if (options.heartbeatIntervalMs !== undefined) serverArgs.push('--heartbeat-interval-ms', String(options.heartbeatIntervalMs));
  if (options.electionTimeoutMs !== undefined) serverArgs.push('--election-timeout-ms', String(options.electionTimeoutMs));
  if (options.snapshotEveryEntries !== undefined) serverArgs.push('--snapshot-every-entries', String(options.snapshotEveryEntries));
  if (options.respCluster !== undefined && options.resp) serverArgs.push('--resp-cluster', options.respCluster);
  // The web dashboard is on by default here (loopback only); it lives on the metrics listener.
  // With --tls it reaches its member over tls://, presenting the member's own certificate.
  const dashboard = options.metricsPort !== 0 && options.dashboard;
  if (dashboard) serverArgs.push('--dashboard');
  const names = Array.from({ length: options.nodes }, (_, i) => `n${i + 1}`);
  const material = options.tls ? await ensureTlsMaterial({ dir: join(options.dataDir, 'tls'), members: names, clientUsers: [devTlsUser] }) : null;
  // After `auth enable` the status probe must log in: root's certificate with --tls, else $CONCORD_USER.
  const probeAuth = material === null ? await resolveCredentials(undefined, process.env, noPrompt) : null;
  const cluster = await LocalCluster.start({
    peerTls: material === null ? null : { caFile: material.caFile, members: material.members },
    clientTls: material === null ? null : { caFile: material.caFile, members: material.members, clientCertAuth: true, probe: material.clients[devTlsUser]! },
    probeAuth,
    nodes: options.nodes,
    dataDir: options.dataDir,
    host: options.host,
    clientPortBase: options.clientPort,
    peerPortBase: options.peerPort,
    metricsPortBase: options.metricsPort ?? options.clientPort + metricsPortOffset,
    respPortBase: options.resp ? options.respPortBase : 0,
    serverArgs,
    output: options.logs ? MemberOutput.Prefixed : MemberOutput.LogFile,
  });

  // Ctrl-C / SIGTERM: stop the members gracefully, once. A second Ctrl-C kills them.
  let stopRequested: ((signal: string) => void) | null = null;
  const stopSignal = new Promise<string>((resolve) => (stopRequested = resolve));
  let firstSignalMs: number | null = null;
  const onSignal = (signal: NodeJS.Signals): void => {
    if (firstSignalMs === null) {
      firstSignalMs = performance.now();
      process.stderr.write(`\n${signal}: stopping the cluster...\n`);
      stopRequested?.(signal);
    } else if (performance.now() - firstSignalMs > duplicateSignalWindowMs) {
      process.stderr.write('second signal: killing the members\n');
      cluster.killAllNow();
    }
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  process.on('SIGHUP', onSignal);
  // If this process dies some other way, do not leave members behind.
  const onExit = (): void => cluster.killAllNow();
  process.on('exit', onExit);

  let failure: string | null = null;
  let stopping = false;
  try {
    const dataDirShown = relative(process.cwd(), cluster.options.dataDir) || '.';
    process.stdout.write(
      `${restarting ? 'Restarting' : 'Starting'} a ${options.nodes}-member cluster in ${dataDirShown} ...\n`,
    );
    const abort = new AbortController();
    void stopSignal.then(() => abort.abort(new Error('stopped before a leader was elected')));
    let leader: LocalMember;
    try {
      ({ leader } = await cluster.waitForLeader({ timeoutMs: options.leaderTimeout, signal: abort.signal }));
    } catch (error) {
      if (abort.signal.aborted) return; // Ctrl-C while starting: just stop (below).
      throw error;
    }
    const endpoints = cluster.endpoints.join(',');
    const defaultEndpoints = options.host === devHost && options.clientPort === devClientPortBase && options.nodes === 3;
    process.stdout.write(
      [
        `Cluster ready: leader ${leader.name}.`,
        ...cluster.members.map(
          (m) =>
            `  ${m.name}  client ${m.clientUrl}  peer ${m.peerUrl}` +
            (m.metricsUrl !== null ? `  metrics ${m.metricsUrl}/metrics` : '') +
            (m.respUrl !== null ? `  redis ${m.respUrl}` : '') +
            `  pid ${m.process?.pid ?? '-'}` +
            (m.logFile ? `  log ${relative(process.cwd(), m.logFile)}` : ''),
        ),
        `Endpoints: ${endpoints}`,
        ...(dashboard && cluster.members[0]?.metricsUrl ? [`Dashboard: ${cluster.members[0].metricsUrl}/ui (every member serves one)`] : []),
        ...(material === null
          ? []
          : [
              '',
              `Mutual TLS between members and TLS for clients (certificates in ${relative(process.cwd(), material.dir) || '.'}); each member runs with:`,
              ...cluster.members.map((m) => `  ${m.name}: ${[...cluster.peerTlsArgs(m.name), ...cluster.clientTlsArgs(m.name)].join(' ')}`),
              `Clients need a certificate from this CA (--client-cert-auth: its CN is the user once auth is enabled; ${devTlsUser}'s is made for you).`,
            ]),
        '',
        'Try, in another terminal:',
        ...(material === null
          ? [defaultEndpoints ? '  npx concord put hello world && npx concord get hello' : `  CONCORD_ENDPOINTS=${endpoints} npx concord put hello world`]
          : devTlsLines(endpoints, material.caFile, material.clients[devTlsUser]!)),
        ...(options.resp ? [`  redis-cli${options.respCluster === 'emulated' ? ' -c' : ''} -p ${options.respPortBase} get hello`] : []),
        '',
        'Press Ctrl-C to stop (the data stays for the next run).',
        '',
      ].join('\n'),
    );
    // A member that dies (say, killed to watch a failover) is reported and
    // the others keep running: a majority still serves. Only when every
    // member is gone is there nothing left to run.
    let alive = cluster.members.length;
    const allDied = new Promise<void>((resolve) => {
      for (const member of cluster.members) {
        void member.exited.then((how) => {
          if (stopping) return;
          alive--;
          process.stderr.write(
            `member ${member.name} exited (${String(how)}); ${alive} of ${cluster.members.length} still running` +
              (alive > cluster.members.length / 2 ? ' (still a majority)' : ' (no majority: the cluster cannot serve)') +
              '\n',
          );
          if (alive === 0) resolve();
        });
      }
    });
    const outcome = await Promise.race([stopSignal.then(() => 'stop' as const), allDied.then(() => 'all-died' as const)]);
    stopping = true;
    if (outcome === 'all-died') failure = 'every member exited';
  } finally {
    await cluster.stop();
    process.stdout.write('Cluster stopped.\n');
    process.off('exit', onExit);
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    process.off('SIGHUP', onSignal);
  }
  if (failure !== null) throw new CliExit(ExitCode.Failure, failure);
}
