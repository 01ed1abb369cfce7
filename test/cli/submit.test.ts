/** Issue 5 point 2: `qm submit` with the real binary against a running `qm start`. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { promises as fs, readFileSync } from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { cfgDescriptor, makeQmDir, runQm, waitDone } from '../helpers/qm.js';
import { readLog, snapshot, startRunningQm, writeScript, writeSource, type RunningQm } from '../helpers/cli.js';
import { readTimeline, startOrder, timedScript } from '../helpers/timeline.js';
import { waitFor } from '../helpers/wait.js';

describe('qm submit', () => {
  let env: RunningQm;
  beforeAll(async () => {
    env = await startRunningQm({ QMServer: { MaxNbProcessors: 2, settle_time: 30 } });
  });
  afterAll(async () => {
    expect(await env.stop()).toBe(0);
  });

  /** hidden staging folders left in QM_qJobs */
  const leftovers = async () => (await fs.readdir(env.qm.queued)).filter((e) => e.startsWith('.'));

  it('copies a folder, queues it at once (no settle_time) and prints its name; the original is untouched', async () => {
    const src = await writeSource(env.qm, 'copied', {
      'proc_config.cfg': cfgDescriptor({ script: 'echo from-the-copy > out.txt; echo "$NB_PROC" > nb.txt' }),
      'data/input.txt': 'x',
    });
    const before = await snapshot(src);
    const { code, stdout, stderr } = await env.qmRun('submit', src, '--nb-proc', '2');
    expect(stderr).toBe('');
    expect(code).toBe(0);
    expect(stdout).toBe('copied\n');
    // settle_time is 30 s here: only a direct enqueue explains a start within the wait
    const done = await waitDone(env.qm, 'copied', 15_000);
    expect(readFileSync(path.join(done, 'out.txt'), 'utf8')).toBe('from-the-copy\n');
    expect(readFileSync(path.join(done, 'nb.txt'), 'utf8')).toBe('2\n');
    expect(readFileSync(path.join(done, 'data/input.txt'), 'utf8')).toBe('x');
    expect(readFileSync(path.join(done, 'proc_config.cfg'), 'utf8')).toMatch(/^nb_proc = 2$/m);
    expect(await snapshot(src)).toEqual(before);
    expect(await leftovers()).toEqual([]);
  });

  it('starts without what it does not need: its bundle, no commander, ioredis, pino, Express, prom-client nor BullMQ\'s classes', async () => {
    const src = await writeSource(env.qm, 'light', { 'proc_config.cfg': cfgDescriptor({ script: 'true' }) });
    const loaded = path.join(env.qm.base, 'loaded.txt');
    const loadedEsm = path.join(env.qm.base, 'loaded-esm.txt');
    const preload = path.resolve('test/fixtures/loaded-modules.cjs');
    const esmPreload = pathToFileURL(path.resolve('test/fixtures/loaded-esm.mjs')).href;
    const { code } = await runQm(['submit', src, '-c', env.qm.cfg], {
      NODE_OPTIONS: `--require ${preload} --import ${esmPreload}`,
      QM_TEST_LOADED: loaded,
      QM_TEST_LOADED_ESM: loadedEsm,
    });
    expect(code).toBe(0);
    const files = readFileSync(loaded, 'utf8').split('\n');
    expect(files).toContain(preload);
    for (const heavy of ['/node_modules/commander/', '/node_modules/ioredis/', '/node_modules/pino/', '/node_modules/express/', '/node_modules/prom-client/', '/bullmq/dist/cjs/classes/']) {
      expect(files.filter((f) => f.includes(heavy))).toEqual([]);
    }
    // QM's own code: cli.js and the reading of the command line, then the bundle (dist/submit/), no module one by one
    const modules = readFileSync(loadedEsm, 'utf8').split('\n').filter((url) => url.includes('/dist/'));
    expect(modules.some((url) => url.endsWith('/dist/submit/submit-main.js'))).toBe(true);
    const outside = modules.filter((url) => !url.includes('/dist/submit/'));
    expect(new Set(outside.map((url) => url.replace(/^.*\/dist\//, '')))).toEqual(new Set(['cli.js', 'commands/submit-argv.js', 'commands/submit-options.js']));
  });

  it('--wait exits with the job\'s exit code and prints how it ended', async () => {
    const src = await writeSource(env.qm, 'three', { 'proc_config.cfg': cfgDescriptor({ script: 'exit 3' }) });
    const { code, stdout } = await env.qmRun('submit', src, '--wait');
    expect(code).toBe(3);
    expect(stdout).toMatch(/^three\nthree ended: code 3 → QM_dJobs\/\S+-three\n$/);
    const ok = await writeSource(env.qm, 'zero', { 'proc_config.cfg': cfgDescriptor({ script: 'true' }) });
    expect((await env.qmRun('submit', ok, '-W')).code).toBe(0);
  });

  it('gives a name already queued or running the first free NAME-2, NAME-3...', async () => {
    const flag = path.join(env.qm.base, 'release-busy');
    const src = await writeSource(env.qm, 'busy', {
      'proc_config.cfg': cfgDescriptor({ script: `while [ ! -e ${flag} ]; do sleep 0.05; done` }),
    });
    expect((await env.qmRun('submit', src)).code).toBe(0);
    await waitFor(() => readFileSync(path.join(env.qm.running, 'busy', 'process.log'), 'utf8'), { what: 'busy running' });
    const again = await env.qmRun('submit', src, '--after', 'busy');
    expect(again).toMatchObject({ code: 0, stdout: 'busy-2\n', stderr: '' });
    const renamed = await env.qmRun('submit', src, '--name', 'busy2', '--after', 'busy');
    expect(renamed.stdout).toBe('busy2\n');
    const queued = await env.qmRun('submit', src, '--name', 'busy2', '--after', 'busy');
    expect(queued.stdout).toBe('busy2-2\n');
    await fs.writeFile(flag, '');
    for (const name of ['busy-2', 'busy2', 'busy2-2']) await waitDone(env.qm, name);
    expect(await leftovers()).toEqual([]);
  });

  it('--move moves the folder itself; --priority and --time are written into an xml descriptor too', async () => {
    // the same QM folder, with infos.xml as job_file
    const xmlCfg = path.join(env.qm.base, 'xml.cfg');
    await fs.writeFile(xmlCfg, `[QMServer]\nQM_FOLDER = ${env.qm.root}\njob_file = infos.xml\n`);
    {
      const src = await writeSource(env.qm, 'moved', {
        'infos.xml': '<PARAMETER>\n  <script value="echo moved-ok"/>\n  <priority value="1"/>\n</PARAMETER>\n',
      });
      const { code, stdout, stderr } = await runQm(['submit', src, '--move', '--priority', '7', '--time', '5:00', '-c', xmlCfg]);
      expect(stderr).toBe('');
      expect(code).toBe(0);
      expect(stdout).toBe('moved\n');
      await expect(fs.access(src)).rejects.toThrow();
      const done = await waitDone(env.qm, 'moved');
      expect(readLog(done)).toContain('moved-ok');
      const xml = readFileSync(path.join(done, 'infos.xml'), 'utf8');
      expect(xml).toContain('<priority value="7"/>');
      expect(xml).toContain('<time_limit value="300"/>');
      expect(xml).not.toContain('<priority value="1"/>');
    }
  });

  it('runs the jobs it submits by priority, then in submission order', async () => {
    const flag = path.join(env.qm.base, 'release-order');
    const tl = path.join(env.qm.base, 'timeline-order');
    const blocker = await writeSource(env.qm, 'blocker', {
      'proc_config.cfg': cfgDescriptor({ nb_proc: 2, script: `while [ ! -e ${flag} ]; do sleep 0.05; done` }),
    });
    await env.qmRun('submit', blocker);
    await waitFor(() => readFileSync(path.join(env.qm.running, 'blocker', 'process.log'), 'utf8'), { what: 'blocker running' });
    for (const [name, priority] of [['low', '0'], ['first_high', '5'], ['second_high', '5'], ['later_low', '0']] as const) {
      const src = await writeSource(env.qm, name, { 'proc_config.cfg': cfgDescriptor({ nb_proc: 2, script: timedScript(tl, 2, 'true') }) });
      expect((await env.qmRun('submit', src, '--priority', priority)).code).toBe(0);
    }
    await fs.writeFile(flag, '');
    await waitDone(env.qm, 'later_low');
    expect(startOrder(readTimeline(tl))).toEqual(['first_high', 'second_high', 'low', 'later_low']);
  });

  it('gives one clear line and leaves nothing behind on bad input', async () => {
    const noScript = await writeSource(env.qm, 'noscript', { 'proc_config.cfg': cfgDescriptor({ nb_proc: 1 }) });
    const empty = await writeSource(env.qm, 'empty', { 'readme.txt': 'no descriptor' });
    const good = await writeSource(env.qm, 'good', { 'proc_config.cfg': cfgDescriptor({ script: 'true' }) });
    const notes = await writeScript(env.qm, 'notes.txt', 'hello');
    const cases: [string[], RegExp][] = [
      [[path.join(env.qm.base, 'nothing-here')], /nothing-here: no such file or folder$/],
      [[notes], /notes\.txt: notes\.sh: This does not look like a batch script\. The first line must start with #! followed by the path to an interpreter\.$/],
      [[noScript], /noscript: proc_config\.cfg: script is missing/],
      [[empty], /empty: no descriptor: expected proc_config\.cfg \(or one \*\.sh script\)$/],
      [[good, '--nb-proc', 'many'], /^qm: --nb-proc "many": expected an integer from 1 to 100000$/],
      [[good, '--time', 'soon'], /^qm: --time "soon": expected a number of minutes/],
      [[good, '--after', 'never_was'], /^qm: after: no job named never_was is queued, running or finished$/],
      [[good, '--name', 'a/b'], /^qm: --name "a\/b": not a job name/],
      [[good, '--name', '.hidden'], /^qm: --name \.hidden: QM ignores names starting with "\."/],
      [[env.qm.queued], /is already in QM_qJobs$/],
    ];
    for (const [args, message] of cases) {
      const { code, stdout, stderr } = await env.qmRun('submit', ...args);
      expect(code, args.join(' ')).toBe(1);
      expect(stdout).toBe('');
      expect(stderr.split('\n')).toHaveLength(2); // one line
      expect(stderr.trim()).toMatch(message);
    }
    expect(await fs.readdir(env.qm.queued)).toEqual([]);
  });

  it('says so when QM is not running', async () => {
    const idle = makeQmDir();
    try {
      await fs.mkdir(path.join(idle.base, 'job'));
      const { code, stderr } = await runQm(['submit', path.join(idle.base, 'job'), '-c', idle.cfg]);
      expect(code).toBe(1);
      expect(stderr).toMatch(/^qm: QM is not running on .*: start it with "qm start", or set redis_url\n$/);
    } finally {
      idle.cleanup();
    }
  });
});
