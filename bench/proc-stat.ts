/**
 * A process's CPU time and write syscalls so far, from /proc (Linux only):
 * what the member benchmarks charge to a workload (server-cpu.ts,
 * watch-fanout.ts).
 */
import { readFileSync } from 'node:fs';

export interface ProcSample {
  /** CPU milliseconds (user + system, all threads). */
  readonly cpuMs: number;
  /** write/writev/pwrite syscalls so far. */
  readonly writes: number;
}

export function sampleProcess(pid: number): ProcSample {
  // Fields after the command name (which may hold spaces, hence the split at ") "): utime is the 14th field, stime the 15th.
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  const ticksToMs = 10; // USER_HZ is 100 on Linux
  const io = readFileSync(`/proc/${pid}/io`, 'utf8');
  const writes = Number(/^syscw: (\d+)$/m.exec(io)?.[1] ?? NaN);
  return { cpuMs: (Number(fields[11]) + Number(fields[12])) * ticksToMs, writes };
}

/** CPU milliseconds `pids` spent together between two samplings. */
export function cpuMsBetween(before: readonly ProcSample[], after: readonly ProcSample[]): number {
  return after.reduce((sum, s, i) => sum + s.cpuMs - before[i]!.cpuMs, 0);
}
