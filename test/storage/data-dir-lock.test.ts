import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import { syncBuiltinESMExports } from 'node:module';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { DurableStorage } from '../../src/storage/durable-storage.js';
import { DataDirLockedError } from '../../src/storage/errors.js';
import { lockDataDir, lockFileName } from '../../src/storage/data-dir-lock.js';
import { tempDir } from './helpers.js';

const storageModule = fileURLToPath(new URL('../../src/storage/index.js', import.meta.url));

/** Runs a second Node process that tries to open `dir`; resolves with what it printed. */
function openInChild(dir: string, holdMs = 0): Promise<{ code: number | null; out: string }> {
  const script = `
    import { DurableStorage } from ${JSON.stringify(storageModule)};
    try {
      const s = await DurableStorage.open({ dir: ${JSON.stringify(dir)} });
      console.log('OPENED');
      await new Promise((r) => setTimeout(r, ${holdMs}));
      await s.close();
    } catch (e) {
      console.log(e.code + ' ' + e.message);
      process.exitCode = 3;
    }
  `;
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--input-type=module', '-e', script], { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.on('error', reject);
    child.on('exit', (code) => resolve({ code, out }));
  });
}

describe('data directory lock', () => {
  it('a second process on the same directory fails with a clear message', async () => {
    const { dir, cleanup } = tempDir();
    try {
      const s = await DurableStorage.open({ dir });
      const child = await openInChild(dir);
      assert.equal(child.code, 3);
      assert.match(child.out, new RegExp(`CONCORD_ERR_DATA_DIR_LOCKED data directory ${dir} is locked by process ${process.pid}`));
      await s.close();
      // Released: now the other process can open it.
      const again = await openInChild(dir);
      assert.equal(again.code, 0);
      assert.match(again.out, /OPENED/);
    } finally {
      cleanup();
    }
  });

  it('a second open in the same process fails too', async () => {
    const { dir, cleanup } = tempDir();
    try {
      const s = await DurableStorage.open({ dir });
      await assert.rejects(DurableStorage.open({ dir }), DataDirLockedError);
      await s.close();
    } finally {
      cleanup();
    }
  });

  it('a lock left by a killed process is taken over at once', async () => {
    const { dir, cleanup } = tempDir();
    try {
      // A process that opens the directory and is then killed with SIGKILL.
      const script = `
        import { DurableStorage } from ${JSON.stringify(storageModule)};
        await DurableStorage.open({ dir: ${JSON.stringify(dir)} });
        console.log('OPENED');
        setInterval(() => {}, 1000);
      `;
      const child = spawn(process.execPath, ['--input-type=module', '-e', script], { stdio: ['ignore', 'pipe', 'inherit'] });
      await new Promise<void>((resolve) => child.stdout.on('data', (d: Buffer) => d.toString().includes('OPENED') && resolve()));
      const exited = new Promise((r) => child.on('exit', r));
      child.kill('SIGKILL');
      await exited;
      assert.ok(fs.existsSync(path.join(dir, lockFileName)), 'the dead process left its lock file');
      const s = await DurableStorage.open({ dir });
      const holder = JSON.parse(fs.readFileSync(path.join(dir, lockFileName), 'utf8')) as { pid: number };
      assert.equal(holder.pid, process.pid);
      await s.close();
    } finally {
      cleanup();
    }
  });

  it('a lock file naming a live process that is not the holder (recycled PID) is stale', async () => {
    const { dir, cleanup } = tempDir();
    try {
      // Our own PID with a start time that is not ours: a recycled PID. Only meaningful with /proc.
      if (!fs.existsSync(`/proc/${process.pid}/stat`)) return;
      fs.writeFileSync(path.join(dir, lockFileName), JSON.stringify({ pid: process.ppid, startTime: '1' }));
      const s = await DurableStorage.open({ dir });
      await s.close();
    } finally {
      cleanup();
    }
  });

  it('a starter that finds the lock being taken never sees it empty: exactly one of two wins', async () => {
    const { dir, cleanup } = tempDir();
    // Runs the second starter inside the first one's write of its holder record:
    // the moment a non-atomic lock file would exist but be empty.
    const realWriteSync = fs.writeSync;
    let second: Promise<unknown> | null = null;
    let triggered = false;
    const outcomes: string[] = [];
    const defaultFs = (await import('node:fs')).default as unknown as { writeSync: typeof fs.writeSync };
    defaultFs.writeSync = ((...args: Parameters<typeof fs.writeSync>) => {
      if (!triggered) {
        triggered = true;
        second = lockDataDir(dir).then(
          async (lock) => {
            outcomes.push('second won');
            return lock;
          },
          (error: unknown) => void outcomes.push(error instanceof DataDirLockedError ? 'second locked out' : `second: ${String(error)}`),
        );
      }
      return (realWriteSync as (...a: unknown[]) => number)(...args);
    }) as typeof fs.writeSync;
    syncBuiltinESMExports();
    try {
      const first = await lockDataDir(dir).then(
        (lock) => {
          outcomes.push('first won');
          return lock;
        },
        (error: unknown) => {
          outcomes.push(error instanceof DataDirLockedError ? 'first locked out' : `first: ${String(error)}`);
          return null;
        },
      );
      defaultFs.writeSync = realWriteSync;
      syncBuiltinESMExports();
      const secondLock = (await second) as unknown as { release(): Promise<void> } | undefined;
      assert.equal(outcomes.filter((o) => o.endsWith('won')).length, 1, outcomes.join(', '));
      assert.equal(outcomes.filter((o) => o.endsWith('locked out')).length, 1, outcomes.join(', '));
      await first?.release();
      await secondLock?.release();
      assert.deepEqual(fs.readdirSync(dir), [], 'no lock or temp file is left behind');
    } finally {
      defaultFs.writeSync = realWriteSync;
      syncBuiltinESMExports();
      cleanup();
    }
  });

  it('two processes starting at once on one directory (with a stale lock in it): exactly one wins while the other holds it', async () => {
    const { dir, cleanup } = tempDir();
    try {
      for (let round = 0; round < 4; round++) {
        if (round % 2 === 1) fs.writeFileSync(path.join(dir, lockFileName), JSON.stringify({ pid: 2 ** 22 + 12345, startTime: '1' }));
        const results = await Promise.all([openInChild(dir, 3000), openInChild(dir, 3000)]);
        const opened = results.filter((r) => r.out.includes('OPENED')).length;
        assert.equal(opened, 1, `round ${round}: ${results.map((r) => r.out.trim()).join(' | ')}`);
        assert.ok(results.some((r) => r.out.includes('CONCORD_ERR_DATA_DIR_LOCKED')));
      }
    } finally {
      cleanup();
    }
  });
});
