/**
 * The replicated state machine each simulated node applies committed entries
 * to: a map of registers with write and compare-and-set, plus a client
 * session table (thesis §6.3): a command older than one the client already
 * had applied has no effect, so a request the client gave up on cannot take
 * effect after the client moved on (and a command can never apply twice). Reads do not go through the log: they use ReadIndex.
 */
import { RegisterOpKind } from './register-model.js';

export interface RegisterCommand {
  readonly clientId: number;
  /** Per-client sequence number, strictly increasing; a command is applied at most once. */
  readonly seq: number;
  readonly kind: typeof RegisterOpKind.Write | typeof RegisterOpKind.Cas;
  readonly key: string;
  readonly value: string;
  /** For compare-and-set: the value the register must hold (null: never written). */
  readonly expected?: string | null;
}

export type CommandResult =
  | { readonly kind: typeof RegisterOpKind.Write }
  | { readonly kind: typeof RegisterOpKind.Cas; readonly swapped: boolean }
  /**
   * The client had already had a later (or this very) command applied: this
   * one is stale (the client gave up on it and moved on), so it has no effect.
   */
  | { readonly kind: 'stale' };

const encoder = new TextEncoder();
const decoder = new TextDecoder();

export function encodeCommand(cmd: RegisterCommand): Uint8Array {
  return encoder.encode(JSON.stringify(cmd));
}

export function decodeCommand(data: Uint8Array): RegisterCommand {
  return JSON.parse(decoder.decode(data)) as RegisterCommand;
}

export class RegisterStateMachine {
  private registers = new Map<string, string>();
  /** clientId -> highest seq applied. */
  private sessions = new Map<number, number>();

  apply(cmd: RegisterCommand): CommandResult {
    const last = this.sessions.get(cmd.clientId) ?? -1;
    if (cmd.seq <= last) return { kind: 'stale' };
    this.sessions.set(cmd.clientId, cmd.seq);
    const current = this.registers.get(cmd.key) ?? null;
    if (cmd.kind === RegisterOpKind.Write) {
      this.registers.set(cmd.key, cmd.value);
      return { kind: RegisterOpKind.Write };
    }
    const swapped = current === (cmd.expected ?? null);
    if (swapped) this.registers.set(cmd.key, cmd.value);
    return { kind: RegisterOpKind.Cas, swapped };
  }

  read(key: string): string | null {
    return this.registers.get(key) ?? null;
  }

  /** A canonical encoding of the whole state (sorted), used for snapshots and for comparing replicas. */
  serialize(): Uint8Array {
    return encoder.encode(this.canonical());
  }

  canonical(): string {
    const regs = [...this.registers.entries()].sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
    const sess = [...this.sessions.entries()].sort((a, b) => a[0] - b[0]);
    return JSON.stringify({ r: regs, s: sess });
  }

  static deserialize(data: Uint8Array): RegisterStateMachine {
    const parsed = JSON.parse(decoder.decode(data)) as { r: [string, string][]; s: [number, number][] };
    const sm = new RegisterStateMachine();
    sm.registers = new Map(parsed.r);
    sm.sessions = new Map(parsed.s);
    return sm;
  }
}

/** A short, stable fingerprint of bytes (FNV-1a 32), for comparing entries and states cheaply. */
export function fingerprint(data: Uint8Array | string): number {
  let h = 0x811c9dc5;
  if (typeof data === 'string') {
    for (let i = 0; i < data.length; i++) h = Math.imul(h ^ data.charCodeAt(i), 0x01000193) >>> 0;
  } else {
    for (let i = 0; i < data.length; i++) h = Math.imul(h ^ (data[i] as number), 0x01000193) >>> 0;
  }
  return h;
}
