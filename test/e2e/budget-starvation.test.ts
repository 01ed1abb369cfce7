/**
 * Issue 3 point 4, end to end with `qm start`: a job needing the whole budget,
 * queued in a continuous stream of 1-processor jobs, is not starved: once it
 * is first in line, no job behind it starts before it.
 */
import { describe, expect, it } from 'vitest';
import path from 'node:path';
import { cfgDescriptor, doneEntries, dropJob, qmStartPerTest } from '../helpers/qm.js';
import { peakUse, readTimeline, timedScript, type TimelineEvent } from '../helpers/timeline.js';
import { waitFor } from '../helpers/wait.js';
import { recordMeasure } from './budget-measure.js';

const startWith = qmStartPerTest();

const at = (events: TimelineEvent[], kind: 'start' | 'end', name: string) => events.find((e) => e.kind === kind && e.name === name)!.t;
const ms = (ns: bigint) => Number(ns / 1_000_000n);

describe('no starvation', () => {
  it('a whole-budget job behind a stream of 1-processor jobs starts once the jobs ahead of it have ended', async () => {
    const { qm, proc } = await startWith({ MaxNbProcessors: 2 });
    const tl = path.join(qm.base, 'timeline');
    const small = (i: number) => `s${String(i).padStart(2, '0')}`;
    const ahead = 6;
    const behind = 12;
    // the stream arrives faster than 2 processors can run it, so the queue never empties;
    // the job after the big one arrives with it, so that one is surely queued behind it
    for (let i = 0; i < ahead + behind; i++) {
      if (i === ahead) {
        await dropJob(qm, 'big', { 'proc_config.cfg': cfgDescriptor({ nb_proc: 2, script: timedScript(tl, 2, 'sleep 0.2') }) });
      }
      await dropJob(qm, small(i), { 'proc_config.cfg': cfgDescriptor({ nb_proc: 1, script: timedScript(tl, 1, 'sleep 0.4') }) });
      if (i !== ahead - 1) await new Promise((r) => setTimeout(r, 120)); // the pace of the stream, not a synchronisation
    }
    await waitFor(() => doneEntries(qm).length === ahead + behind + 1, { what: 'all jobs done', timeout: 40_000 });

    const events = readTimeline(tl);
    const bigStart = at(events, 'start', 'big');
    const aheadNames = Array.from({ length: ahead }, (_, i) => small(i));
    const behindNames = Array.from({ length: behind }, (_, i) => small(ahead + i));
    // FIFO: everything queued before it started before it, nothing queued after it did
    for (const name of aheadNames) expect(at(events, 'start', name)).toBeLessThan(bigStart);
    for (const name of behindNames) expect(at(events, 'start', name)).toBeGreaterThan(bigStart);
    expect(peakUse(events).processors).toBe(2);
    const log = proc.output;
    expect(log.indexOf(`${small(ahead)}: queued`)).toBeGreaterThan(-1);
    expect(log.indexOf(`${small(ahead)}: queued`)).toBeLessThan(log.indexOf('big: started'));

    // it became first in line when the last job ahead of it started; those running then had to end
    const headAt = at(events, 'start', aheadNames.at(-1)!);
    const runningThen = aheadNames.filter((n) => at(events, 'start', n) <= headAt && at(events, 'end', n) > headAt);
    const lastEnd = runningThen.map((n) => at(events, 'end', n)).reduce((a, b) => (a > b ? a : b));
    recordMeasure('starvation', {
      bigWaitedAfterReachingHeadMs: ms(bigStart - headAt),
      bigStartAfterLastBlockingJobEndedMs: ms(bigStart - lastEnd),
      jobsRunningWhenItReachedHead: runningThen.length,
    });
  });
});
