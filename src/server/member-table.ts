/**
 * The replicated member table: every member's name, ID, peer URL and client
 * URL, and the names removed from the cluster. It is changed only by
 * committed membership changes (their ConfChange `context` names the member
 * and its URLs) and travels in snapshots (membership-snapshot.ts), so a new
 * leader, a restarted member and a member that joined by snapshot all know
 * where every member is (etcd keeps its member list in its backend for the
 * same reason). The bootstrap entry (index 1) carries no context: the initial
 * members' URLs come from --initial-cluster, which every initial member has.
 */
import { ConfChangeType, decodeConfChange, type ConfChange } from '../raft/index.js';

/** One member as the cluster knows it. */
export interface MemberRecord {
  readonly name: string;
  /** A stable ID (16 hex digits), new for each time a name is added. */
  readonly id: string;
  readonly peerUrl: string;
  /** As given to `member add` (null: not given; the member announces its own in hellos). */
  readonly clientUrl: string | null;
  /** Index of the membership change that added it (1: an initial member). */
  readonly addedAt: number;
}

/** What a member-adding change carries in its ConfChange context. */
export interface AddContext {
  readonly member: { readonly name: string; readonly id: string; readonly peerUrl: string; readonly clientUrl: string | null };
}

/** The snapshot form (JSON). */
interface TableImage {
  readonly members: readonly MemberRecord[];
  readonly removed: readonly string[];
  readonly changeIndex: number;
  readonly changeTerm: number;
}

/** How many applied changes termOfChangeAt remembers. */
const recentChangesMax = 64;

/** How many removed names are remembered (to tell a removed member why it is refused); the oldest go first. */
export const removedNamesMax = 1024;

/** A deterministic ID for an initial member (every member computes the same one): FNV-1a 64 of its name and peer URL. */
export function initialMemberId(name: string, peerUrl: string): string {
  let h = 0xcbf29ce484222325n;
  for (const byte of new TextEncoder().encode(`${name}\u0000${peerUrl}`)) {
    h ^= BigInt(byte);
    h = (h * 0x100000001b3n) & 0xffffffffffffffffn;
  }
  return h.toString(16).padStart(16, '0');
}

export function encodeAddContext(context: AddContext): string {
  return JSON.stringify(context);
}

function parseAddContext(text: string | undefined): AddContext['member'] | null {
  if (text === undefined) return null;
  try {
    const parsed = JSON.parse(text) as Partial<AddContext>;
    const m = parsed.member;
    if (m === undefined || typeof m.name !== 'string' || typeof m.id !== 'string' || typeof m.peerUrl !== 'string') return null;
    return { name: m.name, id: m.id, peerUrl: m.peerUrl, clientUrl: typeof m.clientUrl === 'string' ? m.clientUrl : null };
  } catch {
    return null;
  }
}

export class MemberTable {
  private members = new Map<string, MemberRecord>();
  private removedNames: string[] = [];
  /** The index and term of the last membership change applied. */
  private lastChange = { index: 0, term: 0 };
  /** The terms of the last few changes applied, by index: did a proposal at (index, term) commit? */
  private readonly recent = new Map<number, number>();
  private readonly listeners = new Set<(table: MemberTable) => void>();

  /** `initialCluster`: name -> peer URL, for members added without a context (the bootstrap entry). */
  constructor(private readonly initialCluster: Readonly<Record<string, string>>) {}

  /** Called after every change (applied entry or restored snapshot). */
  onChange(listener: (table: MemberTable) => void): void {
    this.listeners.add(listener);
  }

  get changeIndex(): number {
    return this.lastChange.index;
  }

  get changeTerm(): number {
    return this.lastChange.term;
  }

  /** True before anything was applied or restored (a member that joins with an empty data directory). */
  get empty(): boolean {
    return this.members.size === 0 && this.lastChange.index === 0;
  }

  list(): MemberRecord[] {
    return [...this.members.values()].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  }

  get(name: string): MemberRecord | undefined {
    return this.members.get(name);
  }

  has(name: string): boolean {
    return this.members.has(name);
  }

  /** True when `name` was removed and not added again. */
  wasRemoved(name: string): boolean {
    return !this.members.has(name) && this.removedNames.includes(name);
  }

  /** name -> peer URL of every member. */
  peerUrls(): Record<string, string> {
    const out: Record<string, string> = {};
    for (const m of this.members.values()) out[m.name] = m.peerUrl;
    return out;
  }

  /** Applies the committed membership change at `index` (undecodable bytes change nothing, on every member alike). */
  applyEntry(index: number, term: number, data: Uint8Array): void {
    let change: ConfChange;
    try {
      change = decodeConfChange(data);
    } catch {
      return;
    }
    this.apply(index, term, change);
  }

  apply(index: number, term: number, change: ConfChange): void {
    if (index <= this.lastChange.index) return;
    const context = parseAddContext(change.context);
    for (const single of change.changes) {
      const name = single.nodeId;
      if (single.type === ConfChangeType.RemoveNode) {
        if (this.members.delete(name)) this.noteRemoved(name);
        continue;
      }
      // AddVoter of a learner is a promotion: the record stays as it is.
      if (this.members.has(name)) continue;
      const fromContext = context !== null && context.name === name ? context : null;
      const peerUrl = fromContext?.peerUrl ?? this.initialCluster[name];
      if (peerUrl === undefined) continue; // a member nobody gave URLs for: the core still counts it, no link to it
      this.members.set(name, {
        name,
        id: fromContext?.id ?? initialMemberId(name, peerUrl),
        peerUrl,
        clientUrl: fromContext?.clientUrl ?? null,
        addedAt: index,
      });
      this.removedNames = this.removedNames.filter((n) => n !== name);
    }
    this.lastChange = { index, term };
    this.recent.set(index, term);
    if (this.recent.size > recentChangesMax) this.recent.delete(this.recent.keys().next().value!);
    this.changed();
  }

  /** The term of the change applied at `index`, if it is one of the last few (undefined: none there, or too old). */
  termOfChangeAt(index: number): number | undefined {
    return this.recent.get(index);
  }

  private noteRemoved(name: string): void {
    this.removedNames = [...this.removedNames.filter((n) => n !== name), name].slice(-removedNamesMax);
  }

  encode(): Uint8Array {
    const image: TableImage = { members: this.list(), removed: this.removedNames, changeIndex: this.lastChange.index, changeTerm: this.lastChange.term };
    return new TextEncoder().encode(JSON.stringify(image));
  }

  /** Replaces the table with a snapshot's (throws on a malformed image: the snapshot is corrupt). */
  restore(bytes: Uint8Array): void {
    const image = JSON.parse(new TextDecoder().decode(bytes)) as TableImage;
    if (!Array.isArray(image.members) || !Array.isArray(image.removed) || typeof image.changeIndex !== 'number') {
      throw new Error('member table in snapshot is malformed');
    }
    this.members = new Map(image.members.map((m) => [m.name, { ...m }]));
    this.removedNames = image.removed.filter((n) => typeof n === 'string');
    this.lastChange = { index: image.changeIndex, term: typeof image.changeTerm === 'number' ? image.changeTerm : 0 };
    this.changed();
  }

  private changed(): void {
    for (const listener of [...this.listeners]) listener(this);
  }
}
