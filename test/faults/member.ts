/**
 * The fault suite's member launcher: the real `startServer` (the very code
 * `concord server` runs) with two test-only injections the suite steers at
 * runtime, which a stock `concord server` cannot take:
 * - a FaultDisk over the real NodeDisk, whose syncs start failing with EIO;
 * - a SkewClock, whose wall clock can be stepped (a leader clock step).
 *
 *   node dist/test/faults/member.js <concord server flags> --fault-control FILE
 *
 * On SIGUSR2 it re-reads FILE (the suite signals only once FILE.pid names
 * this process: the handler is installed by then, so a signal sent while the
 * process was still booting cannot kill it), a JSON object `{ "clockOffsetMs": n,
 * "diskFailing": bool }`, and applies it (logging what changed). The clock
 * reaches the member only through startServer's injected `clock`: the step
 * tests that seam (the leader's timestamps in entries, session expiry), while
 * timers and deadlines stay on the monotonic clock, as after a real NTP step.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { createLogger, loadServerConfig, parseServerFlags, ServerExitCode, shutdownOnSignals, startServer } from '../../src/server/index.js';
import { FaultDisk } from './fault-disk.js';
import { SkewClock } from './skew-clock.js';

interface FaultControl {
  readonly clockOffsetMs: number;
  readonly diskFailing: boolean;
}

function readFaultControl(path: string): FaultControl {
  const parsed = JSON.parse(readFileSync(path, 'utf8')) as Partial<FaultControl>;
  return { clockOffsetMs: Number(parsed.clockOffsetMs ?? 0), diskFailing: parsed.diskFailing === true };
}

async function main(): Promise<void> {
  const { flags, extra } = parseServerFlags(undefined, ['fault-control']);
  const controlPath = extra['fault-control'];
  const config = loadServerConfig({ flags });
  const logger = createLogger({ level: config.logLevel, format: config.logFormat, bindings: { member: config.name } });

  const clock = new SkewClock();
  const disk = new FaultDisk();
  const apply = (): void => {
    if (typeof controlPath !== 'string') return;
    let control: FaultControl;
    try {
      control = readFaultControl(controlPath);
    } catch (error) {
      logger.warn({ err: error, controlPath }, 'fault control unreadable; unchanged');
      return;
    }
    if (control.clockOffsetMs !== clock.offsetMs || control.diskFailing !== disk.failing) {
      logger.warn({ clockOffsetMs: control.clockOffsetMs, diskFailing: control.diskFailing, failedSyncs: disk.failedSyncs }, 'fault control applied');
    }
    clock.offsetMs = control.clockOffsetMs;
    disk.failing = control.diskFailing;
  };
  // Handler first, then say so, then read the file: a change written before the suite saw the
  // pid file is read here; one written after it is signalled.
  process.on('SIGUSR2', apply);
  if (typeof controlPath === 'string') writeFileSync(`${controlPath}.pid`, String(process.pid));
  apply();

  const server = await startServer(config, logger, { disk, clock });
  shutdownOnSignals(server, logger);
  // As `concord server` (src/server/main.ts): a storage failure that must end the process.
  void server.failed.then(() => {
    logger.flush?.();
    process.exit(ServerExitCode.StorageFailed);
  });
}

main().catch((error: unknown) => {
  const e = error as { code?: string; message?: string };
  process.stderr.write(`fault-suite member: ${e.message ?? String(error)}${e.code ? ` [${e.code}]` : ''}\n`);
  process.exit(1);
});
