/**
 * The model the register workload's history is checked against
 * (linearizability.ts): independent keys, each a value with its etcd-style
 * version (1 at creation, +1 per write; the workload never deletes).
 * Operations, as the real client offers them:
 * - write: `put(key, value)`, which returns the key's new version;
 * - compare-and-set: `put(key, value, { expectedVersion })`, which swaps
 *   (returning the new version) or fails with VersionMismatch;
 * - read: a linearizable `get(key)`, returning value and version.
 * The model checks versions as well as values, so a write applied twice or
 * lost shows up even when the values happen to agree.
 */
import type { Model, Operation } from './linearizability.js';

export const KvOpKind = {
  Write: 'write',
  Cas: 'cas',
  Read: 'read',
} as const;
export type KvOpKind = (typeof KvOpKind)[keyof typeof KvOpKind];

export type KvInput =
  | { readonly kind: typeof KvOpKind.Write; readonly key: string; readonly value: string }
  | { readonly kind: typeof KvOpKind.Cas; readonly key: string; readonly expectedVersion: number; readonly value: string }
  | { readonly kind: typeof KvOpKind.Read; readonly key: string };

export type KvOutput =
  | { readonly kind: typeof KvOpKind.Write; readonly version: number }
  | { readonly kind: typeof KvOpKind.Cas; readonly swapped: boolean; readonly version: number }
  | { readonly kind: typeof KvOpKind.Read; readonly value: string | null; readonly version: number };

export interface KvRegisterState {
  readonly value: string | null;
  readonly version: number;
}

export type KvOperation = Operation<KvInput, KvOutput>;

const initial: KvRegisterState = { value: null, version: 0 };

export const kvRegisterModel: Model<KvRegisterState, KvInput, KvOutput> = {
  init: () => initial,
  step(state, input, output) {
    switch (input.kind) {
      case KvOpKind.Write: {
        const next = { value: input.value, version: state.version + 1 };
        if (output !== undefined && (output.kind !== KvOpKind.Write || output.version !== next.version)) return undefined;
        return { state: next };
      }
      case KvOpKind.Cas: {
        const swaps = state.version === input.expectedVersion;
        const next = swaps ? { value: input.value, version: state.version + 1 } : state;
        if (output !== undefined) {
          if (output.kind !== KvOpKind.Cas || output.swapped !== swaps) return undefined;
          if (swaps && output.version !== next.version) return undefined;
        }
        return { state: next };
      }
      case KvOpKind.Read:
        if (output !== undefined && (output.kind !== KvOpKind.Read || output.value !== state.value || output.version !== state.version)) return undefined;
        return { state };
    }
  },
  stateKey: (state) => `${state.version}:${state.value ?? ''}`,
  partition(ops) {
    const byKey = new Map<string, KvOperation[]>();
    for (const op of ops) {
      let list = byKey.get(op.input.key);
      if (!list) byKey.set(op.input.key, (list = []));
      list.push(op);
    }
    return [...byKey.keys()].sort().map((k) => byKey.get(k) as KvOperation[]);
  },
  describeOperation(op) {
    return `client ${op.clientId}: ${describeKvInput(op.input)} -> ${op.output === undefined ? 'unknown' : describeKvOutput(op.output)}  [${op.callTime}, ${op.returnTime ?? 'unknown'}]`;
  },
};

export function describeKvInput(i: KvInput): string {
  return i.kind === KvOpKind.Write ? `write(${i.key}=${i.value})` : i.kind === KvOpKind.Cas ? `cas(${i.key}@v${i.expectedVersion} -> ${i.value})` : `read(${i.key})`;
}

export function describeKvOutput(o: KvOutput): string {
  return o.kind === KvOpKind.Write ? `ok v${o.version}` : o.kind === KvOpKind.Cas ? (o.swapped ? `swapped v${o.version}` : 'not swapped') : `${o.value ?? 'null'} v${o.version}`;
}
