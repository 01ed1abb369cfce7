/**
 * Issue 17 point 2: `qm submit -` takes the job as a tar stream on stdin (how
 * a job gets into a container: `tar -c myjob | docker compose exec -T ingest
 * qm submit -`). The job's files belong to whoever runs qm, whatever owner
 * the archive recorded; a stream that is not one job is one error line and
 * leaves nothing behind.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawn } from 'node:child_process';
import { promises as fs, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { QM_BIN, cfgDescriptor, waitDone } from '../helpers/qm.js';
import { startRunningQm, writeScript, writeSource, type RunningQm } from '../helpers/cli.js';

/** `tar -c ARGS | qm submit - ARGS...` (or `input | qm submit -`), as a shell pipe would run it. */
function pipeToSubmit(cfg: string, input: { tar: string[] } | { bytes: string }, ...args: string[]) {
  return new Promise<{ code: number; stdout: string; stderr: string }>((resolve) => {
    const qm = spawn(process.execPath, [QM_BIN, 'submit', '-', '-c', cfg, ...args], { stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    qm.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    qm.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    qm.on('close', (code) => resolve({ code: code ?? -1, stdout, stderr }));
    if ('bytes' in input) qm.stdin.end(input.bytes);
    else spawn('tar', ['-c', ...input.tar], { stdio: ['ignore', 'pipe', 'inherit'] }).stdout.pipe(qm.stdin);
  });
}

describe('qm submit -', () => {
  let env: RunningQm;
  beforeAll(async () => {
    env = await startRunningQm({ QMServer: { MaxNbProcessors: 2, settle_time: 30 } });
  });
  afterAll(async () => {
    expect(await env.stop()).toBe(0);
  });

  /** what qm unpacked and did not clean up */
  const leftovers = async () => [
    ...(await fs.readdir(env.qm.queued)).filter((e) => e.startsWith('.')),
    ...(await fs.readdir(path.join(env.qm.root, '.qm'))).filter((e) => e.startsWith('stdin-')),
  ];

  it('queues the job folder of a tar stream, owned by whoever runs qm, and prints its name', async () => {
    const src = await writeSource(env.qm, 'tarred', {
      'proc_config.cfg': cfgDescriptor({ script: './run.sh > out.txt' }),
      'run.sh': '#!/bin/sh\necho from-the-tar\n',
    });
    await fs.chmod(path.join(src, 'run.sh'), 0o755);
    // the archive says the files belong to uid 4242, as a tar made on another machine would
    const r = await pipeToSubmit(env.qm.cfg, { tar: ['--owner=4242', '--group=4242', '-C', path.dirname(src), 'tarred'] }, '--priority', '3');
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toBe('tarred\n');
    const done = await waitDone(env.qm, 'tarred', 15_000);
    expect(readFileSync(path.join(done, 'out.txt'), 'utf8')).toBe('from-the-tar\n');
    expect(readFileSync(path.join(done, 'proc_config.cfg'), 'utf8')).toMatch(/^priority = 3$/m);
    for (const file of ['.', 'run.sh', 'proc_config.cfg']) expect(statSync(path.join(done, file)).uid, file).toBe(process.getuid!());
    expect(await leftovers()).toEqual([]);
  });

  it('takes a lone *.sh script too', async () => {
    const script = await writeScript(env.qm, 'solo.sh', '#!/bin/bash\n#SBATCH -J from_stdin\necho solo > out.txt\n');
    const r = await pipeToSubmit(env.qm.cfg, { tar: ['-C', path.dirname(script), 'solo.sh'] });
    expect(r.stderr).toBe('');
    expect(r.stdout).toBe('from_stdin\n');
    expect(readFileSync(path.join(await waitDone(env.qm, 'from_stdin', 15_000), 'out.txt'), 'utf8')).toBe('solo\n');
    expect(await leftovers()).toEqual([]);
  });

  it('refuses, in one line, a stream that is not a tar or holds more than one job; nothing is left', async () => {
    const notTar = await pipeToSubmit(env.qm.cfg, { bytes: 'this is not a tar archive\n'.repeat(40) });
    expect(notTar.code).toBe(1);
    expect(notTar.stderr).toMatch(/^qm: qm submit -: stdin is not a tar stream QM can unpack \(tar: .+\)\n$/);
    const a = await writeSource(env.qm, 'one', { 'proc_config.cfg': cfgDescriptor({ script: 'true' }) });
    await writeSource(env.qm, 'two', { 'proc_config.cfg': cfgDescriptor({ script: 'true' }) });
    const two = await pipeToSubmit(env.qm.cfg, { tar: ['-C', path.dirname(a), 'one', 'two'] });
    expect(two.code).toBe(1);
    expect(two.stderr).toBe('qm: qm submit -: the tar stream must hold one job folder or one *.sh script, it holds 2 entries: one, two\n');
    expect(await fs.readdir(env.qm.queued)).toEqual([]);
    expect(await leftovers()).toEqual([]);
  });
});
