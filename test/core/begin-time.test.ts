/** `--begin` / `begin` as sbatch reads it (issue 16): relative, clock, ISO and named times. */
import { describe, expect, it } from 'vitest';
import { parseBeginTime } from '../../src/core/begin-time.js';
import { readDescriptor } from '../../src/core/descriptor.js';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';

const now = new Date(2026, 11, 6, 10, 30, 0).getTime();

describe('parseBeginTime', () => {
  it('reads now+N with sbatch\'s units (seconds by default)', () => {
    expect(parseBeginTime('now', now)).toBe(now);
    expect(parseBeginTime('now+60', now)).toBe(now + 60_000);
    expect(parseBeginTime('now+10minutes', now)).toBe(now + 600_000);
    expect(parseBeginTime('NOW+1hour', now)).toBe(now + 3_600_000);
    expect(parseBeginTime('now+2days', now)).toBe(now + 2 * 86_400_000);
  });

  it('reads HH:MM[:SS] as today, or tomorrow once passed; ISO dates; named times', () => {
    expect(parseBeginTime('16:00', now)).toBe(new Date(2026, 11, 6, 16, 0).getTime());
    expect(parseBeginTime('09:15:30', now)).toBe(new Date(2026, 11, 7, 9, 15, 30).getTime());
    expect(parseBeginTime('2027-01-02', now)).toBe(new Date(2027, 0, 2).getTime());
    expect(parseBeginTime('2027-01-02T08:05', now)).toBe(new Date(2027, 0, 2, 8, 5).getTime());
    expect(parseBeginTime('teatime', now)).toBe(new Date(2026, 11, 6, 16, 0).getTime());
    expect(parseBeginTime('midnight', now)).toBe(new Date(2026, 11, 7, 0, 0).getTime());
  });

  it('refuses what sbatch would not read', () => {
    for (const bad of ['soon', 'now+5 fortnights', '25:00', '2027-02-30', 'now-5', '']) expect(parseBeginTime(bad, now)).toBeUndefined();
  });
});

describe('hold and begin in descriptors', () => {
  it('reads #SBATCH -H/--hold and --begin, the keys hold and begin, and names a bad begin', async () => {
    const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'qm-begin-'));
    try {
      await fs.writeFile(path.join(dir, 'job.sh'), '#!/bin/bash\n#SBATCH -H\n#SBATCH --begin=now+1hour\necho hi\n');
      expect(await readDescriptor(dir, 'proc_config.cfg')).toMatchObject({ hold: true, begin: 'now+1hour', warnings: [] });
      await fs.writeFile(path.join(dir, 'job.sh'), '#!/bin/bash\n#SBATCH --hold -b 12:00\necho hi\n');
      expect(await readDescriptor(dir, 'proc_config.cfg')).toMatchObject({ hold: true, begin: '12:00' });
      await fs.rm(path.join(dir, 'job.sh'));
      await fs.writeFile(path.join(dir, 'proc_config.cfg'), '[QMOptions]\nscript : true\nhold : yes\nbegin : now+5\n');
      expect(await readDescriptor(dir, 'proc_config.cfg')).toMatchObject({ hold: true, begin: 'now+5' });
      await fs.writeFile(path.join(dir, 'proc_config.cfg'), '[QMOptions]\nscript : true\nbegin : later\n');
      await expect(readDescriptor(dir, 'proc_config.cfg')).rejects.toThrow(/^proc_config\.cfg line 3: begin = "later": expected now\+N/);
    } finally {
      await fs.rm(dir, { recursive: true, force: true });
    }
  });
});
