/**
 * The jobs' TMPDIR: each run gets an empty folder of its own, which no
 * longer exists by its name once the run is over; an empty one is renamed
 * for the next run instead of being removed and made again.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { chmodSync, existsSync, mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { TmpDirs } from '../../src/worker/tmp-dirs.js';

const root = mkdtempSync(path.join(os.tmpdir(), 'qm-tmp-dirs-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

let bases = 0;
function fresh(): { dirs: TmpDirs; base: string } {
  const base = path.join(root, `base${++bases}`);
  return { dirs: new TmpDirs(base), base };
}

describe('TmpDirs', () => {
  it('gives each run an empty private folder named after it, gone by that name after the run; an empty one serves the next run', () => {
    const { dirs, base } = fresh();
    const first = dirs.take('7');
    expect(path.basename(first)).toMatch(/^7-/);
    expect(statSync(first).mode & 0o777).toBe(0o700);
    expect(readdirSync(first)).toEqual([]);
    dirs.give(first);
    const second = dirs.take('8');
    expect(path.basename(second)).toMatch(/^8-/);
    expect(existsSync(first)).toBe(false);
    expect(readdirSync(base)).toEqual([path.basename(second)]);
    dirs.give(second);
    dirs.close();
    expect(readdirSync(base)).toEqual([]);
  });

  it('removes a folder the run left files in, or made open to others; the next run gets a new empty one', () => {
    const { dirs, base } = fresh();
    const used = dirs.take('1');
    writeFileSync(path.join(used, 'scratch'), 'x');
    dirs.give(used);
    const opened = dirs.take('2');
    expect(readdirSync(opened)).toEqual([]);
    chmodSync(opened, 0o777);
    dirs.give(opened);
    expect(readdirSync(base)).toEqual([]);
    const next = dirs.take('3');
    expect(statSync(next).mode & 0o777).toBe(0o700);
    dirs.give(next);
    dirs.close();
  });

  it('makes a new folder when the kept one was cleaned away, and the base again if it is gone', () => {
    const { dirs, base } = fresh();
    dirs.give(dirs.take('1'));
    rmSync(base, { recursive: true, force: true });
    const next = dirs.take('2');
    expect(readdirSync(next)).toEqual([]);
    dirs.give(next);
    dirs.close();
  });
});
