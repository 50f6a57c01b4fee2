/**
 * Message and method tables: the one place that lists every message type a
 * connection may carry (a small integer id, a name, a schema) and every RPC
 * method (id, name, request schema, response schema).
 *
 * Ids, not names, go on the wire: they are small and they stay stable when a
 * message is renamed. Ids must never be reused for a different shape.
 */
import { assert } from '../common/errors.js';
import type { Infer, Schema } from './schema.js';

/** Wire ids are unsigned 16-bit integers. */
export const wireIdMax = 0xffff;

export interface MessageSpec {
  readonly id: number;
  readonly schema: Schema<any>;
}
export type MessageSpecs = Record<string, MessageSpec>;

export interface MessageEntry {
  readonly id: number;
  readonly name: string;
  readonly schema: Schema<unknown>;
}

export class MessageTable<S extends MessageSpecs = MessageSpecs> {
  declare readonly _specs: S;
  /** Entries indexed by id (sparse). */
  readonly byId: readonly (MessageEntry | undefined)[];
  readonly byName: ReadonlyMap<string, MessageEntry>;

  constructor(specs: S) {
    const byId: (MessageEntry | undefined)[] = [];
    const byName = new Map<string, MessageEntry>();
    for (const [name, spec] of Object.entries(specs)) {
      assert(Number.isInteger(spec.id) && spec.id >= 0 && spec.id <= wireIdMax, `message ${name}: id ${spec.id} is not in 0..${wireIdMax}`);
      assert(byId[spec.id] === undefined, `message ${name}: id ${spec.id} already used by ${byId[spec.id]?.name}`);
      const entry: MessageEntry = { id: spec.id, name, schema: spec.schema };
      byId[spec.id] = entry;
      byName.set(name, entry);
    }
    this.byId = byId;
    this.byName = byName;
  }
}

/**
 * Declare the messages a connection carries:
 *
 *   const messages = defineMessages({
 *     Ping: { id: 1, schema: s.object({ seq: s.uint() }) },
 *   });
 */
export function defineMessages<const S extends MessageSpecs>(specs: S): MessageTable<S> {
  return new MessageTable(specs);
}

/** A table with no one-way messages (for RPC-only connections). */
export const noMessages: MessageTable<{}> = defineMessages({});

/** The union of `{ type, body }` messages a table allows; `switch (m.type)` narrows `body`. */
export type MessageOf<T extends MessageTable<any>> =
  T extends MessageTable<infer S>
    ? { [K in keyof S & string]: { readonly type: K; readonly body: Infer<S[K]['schema']> } }[keyof S & string]
    : never;

export interface MethodSpec {
  readonly id: number;
  readonly request: Schema<any>;
  readonly response: Schema<any>;
}
export type MethodSpecs = Record<string, MethodSpec>;

export interface MethodEntry {
  readonly id: number;
  readonly name: string;
  readonly request: Schema<unknown>;
  readonly response: Schema<unknown>;
  /** Names for error messages, made once: `get request`, `get response`, `get error`. */
  readonly requestLabel: string;
  readonly responseLabel: string;
  readonly errorLabel: string;
}

export class MethodTable<S extends MethodSpecs = MethodSpecs> {
  declare readonly _specs: S;
  readonly byId: readonly (MethodEntry | undefined)[];
  readonly byName: ReadonlyMap<string, MethodEntry>;

  constructor(specs: S) {
    const byId: (MethodEntry | undefined)[] = [];
    const byName = new Map<string, MethodEntry>();
    for (const [name, spec] of Object.entries(specs)) {
      assert(Number.isInteger(spec.id) && spec.id >= 0 && spec.id <= wireIdMax, `method ${name}: id ${spec.id} is not in 0..${wireIdMax}`);
      assert(byId[spec.id] === undefined, `method ${name}: id ${spec.id} already used by ${byId[spec.id]?.name}`);
      const entry: MethodEntry = {
        id: spec.id,
        name,
        request: spec.request,
        response: spec.response,
        requestLabel: `${name} request`,
        responseLabel: `${name} response`,
        errorLabel: `${name} error`,
      };
      byId[spec.id] = entry;
      byName.set(name, entry);
    }
    this.byId = byId;
    this.byName = byName;
  }
}

/**
 * Declare RPC methods:
 *
 *   const methods = defineMethods({
 *     get: { id: 1, request: s.object({ key: s.bytes() }), response: s.object({ value: s.nullable(s.bytes()) }) },
 *   });
 */
export function defineMethods<const S extends MethodSpecs>(specs: S): MethodTable<S> {
  return new MethodTable(specs);
}

export type MethodName<T extends MethodTable<any>> = T extends MethodTable<infer S> ? keyof S & string : never;
export type RequestOf<T extends MethodTable<any>, K extends MethodName<T>> =
  T extends MethodTable<infer S> ? Infer<S[K]['request']> : never;
export type ResponseOf<T extends MethodTable<any>, K extends MethodName<T>> =
  T extends MethodTable<infer S> ? Infer<S[K]['response']> : never;
