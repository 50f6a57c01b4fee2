/**
 * A small schema language for message bodies: one definition gives both the
 * runtime validator and the static type.
 *
 *   const Put = s.object({ key: s.bytes(), value: s.bytes(), ttlMs: s.optional(s.uint()) });
 *   type Put = Infer<typeof Put>;   // { key: Uint8Array; value: Uint8Array; ttlMs?: number }
 *
 * Validation is on the hot path of every received message, so each schema has
 * a fast `is(value)` that only answers yes/no (no allocation), and a slow
 * `explain(value)` that runs only after `is` said no, to name the failing
 * field path and what was expected. Objects ignore keys they do not list, so a
 * newer peer may add optional fields without breaking an older one.
 */

export interface SchemaFailure {
  /** Field path from the root, e.g. `entries[3].data`; empty at the root. */
  readonly path: string;
  /** What the schema expected there, e.g. `unsigned integer`. */
  readonly expected: string;
  /** A short description of what was found. */
  readonly found: string;
}

export abstract class Schema<T> {
  /** Phantom member carrying the static type; never set at runtime. */
  declare readonly _type: T;
  /** What this schema accepts, for error messages, e.g. `unsigned integer`. */
  abstract readonly description: string;
  /** Fast check: true when `value` has this schema's shape. */
  abstract is(value: unknown): value is T;
  /** Where and why `value` fails (call only when `is(value)` is false). */
  explain(value: unknown, path = ''): SchemaFailure {
    return { path, expected: this.description, found: describe(value) };
  }
}

/** The static type a schema describes. */
export type Infer<S> = S extends Schema<infer T> ? T : never;

/** A short, bounded description of a value for error messages (never the whole value). */
export function describe(value: unknown): string {
  if (value === null) return 'null';
  if (value === undefined) return 'undefined (missing)';
  if (value instanceof Uint8Array) return `bytes(${value.length})`;
  if (Array.isArray(value)) return `array(${value.length})`;
  switch (typeof value) {
    case 'string':
      return value.length > 40 ? `string "${value.slice(0, 40)}..."` : `string ${JSON.stringify(value)}`;
    case 'number':
    case 'bigint':
    case 'boolean':
      return `${typeof value} ${String(value)}`;
    case 'object':
      return 'object';
    default:
      return typeof value;
  }
}

function joinPath(path: string, key: string): string {
  return path === '' ? key : `${path}.${key}`;
}

interface LengthBound {
  /** Reject longer values (characters for strings, bytes for bytes, items for arrays). */
  readonly maxLength?: number;
}

class StringSchema extends Schema<string> {
  readonly description: string;
  private readonly maxLength: number;
  constructor(bound: LengthBound = {}) {
    super();
    this.maxLength = bound.maxLength ?? Infinity;
    this.description = bound.maxLength === undefined ? 'string' : `string of at most ${bound.maxLength} characters`;
  }
  is(value: unknown): value is string {
    return typeof value === 'string' && value.length <= this.maxLength;
  }
}

class BytesSchema extends Schema<Uint8Array> {
  readonly description: string;
  private readonly maxLength: number;
  constructor(bound: LengthBound = {}) {
    super();
    this.maxLength = bound.maxLength ?? Infinity;
    this.description = bound.maxLength === undefined ? 'bytes' : `bytes of at most ${bound.maxLength} bytes`;
  }
  is(value: unknown): value is Uint8Array {
    return value instanceof Uint8Array && value.length <= this.maxLength;
  }
}

class UintSchema extends Schema<number> {
  readonly description = 'unsigned integer';
  is(value: unknown): value is number {
    return typeof value === 'number' && Number.isSafeInteger(value) && value >= 0;
  }
}

class IntSchema extends Schema<number> {
  readonly description = 'integer';
  is(value: unknown): value is number {
    return typeof value === 'number' && Number.isSafeInteger(value);
  }
}

class NumberSchema extends Schema<number> {
  readonly description = 'finite number';
  is(value: unknown): value is number {
    return typeof value === 'number' && Number.isFinite(value);
  }
}

class BoolSchema extends Schema<boolean> {
  readonly description = 'boolean';
  is(value: unknown): value is boolean {
    return value === true || value === false;
  }
}

class UnknownSchema extends Schema<unknown> {
  readonly description = 'anything';
  is(_value: unknown): _value is unknown {
    return true;
  }
}

type Literal = string | number | boolean | null;

class LiteralSchema<T extends Literal> extends Schema<T> {
  readonly description: string;
  constructor(readonly value: T) {
    super();
    this.description = JSON.stringify(value);
  }
  is(value: unknown): value is T {
    return value === this.value;
  }
}

class ArraySchema<T> extends Schema<T[]> {
  readonly description: string;
  private readonly maxLength: number;
  constructor(
    private readonly item: Schema<T>,
    bound: LengthBound = {},
  ) {
    super();
    this.maxLength = bound.maxLength ?? Infinity;
    this.description = `array of ${item.description}`;
  }
  is(value: unknown): value is T[] {
    if (!Array.isArray(value) || value.length > this.maxLength) return false;
    const item = this.item;
    for (let i = 0; i < value.length; i++) if (!item.is(value[i])) return false;
    return true;
  }
  override explain(value: unknown, path = ''): SchemaFailure {
    if (Array.isArray(value) && value.length > this.maxLength) {
      return { path, expected: `at most ${this.maxLength} items`, found: describe(value) };
    }
    if (!Array.isArray(value)) return super.explain(value, path);
    for (let i = 0; i < value.length; i++) {
      if (!this.item.is(value[i])) return this.item.explain(value[i], `${path}[${i}]`);
    }
    return super.explain(value, path);
  }
}

class OptionalSchema<T> extends Schema<T | undefined> {
  readonly description: string;
  constructor(readonly inner: Schema<T>) {
    super();
    this.description = `${inner.description} or absent`;
  }
  is(value: unknown): value is T | undefined {
    return value === undefined || this.inner.is(value);
  }
  override explain(value: unknown, path = ''): SchemaFailure {
    return this.inner.explain(value, path);
  }
}

class NullableSchema<T> extends Schema<T | null> {
  readonly description: string;
  constructor(private readonly inner: Schema<T>) {
    super();
    this.description = `${inner.description} or null`;
  }
  is(value: unknown): value is T | null {
    return value === null || this.inner.is(value);
  }
  override explain(value: unknown, path = ''): SchemaFailure {
    if (value === undefined) return super.explain(value, path);
    return this.inner.explain(value, path);
  }
}

class UnionSchema<T> extends Schema<T> {
  readonly description: string;
  constructor(private readonly options: readonly Schema<T>[]) {
    super();
    this.description = options.map((o) => o.description).join(' | ');
  }
  is(value: unknown): value is T {
    const options = this.options;
    for (let i = 0; i < options.length; i++) if (options[i]!.is(value)) return true;
    return false;
  }
}

type Shape = Record<string, Schema<unknown>>;
type Simplify<T> = { [K in keyof T]: T[K] } & {};
type OptionalKeys<S extends Shape> = { [K in keyof S]: S[K] extends OptionalSchema<unknown> ? K : never }[keyof S];
type RequiredKeys<S extends Shape> = Exclude<keyof S, OptionalKeys<S>>;
export type ObjectType<S extends Shape> = Simplify<
  { [K in RequiredKeys<S>]: Infer<S[K]> } & { [K in OptionalKeys<S>]?: Infer<S[K]> }
>;

class ObjectSchema<S extends Shape> extends Schema<ObjectType<S>> {
  readonly description = 'object';
  private readonly keys: readonly string[];
  private readonly schemas: readonly Schema<unknown>[];
  constructor(readonly shape: S) {
    super();
    this.keys = Object.keys(shape);
    this.schemas = this.keys.map((k) => shape[k]!);
  }
  is(value: unknown): value is ObjectType<S> {
    if (typeof value !== 'object' || value === null || Array.isArray(value) || value instanceof Uint8Array) return false;
    const keys = this.keys;
    const schemas = this.schemas;
    const record = value as Record<string, unknown>;
    for (let i = 0; i < keys.length; i++) if (!schemas[i]!.is(record[keys[i]!])) return false;
    return true;
  }
  override explain(value: unknown, path = ''): SchemaFailure {
    if (typeof value !== 'object' || value === null || Array.isArray(value) || value instanceof Uint8Array) {
      return super.explain(value, path);
    }
    const record = value as Record<string, unknown>;
    for (let i = 0; i < this.keys.length; i++) {
      const key = this.keys[i]!;
      const schema = this.schemas[i]!;
      if (!schema.is(record[key])) return schema.explain(record[key], joinPath(path, key));
    }
    return super.explain(value, path);
  }
}

class RecordSchema<T> extends Schema<Record<string, T>> {
  readonly description: string;
  constructor(private readonly valueSchema: Schema<T>) {
    super();
    this.description = `map of string to ${valueSchema.description}`;
  }
  is(value: unknown): value is Record<string, T> {
    if (typeof value !== 'object' || value === null || Array.isArray(value) || value instanceof Uint8Array) return false;
    for (const key in value) if (!this.valueSchema.is((value as Record<string, unknown>)[key])) return false;
    return true;
  }
  override explain(value: unknown, path = ''): SchemaFailure {
    if (typeof value === 'object' && value !== null && !Array.isArray(value) && !(value instanceof Uint8Array)) {
      for (const key in value) {
        const item = (value as Record<string, unknown>)[key];
        if (!this.valueSchema.is(item)) return this.valueSchema.explain(item, joinPath(path, key));
      }
    }
    return super.explain(value, path);
  }
}

/** The schema constructors. */
export const s = {
  string: (bound?: LengthBound): Schema<string> => new StringSchema(bound),
  /** Binary data; decodes to a Uint8Array (a Node Buffer). */
  bytes: (bound?: LengthBound): Schema<Uint8Array> => new BytesSchema(bound),
  /** A non-negative safe integer (terms, indexes, counts). */
  uint: (): Schema<number> => new UintSchema(),
  /** A safe integer. */
  int: (): Schema<number> => new IntSchema(),
  /** A finite number (not NaN or Infinity). */
  number: (): Schema<number> => new NumberSchema(),
  bool: (): Schema<boolean> => new BoolSchema(),
  /** Accepts any value (e.g. opaque error details); the static type is `unknown`. */
  unknown: (): Schema<unknown> => new UnknownSchema(),
  literal: <const T extends Literal>(value: T): Schema<T> => new LiteralSchema(value),
  array: <T>(item: Schema<T>, bound?: LengthBound): Schema<T[]> => new ArraySchema(item, bound),
  object: <S extends Shape>(shape: S): ObjectSchema<S> => new ObjectSchema(shape),
  /** A string-keyed map with values of one schema. */
  record: <T>(value: Schema<T>): Schema<Record<string, T>> => new RecordSchema(value),
  /** Inside `s.object`, makes the key optional (`key?: T`); the value may be absent or undefined. */
  optional: <T>(inner: Schema<T>): OptionalSchema<T> => new OptionalSchema(inner),
  nullable: <T>(inner: Schema<T>): Schema<T | null> => new NullableSchema(inner),
  /** Any of the given schemas (checked in order; put discriminated `s.object`s with `s.literal` tags first). */
  union: <const O extends readonly Schema<unknown>[]>(...options: O): Schema<Infer<O[number]>> =>
    new UnionSchema(options as unknown as readonly Schema<Infer<O[number]>>[]),
  /** One of the given literal values, e.g. `s.oneOf('get', 'put')`. */
  oneOf: <const T extends readonly Literal[]>(...values: T): Schema<T[number]> =>
    new UnionSchema(values.map((v) => new LiteralSchema(v))),
} as const;

export type { ObjectSchema, OptionalSchema };
