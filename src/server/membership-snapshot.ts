/**
 * The member table in snapshots: the loop's state machine port over the
 * key-value one, with membership changes applied to the MemberTable and each
 * snapshot prefixed by the table as of the snapshot's index:
 *
 *   "CMEM" | u32 tableBytes (big-endian) | table (JSON) | the key-value snapshot
 *
 * A snapshot without the prefix (taken before member tables existed) starts
 * with the key-value format's own magic and restores with the table left as
 * the initial cluster gives it. Keeping the table beside, not inside, the
 * key-value format keeps src/kv free of what only the server needs.
 */
import type { StateMachine } from './ports.js';
import type { MemberTable } from './member-table.js';

export const MEMBERS_MAGIC = Uint8Array.of(0x43, 0x4d, 0x45, 0x4d); // "CMEM"
const PREFIX_BYTES = MEMBERS_MAGIC.length + 4;
/** A member table larger than this in a snapshot is corruption, not a cluster. */
export const memberTableBytesMax = 16 * 1024 * 1024;

function prefixOf(table: Uint8Array): Uint8Array {
  const out = new Uint8Array(PREFIX_BYTES + table.length);
  out.set(MEMBERS_MAGIC, 0);
  new DataView(out.buffer).setUint32(MEMBERS_MAGIC.length, table.length);
  out.set(table, PREFIX_BYTES);
  return out;
}

async function* prefixed(first: Uint8Array, rest: Iterable<Uint8Array> | AsyncIterable<Uint8Array>): AsyncIterable<Uint8Array> {
  yield first;
  yield* rest as AsyncIterable<Uint8Array>;
}

function concat(a: Uint8Array, b: Uint8Array): Uint8Array {
  if (a.length === 0) return b;
  const out = new Uint8Array(a.length + b.length);
  out.set(a, 0);
  out.set(b, a.length);
  return out;
}

/**
 * Splits a snapshot stream: calls `onTable` with the member table (or null
 * for a snapshot without one) and yields the key-value snapshot's bytes.
 */
export async function* splitMembers(contents: AsyncIterable<Uint8Array>, onTable: (table: Uint8Array | null) => void): AsyncIterable<Uint8Array> {
  let head: Uint8Array = new Uint8Array(0);
  let need = PREFIX_BYTES;
  let decided = false;
  for await (const chunk of contents) {
    if (decided) {
      yield chunk;
      continue;
    }
    head = concat(head, chunk);
    if (head.length < MEMBERS_MAGIC.length) continue;
    if (!MEMBERS_MAGIC.every((b, i) => head[i] === b)) {
      decided = true;
      onTable(null);
      yield head;
      continue;
    }
    if (head.length < PREFIX_BYTES) continue;
    if (need === PREFIX_BYTES) {
      const tableBytes = new DataView(head.buffer, head.byteOffset, head.length).getUint32(MEMBERS_MAGIC.length);
      if (tableBytes > memberTableBytesMax) throw new Error(`snapshot member table of ${tableBytes} bytes exceeds ${memberTableBytesMax}`);
      need = PREFIX_BYTES + tableBytes;
    }
    if (head.length < need) continue;
    decided = true;
    onTable(head.subarray(PREFIX_BYTES, need));
    if (head.length > need) yield head.subarray(need);
  }
  if (!decided) {
    if (head.length >= MEMBERS_MAGIC.length && MEMBERS_MAGIC.every((b, i) => head[i] === b)) throw new Error('snapshot ends inside its member table');
    onTable(null);
    if (head.length > 0) yield head;
  }
}

/** `port` with membership changes going to `table` and the table carried in its snapshots. */
export function withMemberTable<R>(port: StateMachine<R>, table: MemberTable): StateMachine<R> {
  return {
    get appliedIndex() {
      return port.appliedIndex;
    },
    apply: (index, command) => port.apply(index, command),
    skip: (index) => port.skip(index),
    applyConfChange: (index, term, data) => {
      table.applyEntry(index, term, data);
      port.applyConfChange(index, term, data);
    },
    restore: async (contents) => {
      let image: Uint8Array | null = null;
      await port.restore(splitMembers(contents, (t) => (image = t === null ? null : t.slice())));
      if (image !== null) table.restore(image);
    },
    snapshot: () => {
      const inner = port.snapshot();
      return { appliedIndex: inner.appliedIndex, contents: prefixed(prefixOf(table.encode()), inner.contents) };
    },
    describe: () => ({ ...port.describe(), members: table.list().length }),
  };
}
