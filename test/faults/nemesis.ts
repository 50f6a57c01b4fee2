/**
 * Nemeses: the faults a run injects, on a schedule drawn from the run's seed
 * (which fault, on whom, for how long, how long a quiet gap follows). Targets
 * named "the leader" are resolved when the fault starts (the leader of the
 * moment), so a rerun replays the same schedule, not the same interleaving.
 * Every fault has a revert, and `healAll` removes whatever is still in force.
 */
import { Prng } from '../../src/common/rng.js';
import { MemberState, type FaultMember } from './members.js';
import type { FaultNetwork } from './netns.js';

export const NemesisKind = {
  /** Members split into a majority and a minority. */
  PartitionHalves: 'partition-halves',
  /** The leader alone on one side. */
  PartitionLeader: 'partition-leader',
  /** Two majorities that share one member (the "bridge"). */
  PartitionBridge: 'partition-bridge',
  /** The leader's packets to its followers dropped, theirs to it delivered. */
  DropOneWay: 'drop-oneway',
  /** One member's link down (clients cannot reach it either). */
  LinkDown: 'link-down',
  Kill: 'kill',
  Pause: 'pause',
  /** The leader's wall clock stepped +-1 h (launcher members only). */
  ClockStep: 'clock-step',
  /** A member's disk starts failing fdatasync with EIO (launcher members only). */
  DiskFail: 'disk-fail',
} as const;
export type NemesisKind = (typeof NemesisKind)[keyof typeof NemesisKind];

export const allNemeses: readonly NemesisKind[] = Object.values(NemesisKind);
/** Kinds that need the launcher's injections. */
export const launcherNemeses: readonly NemesisKind[] = [NemesisKind.ClockStep, NemesisKind.DiskFail];

export interface ScheduledFault {
  readonly kind: NemesisKind;
  /** Offset from the start of the faulty phase. */
  readonly atMs: number;
  readonly holdMs: number;
  /** Seeded choices the fault resolves at start (which member, which side, which sign). */
  readonly pick: number;
  readonly onLeader: boolean;
  /** A second fault started and reverted together with this one. */
  readonly with?: ScheduledFault;
}

export function parseNemeses(text: string): NemesisKind[] {
  if (text === 'all') return [...allNemeses];
  const kinds = text.split(',').map((s) => s.trim()).filter((s) => s.length > 0);
  for (const kind of kinds) {
    if (!(allNemeses as readonly string[]).includes(kind)) throw new Error(`unknown nemesis "${kind}" (known: ${allNemeses.join(', ')}, or all)`);
  }
  return kinds as NemesisKind[];
}

/** The seeded schedule of faults for a faulty phase of `durationMs`. */
export function scheduleFaults(seed: number, kinds: readonly NemesisKind[], durationMs: number): ScheduledFault[] {
  const rng = new Prng(seed);
  const out: ScheduledFault[] = [];
  let at = 500 + rng.nextInt(1000);
  while (kinds.length > 0) {
    const holdMs = 2000 + rng.nextInt(4000);
    if (at + holdMs > durationMs) break;
    const kind = kinds[rng.nextInt(kinds.length)]!;
    const fault: ScheduledFault = { kind, atMs: at, holdMs, pick: rng.nextInt(1 << 30), onLeader: rng.nextInt(3) !== 0 };
    // One fault in three comes with a second of another kind, in force together
    // (a partition while the leader's clock steps, a kill during a partition...):
    // the interesting bugs need two things going wrong at once.
    const others = kinds.filter((k) => k !== kind);
    const companionKind = others.length > 0 && rng.nextInt(3) === 0 ? others[rng.nextInt(others.length)]! : null;
    const pick = rng.nextInt(1 << 30);
    const onLeader = rng.nextInt(2) === 0;
    out.push(companionKind === null ? fault : { ...fault, with: { kind: companionKind, atMs: at, holdMs, pick, onLeader } });
    at += holdMs + 1000 + rng.nextInt(2500);
  }
  return out;
}

export interface NemesisContext {
  readonly net: FaultNetwork;
  readonly members: readonly FaultMember[];
  /** The current leader's name, or null when none is known. */
  leader(): Promise<string | null>;
}

/** A fault in force, and how to undo it. */
export interface ActiveFault {
  readonly description: string;
  revert(): Promise<void>;
}

function memberNamed(ctx: NemesisContext, name: string): FaultMember {
  const m = ctx.members.find((x) => x.name === name);
  if (m === undefined) throw new Error(`no member ${name}`);
  return m;
}

/** The member a fault targets: the leader when asked for and known, else a seeded pick. */
async function target(ctx: NemesisContext, fault: ScheduledFault): Promise<FaultMember> {
  const leader = fault.onLeader ? await ctx.leader() : null;
  if (leader !== null) return memberNamed(ctx, leader);
  return ctx.members[fault.pick % ctx.members.length]!;
}

/** A seeded permutation of the member names. */
function shuffled(names: readonly string[], pick: number): string[] {
  const rng = new Prng(pick);
  const out = [...names];
  for (let i = out.length - 1; i > 0; i--) {
    const j = rng.nextInt(i + 1);
    [out[i], out[j]] = [out[j]!, out[i]!];
  }
  return out;
}

export async function startFault(ctx: NemesisContext, fault: ScheduledFault): Promise<ActiveFault> {
  const names = ctx.members.map((m) => m.name);
  const net = ctx.net;
  const healNet = async (): Promise<void> => net.heal();
  switch (fault.kind) {
    case NemesisKind.PartitionHalves: {
      const order = shuffled(names, fault.pick);
      const minority = order.slice(0, Math.floor(names.length / 2));
      const majority = order.slice(minority.length);
      net.cut(minority, majority);
      return { description: `partition ${majority.join(',')} | ${minority.join(',')}`, revert: healNet };
    }
    case NemesisKind.PartitionLeader: {
      const leader = (await ctx.leader()) ?? names[fault.pick % names.length]!;
      const rest = names.filter((n) => n !== leader);
      net.cut([leader], rest);
      return { description: `partition leader ${leader} | ${rest.join(',')}`, revert: healNet };
    }
    case NemesisKind.PartitionBridge: {
      // Majorities A and B share `bridge`; no other member of A reaches one of B.
      const order = shuffled(names, fault.pick);
      const bridge = order[0]!;
      const others = order.slice(1);
      const a = others.slice(0, others.length / 2);
      const b = others.slice(others.length / 2);
      net.cut(a, b);
      return { description: `bridge ${bridge}: ${[bridge, ...a].join(',')} and ${[bridge, ...b].join(',')}`, revert: healNet };
    }
    case NemesisKind.DropOneWay: {
      const from = (await target(ctx, fault)).name;
      const to = names.filter((n) => n !== from);
      for (const n of to) net.drop(from, n);
      return { description: `one-way drop ${from} -> ${to.join(',')}`, revert: healNet };
    }
    case NemesisKind.LinkDown: {
      const m = await target(ctx, fault);
      net.setLink(m.name, false);
      return { description: `link down ${m.name}`, revert: async () => net.setLink(m.name, true) };
    }
    case NemesisKind.Kill: {
      const m = await target(ctx, fault);
      await m.kill9();
      return { description: `kill -9 ${m.name}`, revert: async () => m.start() };
    }
    case NemesisKind.Pause: {
      const m = await target(ctx, fault);
      m.pause();
      return { description: `SIGSTOP ${m.name}`, revert: async () => m.resume() };
    }
    case NemesisKind.ClockStep: {
      const m = await target(ctx, { ...fault, onLeader: true });
      const stepMs = (fault.pick & 1) === 0 ? 3_600_000 : -3_600_000;
      m.setControl({ clockOffsetMs: stepMs });
      return { description: `clock step ${stepMs > 0 ? '+' : '-'}1h on ${m.name}`, revert: async () => m.setControl({ clockOffsetMs: 0 }) };
    }
    case NemesisKind.DiskFail: {
      const m = await target(ctx, fault);
      m.setControl({ diskFailing: true });
      return {
        description: `disk fails (EIO on fdatasync) on ${m.name}`,
        // A member whose storage failed stays read-only until restarted: a new disk, a restart.
        revert: async () => {
          m.setControl({ diskFailing: false });
          await m.kill9();
          m.start();
        },
      };
    }
  }
}

/** Removes every fault still in force: network healed, paused members resumed, injections off, dead members started. */
export async function healAll(ctx: NemesisContext): Promise<void> {
  ctx.net.heal();
  for (const m of ctx.members) {
    if (m.state === MemberState.Paused) m.resume();
    if (m.control.diskFailing) {
      m.setControl({ diskFailing: false });
      await m.kill9();
    }
    if (m.control.clockOffsetMs !== 0) m.setControl({ clockOffsetMs: 0 });
    if (m.state === MemberState.Dead) m.start();
  }
}
