/**
 * Issue 6 point 6: a folder still being copied is never started. Each job
 * checks, when it runs, that all of its files arrived whole (exit code 0
 * only then).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFile } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { promises as fs, readFileSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { lostEntries, makeQmDir, startQm, waitDone, type QmDir, type QmProcess } from '../helpers/qm.js';

const run = promisify(execFile);
const CHECK_SUMS = 'sha256sum --quiet -c sums.txt';

/** A job folder outside QM (in `dir`) whose script verifies its files against sums.txt. */
async function sourceJob(dir: string, files: Record<string, Buffer | string>): Promise<void> {
  await fs.mkdir(dir, { recursive: true });
  const sums: string[] = [];
  for (const [name, content] of Object.entries(files)) {
    await fs.mkdir(path.dirname(path.join(dir, name)), { recursive: true });
    await fs.writeFile(path.join(dir, name), content);
    sums.push(`${createHash('sha256').update(content).digest('hex')}  ${name}`);
  }
  await fs.writeFile(path.join(dir, 'proc_config.cfg'), `[QMOptions]\nscript = ${CHECK_SUMS} && echo complete\n`);
  // named to come last in rsync's order
  await fs.writeFile(path.join(dir, 'sums.txt'), sums.join('\n') + '\n');
}

function expectComplete(done: string): void {
  const log = readFileSync(path.join(done, 'process.log'), 'utf8');
  expect(log).toMatch(/complete\nJob finished at: .* with code 0\n$/);
}

describe('partial copies are not started', () => {
  let qm: QmDir;
  let proc: QmProcess;
  beforeAll(async () => {
    qm = makeQmDir({ QMServer: { settle_time: 1 } });
    proc = startQm(['start', '-c', qm.cfg]);
    await proc.waitForOutput(/watching/);
  });
  afterAll(async () => {
    expect(await proc.stop()).toBe(0);
    expect(lostEntries(qm)).toEqual([]);
    qm.cleanup();
  });

  it('a folder whose file grows for 3 s, descriptor first, starts only after the last write', async () => {
    const dir = path.join(qm.queued, 'growing');
    await fs.mkdir(dir);
    await fs.writeFile(path.join(dir, 'proc_config.cfg'), '[QMOptions]\nscript = tail -n 1 data.txt | grep -qx END && echo complete\n');
    for (let i = 0; i < 12; i++) {
      await fs.appendFile(path.join(dir, 'data.txt'), `line ${i}\n`);
      await new Promise((r) => setTimeout(r, 250)); // the copy is slow: that is the fault
    }
    await fs.appendFile(path.join(dir, 'data.txt'), 'END\n');
    const lastWrite = Date.now();
    const done = await waitDone(qm, 'growing');
    expectComplete(done);
    const started = /Job started by QM at: (\S+)/.exec(readFileSync(path.join(done, 'process.log'), 'utf8'))![1]!;
    expect(Date.parse(started)).toBeGreaterThanOrEqual(lastWrite);
  });

  it('cp -r of a folder of 300 files and 30 MB', async () => {
    const src = path.join(qm.base, 'cp-src', 'copied');
    const files: Record<string, Buffer | string> = { 'big.bin': randomBytes(30 * 1024 * 1024) };
    for (let i = 0; i < 300; i++) files[`parts/p${i}.txt`] = `part ${i}\n`;
    await sourceJob(src, files);
    await run('cp', ['-r', src, qm.queued]);
    expectComplete(await waitDone(qm, 'copied'));
  });

  it('rsync at 1.5 MB/s with its temporary names, descriptor and sums arriving last', async () => {
    const src = path.join(qm.base, 'rsync-src', 'synced');
    await sourceJob(src, { 'data.bin': randomBytes(3 * 1024 * 1024) });
    await run('rsync', ['-a', '--bwlimit=1500', `${src}/`, path.join(qm.queued, 'synced')]);
    expectComplete(await waitDone(qm, 'synced'));
  });

  it('a lone script sent by rsync (as .NAME.sh.XXXXXX, then renamed)', async () => {
    const src = path.join(qm.base, 'rsync-lone');
    await fs.mkdir(src);
    await fs.writeFile(path.join(src, 'lone.sh'), '#!/bin/bash\necho complete\n' + '# padding\n'.repeat(200_000));
    await run('rsync', ['-a', '--bwlimit=1000', path.join(src, 'lone.sh'), qm.queued]);
    expectComplete(await waitDone(qm, 'lone'));
  });

  it('a descriptor that arrives last, after the data has been still for twice settle_time, is waited for', async () => {
    const staging = path.join(qm.base, 'late');
    await fs.mkdir(staging);
    await fs.writeFile(path.join(staging, 'data.txt'), 'payload\n');
    await fs.rename(staging, path.join(qm.queued, 'late'));
    await proc.waitForOutput(/late: no proc_config\.cfg \(or \*\.sh\) yet: waiting up to 5 s for it/);
    await new Promise((r) => setTimeout(r, 2000)); // the copy stalls: that is the fault
    await fs.writeFile(path.join(qm.queued, 'late', 'proc_config.cfg'), '[QMOptions]\nscript = cat data.txt && echo complete\n');
    expectComplete(await waitDone(qm, 'late'));
  });
});
