/** Issue 2 points 4-5: the processor budget and the start order, read from what jobs record. */
import { describe, expect, it } from 'vitest';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { cfgDescriptor, dropJob, doneEntries, qmStartPerTest, runQm, type QmDir } from '../helpers/qm.js';
import { peakUse, readTimeline, startOrder, timedScript } from '../helpers/timeline.js';
import { waitFor } from '../helpers/wait.js';

const startWith = qmStartPerTest();

const allDone = (q: QmDir, n: number) => waitFor(() => doneEntries(q).length >= n, { what: `${n} jobs done`, timeout: 30_000 });

describe('processor budget', () => {
  it('non-blocking, MaxNbProcessors 4: jobs of nb_proc 2 run two at a time, never three', async () => {
    const { qm } = await startWith({ MaxNbProcessors: 4, launch_type: 'non-blocking' });
    const tl = path.join(qm.base, 'timeline');
    for (let i = 0; i < 6; i++) {
      await dropJob(qm, `pair${i}`, { 'proc_config.cfg': cfgDescriptor({ nb_proc: 2, script: timedScript(tl, 2) }) });
    }
    await allDone(qm, 6);
    const peak = peakUse(readTimeline(tl));
    expect(peak.processors).toBe(4);
    expect(peak.jobs).toBe(2);
  });

  it('blocking: one job at a time', async () => {
    const { qm } = await startWith({ MaxNbProcessors: 4, launch_type: 'blocking' });
    const tl = path.join(qm.base, 'timeline');
    for (let i = 0; i < 4; i++) {
      await dropJob(qm, `one${i}`, { 'proc_config.cfg': cfgDescriptor({ nb_proc: 1, script: timedScript(tl, 1, 'sleep 0.2') }) });
    }
    await allDone(qm, 4);
    expect(peakUse(readTimeline(tl)).jobs).toBe(1);
  });
});

describe('order', () => {
  it('higher priority first, then oldest descriptor first', async () => {
    const { qm, proc } = await startWith({ MaxNbProcessors: 1, launch_type: 'blocking' });
    const tl = path.join(qm.base, 'timeline');
    const gate = path.join(qm.base, 'gate');
    // the gate job holds the only processor while the queue fills up
    await dropJob(qm, 'gate', { 'proc_config.cfg': cfgDescriptor({ script: `while [ ! -e ${gate} ]; do sleep 0.05; done` }) });
    await waitFor(() => fs.access(path.join(qm.running, 'gate')).then(() => true), { what: 'gate running' });
    const jobs: Array<[string, number]> = [
      ['low', -1],
      ['mid_a', 0],
      ['high_a', 5],
      ['mid_b', 0],
      ['high_b', 5],
    ];
    for (const [name, priority] of jobs) {
      await dropJob(qm, name, { 'proc_config.cfg': cfgDescriptor({ priority, script: timedScript(tl, 1, 'true') }) });
    }
    await proc.waitForOutput(/high_b: queued/);
    await fs.writeFile(gate, '');
    await allDone(qm, 6);
    expect(startOrder(readTimeline(tl))).toEqual(['high_a', 'high_b', 'mid_a', 'mid_b', 'low']);
  });
});

describe('deleting a queued folder', () => {
  it('takes the job out of the queue: it never runs', async () => {
    const { qm, proc } = await startWith({ MaxNbProcessors: 1, launch_type: 'blocking' });
    const gate = path.join(qm.base, 'gate');
    await dropJob(qm, 'gate', { 'proc_config.cfg': cfgDescriptor({ script: `while [ ! -e ${gate} ]; do sleep 0.05; done` }) });
    await proc.waitForOutput(/gate: started/);
    await dropJob(qm, 'regret', { 'proc_config.cfg': cfgDescriptor({ script: 'echo ran > ran.txt' }) });
    await proc.waitForOutput(/regret: queued/);
    const queuedNames = async () => {
      const r = await runQm(['status', '--json', '-c', qm.cfg]);
      return (JSON.parse(r.stdout) as { queued: Array<{ name: string }> }).queued.map((j) => j.name);
    };
    expect(await queuedNames()).toEqual(['regret']);
    await fs.rm(path.join(qm.queued, 'regret'), { recursive: true });
    await waitFor(async () => (await queuedNames()).length === 0, { what: 'regret unqueued' });
    await dropJob(qm, 'next', { 'proc_config.cfg': cfgDescriptor({ script: 'true' }) });
    await fs.writeFile(gate, '');
    await allDone(qm, 2);
    await waitFor(() => doneEntries(qm, 'next').length === 1, { what: 'next done' });
    expect(doneEntries(qm, 'regret')).toEqual([]);
  });
});
