/**
 * The simulator's agenda: events ordered by simulated time, ties broken by
 * insertion order, so that a run is a pure function of its seed.
 */
export class EventQueue<E> {
  private readonly heap: { time: number; seq: number; event: E }[] = [];
  private seq = 0;

  constructor(private readonly eventsMax: number) {}

  get size(): number {
    return this.heap.length;
  }

  push(time: number, event: E): void {
    if (this.heap.length >= this.eventsMax) {
      throw new RangeError(`simulator event queue is full (${this.eventsMax} events): a component is flooding the agenda`);
    }
    const item = { time, seq: this.seq++, event };
    const h = this.heap;
    h.push(item);
    let i = h.length - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (!less(item, h[parent] as typeof item)) break;
      h[i] = h[parent] as typeof item;
      i = parent;
    }
    h[i] = item;
  }

  peekTime(): number | undefined {
    return this.heap[0]?.time;
  }

  pop(): { time: number; event: E } | undefined {
    const h = this.heap;
    const top = h[0];
    if (top === undefined) return undefined;
    const last = h.pop() as typeof top;
    if (h.length > 0) {
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        const r = l + 1;
        let smallest = i;
        const cur = () => (smallest === i ? last : (h[smallest] as typeof top));
        if (l < h.length && less(h[l] as typeof top, cur())) smallest = l;
        if (r < h.length && less(h[r] as typeof top, cur())) smallest = r;
        if (smallest === i) break;
        h[i] = h[smallest] as typeof top;
        i = smallest;
      }
      h[i] = last;
    }
    return { time: top.time, event: top.event };
  }
}

function less(a: { time: number; seq: number }, b: { time: number; seq: number }): boolean {
  return a.time !== b.time ? a.time < b.time : a.seq < b.seq;
}
