/**
 * Issue 2, end to end with the real `qm start`: a QM 0.4 user's folder in,
 * run under the budget, folder out.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { promises as fs, readFileSync } from 'node:fs';
import path from 'node:path';
import { cfgDescriptor, dropJob, lostEntries, makeQmDir, startQm, waitDone, type QmDir, type QmProcess } from '../helpers/qm.js';
import { waitFor } from '../helpers/wait.js';

const TEST_PY = `import sys, time, os
size = 5
for i in range(size):
    print("processing %d / %d" % (i + 1, size))
    sys.stdout.flush()
    time.sleep(0.05)
with open('results.txt', 'w') as f:
    f.write("Final result is :\\n%d" % size)
with open('where.txt', 'w') as f:
    f.write(os.getcwd())
print("Done")
`;

describe('qm start with a QM 0.4 configuration', () => {
  let qm: QmDir;
  let proc: QmProcess;

  beforeAll(async () => {
    qm = makeQmDir({ QMServer: { MaxNbProcessors: 4, launch_type: 'non-blocking', job_file: 'proc_config.cfg', settle_time: 1 } });
    proc = startQm(['start', '-c', qm.cfg]);
    await proc.waitForOutput(/watching/);
  });

  afterAll(async () => {
    expect(await proc.stop()).toBe(0);
    qm.cleanup();
  });

  it('runs the README test_QM example and moves it to QM_dJobs with the files it made', async () => {
    await dropJob(qm, 'test_QM', {
      'proc_config.cfg':
        '[Proc]\nSize : 50\n\n[QMOptions]\nnb_proc : 4\ne_mail : me@example.org\ninfo : Test of the QM manager\nscript : python3 test.py proc_config.cfg\n',
      'test.py': TEST_PY,
    });
    const done = await waitDone(qm, 'test_QM');
    expect(path.basename(done)).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d-test_QM$/);
    const log = readFileSync(path.join(done, 'process.log'), 'utf8').trim().split('\n');
    expect(log[0]).toMatch(/^Job started by QM at: \d{4}-/);
    expect(log).toContain('processing 5 / 5');
    expect(log.at(-1)).toMatch(/^Job finished at: \d{4}-.* with code 0$/);
    expect(readFileSync(path.join(done, 'results.txt'), 'utf8')).toContain('Final result is');
    expect(readFileSync(path.join(done, 'where.txt'), 'utf8')).toBe(path.join(qm.running, 'test_QM'));
  });

  it('says at the top of process.log which descriptor keys QM does not use, and the key each may stand for', async () => {
    await dropJob(qm, 'typo', {
      'proc_config.cfg': '[QMOptions]\nscript : echo ran\ntime : 1\nmy_param : 3\nomp_num_threads : 2\n',
    });
    const done = await waitDone(qm, 'typo');
    const log = readFileSync(path.join(done, 'process.log'), 'utf8').split('\n');
    expect(log.slice(0, 3)).toEqual([
      'QM: unknown key time: kept and shown, not used by QM (did you mean time_limit?) (proc_config.cfg line 3)',
      'QM: unknown key my_param: kept and shown, not used by QM (proc_config.cfg line 4)',
      expect.stringMatching(/^Job started by QM at: /),
    ]);
    expect(log).toContain('ran');
  });

  it('sets NB_PROC and the thread variables, and clamps nb_proc to the budget', async () => {
    await dropJob(qm, 'big', {
      'proc_config.cfg': cfgDescriptor({ nb_proc: 12, script: 'env > env.txt' }),
    });
    const done = await waitDone(qm, 'big');
    const log = readFileSync(path.join(done, 'process.log'), 'utf8');
    expect(log.split('\n')[0]).toBe('Nb of processors limited to 4');
    const env = readFileSync(path.join(done, 'env.txt'), 'utf8');
    for (const v of ['NB_PROC', 'OMP_NUM_THREADS', 'MKL_NUM_THREADS', 'OPENBLAS_NUM_THREADS', 'NUMEXPR_NUM_THREADS', 'SLURM_CPUS_PER_TASK']) {
      expect(env).toContain(`${v}=4\n`);
    }
    expect(env).toContain('QM_JOB_NAME=big\n');
    expect(env).toMatch(/QM_JOB_ID=\S+/);
    expect(env).toContain(`QM_JOB_DIR=${path.join(qm.running, 'big')}\n`);
  });

  it('records a failing job with its exit code', async () => {
    await dropJob(qm, 'failing', { 'proc_config.cfg': cfgDescriptor({ script: 'echo oops; exit 3' }) });
    const done = await waitDone(qm, 'failing');
    const log = readFileSync(path.join(done, 'process.log'), 'utf8');
    expect(log).toContain('oops');
    expect(log.trim().split('\n').at(-1)).toMatch(/with code 3$/);
  });

  it('sends bad descriptors to QM_lost+found with the reason, and keeps running', async () => {
    await dropJob(qm, 'no_descriptor', { 'data.txt': 'x' });
    await dropJob(qm, 'no_script', { 'proc_config.cfg': cfgDescriptor({ nb_proc: 1 }) });
    await dropJob(qm, 'bad_nb_proc', { 'proc_config.cfg': cfgDescriptor({ nb_proc: 'abc', script: 'true' }) });
    await dropJob(qm, 'unparsable', { 'proc_config.cfg': 'this is not a config\n' });
    await waitFor(() => lostEntries(qm).length >= 4, { what: '4 lost jobs' });
    const reasons = await Promise.all(
      lostEntries(qm).map(async (e) => [e, await fs.readFile(path.join(qm.lost, e, 'QM_REASON.txt'), 'utf8')] as const),
    );
    const reasonOf = (name: string) => reasons.find(([e]) => e.endsWith(`-${name}`))?.[1] ?? '';
    expect(reasonOf('no_descriptor')).toMatch(/no descriptor/);
    expect(reasonOf('no_script')).toMatch(/script/);
    expect(reasonOf('bad_nb_proc')).toMatch(/nb_proc.*abc/);
    expect(reasonOf('unparsable')).toMatch(/line 1/);
    // the folder is intact
    expect(readFileSync(path.join(qm.lost, lostEntries(qm).find((e) => e.endsWith('-no_descriptor'))!, 'data.txt'), 'utf8')).toBe('x');
    await dropJob(qm, 'after_bad', { 'proc_config.cfg': cfgDescriptor({ script: 'true' }) });
    await waitDone(qm, 'after_bad');
  });

  it('ignores temporary names and does not start a folder still being copied', async () => {
    await fs.mkdir(path.join(qm.queued, '.hidden'));
    await fs.writeFile(path.join(qm.queued, '.hidden', 'proc_config.cfg'), cfgDescriptor({ script: 'true' }));
    await fs.mkdir(path.join(qm.queued, 'backup~'));
    // a copy in progress: the folder appears, files keep coming for ~1.2 s (settle_time is 1 s)
    const dir = path.join(qm.queued, 'slow_copy');
    await fs.mkdir(dir);
    await fs.writeFile(path.join(dir, 'proc_config.cfg'), cfgDescriptor({ script: 'ls part*.dat | wc -l > count.txt' }));
    for (let i = 0; i < 8; i++) {
      await fs.writeFile(path.join(dir, `part${i}.dat`), 'x'.repeat(1000));
      await new Promise((r) => setTimeout(r, 150)); // the copier's pace, not a synchronisation
    }
    const done = await waitDone(qm, 'slow_copy');
    expect(readFileSync(path.join(done, 'count.txt'), 'utf8').trim()).toBe('8');
    expect(await fs.readdir(qm.queued)).toEqual(expect.arrayContaining(['.hidden', 'backup~']));
  });
});
