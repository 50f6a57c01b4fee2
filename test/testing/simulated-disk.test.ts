/**
 * The simulated disk's crash model (src/testing/simulated-disk.ts): what a
 * power cut keeps of file data and of directory entries, tears, kill -9,
 * faults (fsyncgate included), latency on an injected clock, and that a seed
 * fixes every random choice.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { Clock, Timer } from '../../src/common/clock.js';
import { Prng } from '../../src/common/rng.js';
import { SimulatedDisk } from '../../src/testing/simulated-disk.js';

const bytes = (s: string) => new TextEncoder().encode(s);
const str = (b: Uint8Array) => new TextDecoder().decode(b);

/** A disk with a durable directory /d. */
async function diskWithDir(options: ConstructorParameters<typeof SimulatedDisk>[0] = {}): Promise<SimulatedDisk> {
  const disk = new SimulatedDisk(options);
  await disk.mkdirp('/d');
  await disk.fsyncDir('/');
  return disk;
}

/** A manual clock: timers fire only when the test advances time. */
class ManualClock implements Clock {
  private now = 0;
  private timers: Array<{ at: number; fn: () => void; cancelled: boolean }> = [];
  nowMs(): number {
    return this.now;
  }
  monotonicMs(): number {
    return this.now;
  }
  setTimer(delayMs: number, fn: () => void): Timer {
    const t = { at: this.now + Math.max(0, delayMs), fn, cancelled: false };
    this.timers.push(t);
    return { cancel: () => void (t.cancelled = true) };
  }
  setRepeating(): Timer {
    throw new Error('not used');
  }
  schedule(fn: () => void): void {
    this.setTimer(0, fn);
  }
  get pending(): number {
    return this.timers.filter((t) => !t.cancelled).length;
  }
  async advance(ms: number): Promise<void> {
    this.now += ms;
    const due = this.timers.filter((t) => t.at <= this.now && !t.cancelled);
    this.timers = this.timers.filter((t) => !due.includes(t));
    for (const t of due) t.fn();
    for (let i = 0; i < 5; i++) await new Promise((r) => setImmediate(r));
  }
}

describe('SimulatedDisk: power cuts', () => {
  it('loses writes not covered by a datasync, keeps those that are', async () => {
    const disk = await diskWithDir();
    const f = await disk.open('/d/a', 'create-exclusive');
    await disk.fsyncDir('/d');
    await f.writev([bytes('hello ')], 0);
    await f.datasync();
    await f.writev([bytes('world')], 6);
    disk.crash();
    assert.equal(str(disk.fileBytes('/d/a')), 'hello ');
  });

  it('loses a created file whose directory entry was never synced', async () => {
    const disk = await diskWithDir();
    const f = await disk.open('/d/a', 'create-exclusive');
    await f.writev([bytes('x')], 0);
    await f.datasync();
    disk.crash();
    assert.deepEqual(await disk.readdir('/d'), []);
  });

  it('a rename is durable only after fsyncDir', async () => {
    const disk = await diskWithDir();
    const f = await disk.open('/d/a.tmp', 'create-exclusive');
    await f.writev([bytes('x')], 0);
    await f.datasync();
    await disk.fsyncDir('/d');
    await disk.rename('/d/a.tmp', '/d/a');
    disk.crash();
    assert.deepEqual(await disk.readdir('/d'), ['a.tmp']);
    await disk.rename('/d/a.tmp', '/d/a');
    await disk.fsyncDir('/d');
    disk.crash();
    assert.deepEqual(await disk.readdir('/d'), ['a']);
  });

  it('an unlink not synced is undone by a power cut: the file reappears with its durable data', async () => {
    const disk = await diskWithDir();
    const f = await disk.open('/d/a', 'create-exclusive');
    await f.writev([bytes('kept')], 0);
    await f.datasync();
    await disk.fsyncDir('/d');
    await disk.unlink('/d/a');
    assert.deepEqual(await disk.readdir('/d'), []);
    disk.crash();
    assert.deepEqual(await disk.readdir('/d'), ['a']);
    assert.equal(str(disk.fileBytes('/d/a')), 'kept');
  });

  it('a directory made by mkdirp vanishes with its contents unless its parent is synced', async () => {
    const disk = new SimulatedDisk();
    assert.equal(await disk.mkdirp('/x/y'), '/x');
    assert.equal(await disk.mkdirp('/x/y'), undefined);
    const f = await disk.open('/x/y/a', 'create-exclusive');
    await f.writev([bytes('x')], 0);
    await f.datasync();
    await disk.fsyncDir('/x/y');
    await disk.fsyncDir('/x'); // y's entry in x, but not x's entry in /
    disk.crash();
    assert.equal(disk.exists('/x'), false);
    assert.equal(disk.exists('/x/y/a'), false);
    await disk.mkdirp('/x/y');
    const g = await disk.open('/x/y/a', 'create-exclusive');
    await g.writev([bytes('x')], 0);
    await g.datasync();
    for (const d of ['/x/y', '/x', '/']) await disk.fsyncDir(d);
    disk.crash();
    assert.equal(str(disk.fileBytes('/x/y/a')), 'x');
  });

  it('tears unsynced writes at a seeded point: always a prefix of what was written', async () => {
    const seen = new Set<number>();
    for (let seed = 1; seed <= 40; seed++) {
      const disk = await diskWithDir({ seed });
      const f = await disk.open('/d/a', 'create-exclusive');
      await disk.fsyncDir('/d');
      await f.writev([bytes('durable|')], 0);
      await f.datasync();
      await f.writev([bytes('one|')], 8);
      await f.writev([bytes('two|three')], 12);
      disk.crash({ tear: true });
      const after = str(disk.fileBytes('/d/a'));
      assert.ok('durable|one|two|three'.startsWith(after) && after.startsWith('durable|'), after);
      seen.add(after.length);
    }
    assert.ok(seen.size > 3, 'different seeds tear at different points');
  });

  it('a torn overwrite keeps or loses whole 512-byte sectors', async () => {
    const outcomes = new Set<string>();
    for (let seed = 1; seed <= 30; seed++) {
      const disk = await diskWithDir({ seed });
      const f = await disk.open('/d/a', 'create-exclusive');
      await disk.fsyncDir('/d');
      await f.writev([new Uint8Array(2048)], 0);
      await f.datasync();
      await f.writev([new Uint8Array(2048).fill(7)], 0);
      disk.crash({ tear: true });
      const image = disk.fileBytes('/d/a');
      assert.equal(image.byteLength, 2048);
      let pattern = '';
      for (let s = 0; s < 2048; s += 512) {
        const sector = image.subarray(s, s + 512);
        assert.ok(sector.every((b) => b === 0) || sector.every((b) => b === 7), `seed ${seed}: sector ${s / 512} is mixed`);
        pattern += sector[0] === 7 ? '1' : '0';
      }
      outcomes.add(pattern);
    }
    assert.ok(outcomes.size > 4, `sectors land independently (saw ${[...outcomes].join(',')})`);
  });

  it('with tear, unsynced directory changes each survive or not: created files vanish or stay, unlinked ones reappear', async () => {
    const seen = new Set<string>();
    for (let seed = 1; seed <= 40; seed++) {
      const disk = await diskWithDir({ seed });
      const old = await disk.open('/d/old', 'create-exclusive');
      await old.datasync();
      await disk.fsyncDir('/d');
      await disk.unlink('/d/old');
      const made = await disk.open('/d/new', 'create-exclusive');
      await made.writev([bytes('n')], 0);
      await made.datasync();
      disk.crash({ tear: true });
      seen.add((await disk.readdir('/d')).join(','));
    }
    assert.deepEqual([...seen].sort(), ['', 'new', 'new,old', 'old']);
  });

  it('handles opened before a crash are dead afterwards', async () => {
    const disk = await diskWithDir();
    const f = await disk.open('/d/a', 'create-exclusive');
    disk.crash();
    await assert.rejects(f.writev([bytes('x')], 0), /EBADF/);
  });

  it('processCrash (kill -9) keeps the page cache, and a later power cut still loses what was never synced', async () => {
    const disk = await diskWithDir();
    const f = await disk.open('/d/a', 'create-exclusive');
    await f.writev([bytes('cached')], 0);
    const lock = await disk.lockDir('/d');
    disk.processCrash();
    await assert.rejects(f.writev([bytes('x')], 0), /EBADF/);
    assert.equal(str(disk.fileBytes('/d/a')), 'cached'); // the next process reads it...
    await (await disk.lockDir('/d')).release(); // ...and the lock died with the holder
    await lock.release();
    disk.crash();
    assert.equal(disk.exists('/d/a'), false); // ...but it was never durable
  });

  it('the same seed makes the same choices', async () => {
    const run = async (seed: number): Promise<string> => {
      const disk = await diskWithDir({ seed });
      const out: string[] = [];
      for (let i = 0; i < 5; i++) {
        const f = await disk.open(`/d/f${i}`, 'create-exclusive');
        await f.writev([bytes('0123456789abcdef'.repeat(40))], 0);
      }
      disk.crash({ tear: true });
      for (const name of await disk.readdir('/d')) out.push(`${name}:${disk.fileBytes(`/d/${name}`).byteLength}`);
      return out.join(' ');
    };
    assert.equal(await run(7), await run(7));
    assert.equal(await run(9), await run(9));
    const outcomes = new Set<string>();
    for (let seed = 1; seed <= 8; seed++) outcomes.add(await run(seed));
    assert.ok(outcomes.size > 1);
  });
});

describe('SimulatedDisk: faults', () => {
  it('injects ENOSPC and EIO on the chosen operation, for the chosen number of calls, with errno and syscall', async () => {
    const disk = await diskWithDir();
    const f = await disk.open('/d/a', 'create-exclusive');
    disk.injectFault({ op: 'writev', code: 'ENOSPC' });
    await assert.rejects(f.writev([bytes('x')], 0), (e: NodeJS.ErrnoException) => e.code === 'ENOSPC' && e.errno === -28 && e.syscall === 'writev');
    await f.writev([bytes('x')], 0);
    disk.injectFault({ op: 'datasync', code: 'EIO', count: 2 });
    await assert.rejects(f.datasync(), (e: NodeJS.ErrnoException) => e.code === 'EIO' && e.errno === -5);
    await assert.rejects(f.datasync(), (e: NodeJS.ErrnoException) => e.code === 'EIO');
    await f.datasync();
    assert.equal(disk.stats.faultsInjected, 3);
  });

  it('a failed datasync never makes its writes durable, even after a later successful one (fsyncgate)', async () => {
    const disk = await diskWithDir();
    const f = await disk.open('/d/a', 'create-exclusive');
    await disk.fsyncDir('/d');
    await f.writev([bytes('synced|')], 0);
    await f.datasync();
    await f.writev([bytes('dropped|')], 7);
    disk.injectFault({ op: 'datasync', code: 'EIO' });
    await assert.rejects(f.datasync(), /EIO/);
    await f.writev([bytes('later')], 15);
    await f.datasync(); // "succeeds"
    assert.equal(str(disk.fileBytes('/d/a')), 'synced|dropped|later'); // the page cache still has it
    disk.crash();
    const image = disk.fileBytes('/d/a');
    assert.equal(str(image.subarray(0, 7)), 'synced|');
    assert.ok(image.subarray(7, 15).every((b) => b === 0), 'the bytes of the failed sync were never written');
  });

  it('a fault with a probability fails about that share of calls, as the seed decides', async () => {
    const disk = await diskWithDir({ random: new Prng(42) });
    const f = await disk.open('/d/a', 'create-exclusive');
    disk.injectFault({ op: 'writev', code: 'EIO', count: Infinity, probability: 0.25 });
    let failed = 0;
    for (let i = 0; i < 400; i++) await f.writev([bytes('x')], i).catch(() => void failed++);
    assert.ok(failed > 60 && failed < 140, `${failed} of 400 failed`);
  });
});

describe('SimulatedDisk: latency on an injected clock', () => {
  it('operations complete when the clock reaches their time, with seeded spikes', async () => {
    const clock = new ManualClock();
    const disk = new SimulatedDisk({ clock, latency: { writeMs: 1, datasyncMs: 5, metadataMs: 1 } });
    await disk.mkdirp('/d');
    const opening = disk.open('/d/a', 'create-exclusive');
    await clock.advance(1);
    const f = await opening;
    let synced = false;
    const writing = f.writev([bytes('x')], 0).then(() => f.datasync()).then(() => void (synced = true));
    await clock.advance(1);
    await clock.advance(4);
    assert.equal(synced, false, 'the sync takes 5 ms');
    await clock.advance(1);
    await writing;
    assert.equal(synced, true);

    const spiky = new SimulatedDisk({ clock, seed: 3, latency: { spikeProbability: 0.5, spikeMs: 100 } });
    await spiky.mkdirp('/d');
    const done: boolean[] = [];
    for (let i = 0; i < 20; i++) void spiky.fsyncDir('/d').then(() => done.push(true));
    await clock.advance(0);
    const fast = done.length;
    await clock.advance(100);
    assert.equal(done.length, 20);
    assert.ok(fast > 0 && fast < 20 && spiky.stats.latencySpikes === 20 - fast, `${fast} of 20 without a spike`);
  });

  it('an operation in flight when the power goes never completes', async () => {
    const clock = new ManualClock();
    const disk = await diskWithDir({ clock, latency: { datasyncMs: 10 } });
    const f = await disk.open('/d/a', 'create-exclusive');
    await disk.fsyncDir('/d');
    await f.writev([bytes('x')], 0);
    let settled = false;
    void f.datasync().then(
      () => void (settled = true),
      () => void (settled = true),
    );
    disk.crash();
    await clock.advance(20);
    assert.equal(settled, false);
    assert.equal(disk.fileBytes('/d/a').byteLength, 0);
  });

  it('latency without a clock is refused', () => {
    assert.throws(() => new SimulatedDisk({ latency: { datasyncMs: 1 } }), /needs a clock/);
  });
});
