/**
 * The simulated network: every message between nodes passes through here.
 * Faults, all drawn from the run's seeded PRNG:
 * - delay: a base latency plus jitter, with occasional long stalls, so
 *   messages overtake each other (reordering);
 * - loss and duplication, each with a per-run probability;
 * - slow nodes: everything one node sends is delayed further;
 * - partitions: any set of directed links can be cut (symmetric partitions
 *   cut both directions, one-way partitions one), and healed. A message is
 *   lost if its link is cut when it is sent or when it would arrive.
 *
 * The network does not deliver by itself: `send` returns the arrival times
 * and the harness schedules the deliveries on its agenda.
 */
import type { NodeId } from '../../src/raft/types.js';
import type { Prng } from '../../src/common/rng.js';

export interface NetworkFaults {
  /** Probability that a message is lost. */
  readonly lossRate: number;
  /** Probability that a message is delivered twice. */
  readonly duplicateRate: number;
  /** Minimum one-way latency, in simulated ms. */
  readonly delayMinMs: number;
  /** Maximum ordinary one-way latency, in simulated ms. */
  readonly delayMaxMs: number;
  /** Probability of a long stall (up to `stallMaxMs`), which reorders messages. */
  readonly stallRate: number;
  readonly stallMaxMs: number;
}

export const reliableNetwork: NetworkFaults = {
  lossRate: 0,
  duplicateRate: 0,
  delayMinMs: 1,
  delayMaxMs: 5,
  stallRate: 0,
  stallMaxMs: 0,
};

export const SendFate = {
  Delivered: 'delivered',
  Lost: 'lost',
  Cut: 'cut',
} as const;
export type SendFate = (typeof SendFate)[keyof typeof SendFate];

export class SimNetwork {
  private faults: NetworkFaults;
  /** Directed links that are down, as "from>to". */
  private readonly cut = new Set<string>();
  /** Extra latency of everything a node sends. */
  private readonly slowMs = new Map<NodeId, number>();
  sent = 0;
  dropped = 0;
  duplicated = 0;

  constructor(
    private readonly rng: Prng,
    faults: NetworkFaults,
  ) {
    this.faults = faults;
  }

  setFaults(faults: NetworkFaults): void {
    this.faults = faults;
  }

  /** Decide the fate of a message sent now: arrival delays (ms from now), empty if it is lost. */
  send(from: NodeId, to: NodeId): { fate: SendFate; delaysMs: number[] } {
    this.sent++;
    if (this.isCut(from, to)) {
      this.dropped++;
      return { fate: SendFate.Cut, delaysMs: [] };
    }
    if (this.rng.chance(this.faults.lossRate)) {
      this.dropped++;
      return { fate: SendFate.Lost, delaysMs: [] };
    }
    const delays = [this.delay(from)];
    if (this.rng.chance(this.faults.duplicateRate)) {
      this.duplicated++;
      delays.push(this.delay(from));
    }
    return { fate: SendFate.Delivered, delaysMs: delays };
  }

  private delay(from: NodeId): number {
    const f = this.faults;
    const slow = this.slowMs.get(from);
    let d = slow === undefined ? 0 : this.rng.between(Math.floor(slow / 2), slow);
    d += this.rng.between(f.delayMinMs, Math.max(f.delayMinMs, f.delayMaxMs));
    if (f.stallMaxMs > 0 && this.rng.chance(f.stallRate)) d += this.rng.between(1, f.stallMaxMs);
    return d;
  }

  /** How long a party takes to notice that a connection broke (a reset, a keepalive): a few latencies. */
  lossNoticeMs(): number {
    const f = this.faults;
    return this.rng.between(2 * f.delayMaxMs, 6 * f.delayMaxMs + 20);
  }

  /**
   * For connection-oriented traffic (client calls, forwarded requests): the
   * fate of one message, where a lost segment is retransmitted (it arrives a
   * retransmission timeout later) and only sometimes ends in a reset.
   * Null: the connection breaks.
   */
  sendOnConnection(from: NodeId, to: NodeId): number | null {
    const { fate, delaysMs } = this.send(from, to);
    if (fate === SendFate.Delivered) return delaysMs[0] as number;
    if (fate === SendFate.Cut || this.rng.chance(0.25)) return null;
    return this.delay(from) + this.rng.between(200, 400);
  }

  isCut(from: NodeId, to: NodeId): boolean {
    return this.cut.has(from + '>' + to);
  }

  cutLink(from: NodeId, to: NodeId): void {
    this.cut.add(from + '>' + to);
  }

  /** Split the nodes into groups that cannot talk across (symmetric partition). */
  partition(groups: readonly (readonly NodeId[])[]): void {
    for (const a of groups) {
      for (const b of groups) {
        if (a === b) continue;
        for (const x of a) for (const y of b) this.cutLink(x, y);
      }
    }
  }

  /** Cut every link into and out of `node`. */
  isolate(node: NodeId, all: readonly NodeId[]): void {
    for (const other of all) {
      if (other === node) continue;
      this.cutLink(node, other);
      this.cutLink(other, node);
    }
  }

  /** Everything `node` sends takes up to `extraMs` longer (a congested link or an overloaded process). */
  slowDown(node: NodeId, extraMs: number): void {
    this.slowMs.set(node, extraMs);
  }

  healAll(): void {
    this.cut.clear();
    this.slowMs.clear();
  }

  hasCuts(): boolean {
    return this.cut.size > 0;
  }

  describeCuts(): string {
    return [...this.cut].sort().join(' ');
  }
}
