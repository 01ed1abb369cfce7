/**
 * Issue 14 points 1, 3, 5, end to end with `qm start`: memory is a pool
 * (two 600 MB jobs never overlap on a 1 GB worker) and a limit, enforced by
 * a cgroup here (v1): a job going over it is killed by the kernel and ends
 * `outOfMemory` at once while its neighbour runs on; a worker that may make
 * no cgroup says in process.log that the limit is not enforced.
 */
import { execFileSync, spawn } from 'node:child_process';
import { chmodSync, promises as fs, readFileSync } from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { QM_BIN, QmProcess, cfgDescriptor, doneEntries, dropJob, makeQmDir, qmStartPerTest, runQm, waitDone } from '../helpers/qm.js';
import { peakUse, readTimeline, timedScript } from '../helpers/timeline.js';
import { waitFor } from '../helpers/wait.js';
import { recordMeasure } from './budget-measure.js';
import { TestRedis } from '../helpers/redis.js';
import { startSmtp } from '../helpers/smtp.js';
import { Queue } from 'bullmq';
import { BULL_PREFIX, QUEUE_NAME } from '../../src/core/redis.js';

const startWith = qmStartPerTest();
/** what a test started besides QM, stopped after the test (which stops QM first) */
const cleanups: Array<() => Promise<unknown>> = [];
afterEach(async () => {
  for (const stop of cleanups.splice(0)) await stop();
});

interface DoneJson { id: string; name: string; outcome: { kind: string; limitMb?: number }; startedAt: string; endedAt: string; exitCode: number }

async function doneJobs(cfg: string): Promise<DoneJson[]> {
  return (JSON.parse((await runQm(['status', '--json', '--all', '-c', cfg])).stdout) as { done: DoneJson[] }).done;
}

/** Allocates and touches `mb` megabytes, after printing the time it starts (ms). */
const hog = (mb: number) => `python3 -c "import time; print('allocating at', int(time.time() * 1000), flush=True); b = bytearray(${mb} * 1024 * 1024); time.sleep(30)"`;

describe('memory', () => {
  it('a job going over its memory limit ends outOfMemory within seconds while its neighbour runs on; mailed as a failure, Failed in BullMQ', async () => {
    const redis = await TestRedis.start();
    const smtp = await startSmtp();
    cleanups.push(() => redis.stop(), () => smtp.close());
    const { qm, proc } = await startWith({ MaxNbProcessors: 4, memory: '1G', MailActive: 'True', redis_url: redis.url }, { QM_SMTP_URL: smtp.url });
    await dropJob(qm, 'neighbour', { 'proc_config.cfg': cfgDescriptor({ memory: '100M', script: 'sleep 4; echo still here' }) });
    await dropJob(qm, 'hog', { 'proc_config.cfg': cfgDescriptor({ memory: '100M', script: hog(300), e_mail: 'ann@example.org', mail_type: 'FAIL' }) });
    const hogDone = await waitDone(qm, 'hog', 20_000);
    const endedAt = Date.now();
    const log = readFileSync(path.join(hogDone, 'process.log'), 'utf8');
    expect(log).toMatch(/Reason: out of memory \(limit 100 MB\)\n$/);
    // the neighbour is still running when the hog has ended
    expect(doneEntries(qm, 'neighbour')).toEqual([]);
    const neighbourDone = await waitDone(qm, 'neighbour', 20_000);
    expect(readFileSync(path.join(neighbourDone, 'process.log'), 'utf8')).toContain('still here');
    const done = await doneJobs(qm.cfg);
    const hogRecord = done.find((d) => d.name === 'hog')!;
    expect(hogRecord.outcome).toMatchObject({ kind: 'outOfMemory', limitMb: 100 });
    expect(hogRecord.exitCode).toBe(137);
    expect(done.find((d) => d.name === 'neighbour')!.outcome.kind).toBe('success');
    const allocating = Number(/allocating at (\d+)/.exec(log)![1]);
    const detectedMs = new Date(hogRecord.endedAt).getTime() - allocating;
    expect(detectedMs).toBeLessThan(5_000);
    const mail = await waitFor(() => smtp.mails.find((m) => m.subject.includes(' hog ')), { what: 'mail for hog' });
    expect(mail.subject).toBe('QM Job - hog - out of memory');
    const client = redis.client();
    const queue = new Queue(QUEUE_NAME, { connection: client, prefix: BULL_PREFIX });
    const bullJob = await queue.getJob(hogRecord.id);
    expect(await bullJob?.getState()).toBe('failed');
    expect(bullJob?.failedReason).toBe('out of memory (limit 100 MB)');
    await queue.close();
    client.disconnect();
    // QM stops before its Redis does
    expect(await proc.stop()).toBe(0);
    recordMeasure('outOfMemory', { fromAllocationToRecordedEndMs: detectedMs, folderSeenInQmDJobsMs: endedAt - allocating });
  });

  it('two 600 MB jobs never run at the same time on a 1 GB worker; a job with no memory asked runs beside them', async () => {
    const { qm } = await startWith({ MaxNbProcessors: 4, memory: '1G' });
    const tl = path.join(qm.base, 'timeline');
    await dropJob(qm, 'first', { 'proc_config.cfg': cfgDescriptor({ memory: '600M', script: timedScript(tl, 1, 'sleep 0.6') }) });
    await dropJob(qm, 'second', { 'proc_config.cfg': cfgDescriptor({ memory: '600M', script: timedScript(tl, 1, 'sleep 0.6') }) });
    await dropJob(qm, 'free', { 'proc_config.cfg': cfgDescriptor({ script: timedScript(tl, 1, 'sleep 0.6') }) });
    await waitFor(() => doneEntries(qm).length === 3, { what: 'three jobs done', timeout: 20_000 });
    const events = readTimeline(tl);
    expect(peakUse(events.filter((e) => e.name !== 'free')).jobs).toBe(1);
    expect(peakUse(events).jobs).toBe(2);
    expect(readFileSync(path.join(await waitDone(qm, 'first'), 'process.log'), 'utf8')).not.toContain('QM: memory limit');
  });

  it('a worker that may make no cgroup runs the job without a limit, and process.log says so at its top', async () => {
    const nobody = Number(execFileSync('id', ['-u', 'nobody']).toString());
    const qm = makeQmDir({ QMServer: { MaxNbProcessors: 2, memory: '1G' } });
    await fs.mkdir(qm.root);
    execFileSync('chown', ['-R', `${nobody}:${nobody}`, qm.base]);
    chmodSync(qm.base, 0o755);
    const proc = new QmProcess(spawn(process.execPath, [QM_BIN, 'start', '-c', qm.cfg], {
      uid: nobody, gid: nobody, cwd: qm.base, env: { ...process.env, QM_LOG_LEVEL: 'debug', HOME: qm.base }, stdio: ['ignore', 'pipe', 'pipe'],
    }));
    try {
      await proc.waitForOutput(/QM running on/);
      const staging = path.join(qm.base, 'stage');
      await fs.mkdir(staging);
      await fs.mkdir(path.join(staging, 'capped'));
      await fs.writeFile(path.join(staging, 'capped', 'proc_config.cfg'), cfgDescriptor({ memory: '100M', script: 'echo "mem=$SLURM_MEM_PER_NODE"' }));
      execFileSync('chown', ['-R', `${nobody}:${nobody}`, staging]);
      await fs.rename(path.join(staging, 'capped'), path.join(qm.queued, 'capped'));
      const log = readFileSync(path.join(await waitDone(qm, 'capped'), 'process.log'), 'utf8');
      expect(log.split('\n')[0]).toMatch(/^QM: memory limit of 100 MB not enforced: no right to make cgroups in \/sys\/fs\/cgroup\/memory/);
      expect(log).toContain('mem=100\n');
    } finally {
      expect(await proc.stop()).toBe(0);
      qm.cleanup();
    }
  });
});
