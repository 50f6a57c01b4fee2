/**
 * The model the simulator's client history is checked against: a set of
 * independent registers (keys), each supporting write, compare-and-set and
 * read. Keys are independent, so the history is partitioned by key and each
 * key is checked on its own (linearizability is compositional).
 */
import type { Model, Operation } from './linearizability.js';

export const RegisterOpKind = {
  Write: 'write',
  Cas: 'cas',
  Read: 'read',
} as const;
export type RegisterOpKind = (typeof RegisterOpKind)[keyof typeof RegisterOpKind];

export type RegisterInput =
  | { readonly kind: typeof RegisterOpKind.Write; readonly key: string; readonly value: string }
  | { readonly kind: typeof RegisterOpKind.Cas; readonly key: string; readonly expected: string | null; readonly value: string }
  | { readonly kind: typeof RegisterOpKind.Read; readonly key: string };

export type RegisterOutput =
  | { readonly kind: typeof RegisterOpKind.Write }
  | { readonly kind: typeof RegisterOpKind.Cas; readonly swapped: boolean }
  | { readonly kind: typeof RegisterOpKind.Read; readonly value: string | null };

/** A register's value; null means never written. */
export type RegisterState = string | null;

export type RegisterOperation = Operation<RegisterInput, RegisterOutput>;

export const registerModel: Model<RegisterState, RegisterInput, RegisterOutput> = {
  init: () => null,
  step(state, input, output) {
    switch (input.kind) {
      case RegisterOpKind.Write:
        return { state: input.value };
      case RegisterOpKind.Cas: {
        const swaps = state === input.expected;
        if (output !== undefined && (output.kind !== RegisterOpKind.Cas || output.swapped !== swaps)) return undefined;
        return { state: swaps ? input.value : state };
      }
      case RegisterOpKind.Read:
        if (output !== undefined && (output.kind !== RegisterOpKind.Read || output.value !== state)) return undefined;
        return { state };
    }
  },
  stateKey: (state) => (state === null ? '\u0000' : 's' + state),
  partition(ops) {
    const byKey = new Map<string, RegisterOperation[]>();
    for (const op of ops) {
      let list = byKey.get(op.input.key);
      if (!list) byKey.set(op.input.key, (list = []));
      list.push(op);
    }
    return [...byKey.keys()].sort().map((k) => byKey.get(k) as RegisterOperation[]);
  },
  describeOperation(op) {
    const i = op.input;
    const what =
      i.kind === RegisterOpKind.Write
        ? `write(${i.key}=${i.value})`
        : i.kind === RegisterOpKind.Cas
          ? `cas(${i.key}: ${i.expected ?? 'null'} -> ${i.value})`
          : `read(${i.key})`;
    let result = '?';
    if (op.returnTime !== undefined && op.output) {
      const o = op.output;
      result = o.kind === RegisterOpKind.Write ? 'ok' : o.kind === RegisterOpKind.Cas ? (o.swapped ? 'swapped' : 'not swapped') : `${o.value ?? 'null'}`;
    }
    const returned = op.returnTime === undefined ? 'unknown' : op.returnTime;
    return `client ${op.clientId}: ${what} -> ${result}  [${op.callTime}, ${returned}]`;
  },
};
