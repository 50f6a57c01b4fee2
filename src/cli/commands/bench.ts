/** `concord bench`: closed-loop load against a cluster; ops/s and latency percentiles. */
import { Option, type Command } from 'commander';
import { Consistency } from '../../protocol/index.js';
import { ProgressBar } from '../bench/progress-bar.js';
import { formatBenchResults, runBench, Workload } from '../bench/run-bench.js';
import { endpointsEnv, resolveEndpoints } from '../endpoints.js';
import { CliExit, ExitCode } from '../exit-codes.js';
import { cacertEnv, certEnv, keyEnv, resolveCredentials, resolveTls, userEnv } from '../client-options.js';
import { parseNonNegativeNumber, parsePositiveInteger, parsePositiveNumber } from '../parse.js';

interface BenchCommandOptions {
  readonly endpoints?: string;
  readonly clients: number;
  readonly duration: number;
  readonly warmup: number;
  readonly workload: Workload;
  readonly valueBytes: number;
  readonly keys: number;
  readonly connections?: number;
  readonly consistency: Consistency;
  readonly json?: boolean;
  readonly user?: string;
  readonly cacert?: string;
  readonly cert?: string;
  readonly key?: string;
}

export function registerBenchCommand(program: Command): void {
  program
    .command('bench')
    .description('closed-loop load against a cluster: ops/s and latency p50/p99/p99.9')
    .option('--endpoints <urls>', `comma-separated client URLs (default: $${endpointsEnv}, else the dev cluster)`)
    .option('--clients <n>', 'concurrent request loops', parsePositiveInteger, 64)
    .option('--duration <seconds>', 'how long to measure', parsePositiveNumber, 10)
    .option('--warmup <seconds>', 'run the same load this long first, unmeasured (JIT warm-up of the servers)', parseNonNegativeNumber, 0)
    .addOption(
      new Option('--workload <kind>', 'put, get (linearizable unless --consistency stale), mixed (half each), or txn (2 compares, 2 puts)')
        .choices(Object.values(Workload))
        .default(Workload.Put),
    )
    .option('--value-bytes <n>', 'value size', parsePositiveInteger, 256)
    .option('--keys <n>', 'size of the key space (get and mixed preload it)', parsePositiveInteger, 10_000)
    .option('--connections <n>', 'client connections the loops share, each with its own session (default: 1, pipelined)', parsePositiveInteger)
    .addOption(
      new Option('--consistency <mode>', 'consistency of the gets')
        .choices([Consistency.Linearizable, Consistency.Stale])
        .default(Consistency.Linearizable),
    )
    .option('--json', 'print one JSON object')
    .option('--user <name[:password]>', `log every connection in as this user (default: $${userEnv})`)
    .option('--cacert <file>', `verify tls:// members with this PEM CA bundle (default: $${cacertEnv})`)
    .option('--cert <file>', `client certificate (default: $${certEnv})`)
    .option('--key <file>', `private key of --cert (default: $${keyEnv})`)
    .action(async (options: BenchCommandOptions) => {
      const auth = await resolveCredentials(options.user);
      const tls = resolveTls(options);
      const bar = new ProgressBar(options.workload);
      const result = await runBench({
        endpoints: resolveEndpoints(options.endpoints),
        workload: options.workload,
        clients: options.clients,
        durationS: options.duration,
        warmupS: options.warmup,
        valueBytes: options.valueBytes,
        keys: options.keys,
        consistency: options.consistency,
        ...(options.connections !== undefined ? { connections: options.connections } : {}),
        ...(tls !== undefined ? { tls } : {}),
        ...(auth !== null ? { auth } : {}),
        onProgress: (p) => bar.update(p),
      });
      bar.done();
      if (options.json) process.stdout.write(JSON.stringify(result) + '\n');
      else process.stdout.write(formatBenchResults([result]) + '\n');
      if (result.ops === 0) throw new CliExit(ExitCode.Failure, `no request succeeded: ${result.firstError ?? 'unknown error'}`);
    });
}
