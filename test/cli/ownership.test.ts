/**
 * Issue 16 point 5: a user may cancel, hold, release and requeue only their
 * own jobs (root: any); the CLI and the monitor refuse another's in one line.
 * Two Unix users are made for the test (useradd -M) and removed after; the
 * CLI runs as them (a real process with their uid), over a Redis on TCP.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { promises as fs, statSync } from 'node:fs';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { TestRedis } from '../helpers/redis.js';
import { cfgDescriptor, doneEntries, runQm, waitDone } from '../helpers/qm.js';
import { basic, formFields, get, postForm, startMonitorQm, type MonitorQm } from '../monitor/harness.js';
import { waitFor } from '../helpers/wait.js';

const isRoot = process.getuid?.() === 0;

describe.skipIf(!isRoot)('only the owner (or root) acts on a job', () => {
  const suffix = randomBytes(3).toString('hex');
  const ann = { name: `qmann${suffix}`, uid: 0, gid: 0 };
  const bob = { name: `qmbob${suffix}`, uid: 0, gid: 0 };
  let redis: TestRedis;
  let m: MonitorQm;
  const as = (user: typeof ann, ...args: string[]) => runQm([...args, '-c', m.qm.cfg], {}, '/', { uid: user.uid, gid: user.gid });

  /** A job folder owned by `user`, moved into QM_qJobs whole (as `mv` by its owner would). */
  async function dropOwned(user: typeof ann, name: string, script: string): Promise<void> {
    const dir = path.join(m.qm.base, 'src', name);
    await fs.mkdir(dir, { recursive: true });
    await fs.writeFile(path.join(dir, 'proc_config.cfg'), cfgDescriptor({ script }));
    execFileSync('chown', ['-R', `${user.uid}:${user.gid}`, dir]);
    await fs.rename(dir, path.join(m.qm.queued, name));
  }

  beforeAll(async () => {
    for (const user of [ann, bob]) {
      execFileSync('useradd', ['-M', '-s', '/usr/sbin/nologin', user.name]);
      user.uid = Number(execFileSync('id', ['-u', user.name]).toString());
      user.gid = Number(execFileSync('id', ['-g', user.name]).toString());
    }
    redis = await TestRedis.start();
    m = await startMonitorQm(redis, { server: { MaxNbProcessors: 1 }, web: { password: 'pw', user: bob.name, Licence_to_kill: true } });
    // a shared machine's set-up, in short: others may read the QM folder and drop into QM_qJobs
    for (const dir of [m.qm.base, m.qm.root, m.qm.done, m.qm.running]) await fs.chmod(dir, 0o755);
    await fs.chmod(m.qm.queued, 0o1777);
    await fs.chmod(m.qm.cfg, 0o644);
  });

  afterAll(async () => {
    await m?.stop();
    await redis?.stop();
    for (const user of [ann, bob]) execFileSync('userdel', [user.name], { stdio: 'ignore' });
  });

  it('the CLI refuses bob cancel, hold, release and requeue of ann\'s job, in one line; ann and root may', async () => {
    expect((await as(ann, 'pause')).code).toBe(0);
    await dropOwned(ann, 'anns_job', 'echo ann');
    const status = async () => JSON.parse((await runQm(['status', '--json', '-c', m.qm.cfg])).stdout) as { queued: Array<{ name: string; user: string; state: string }> };
    await waitFor(async () => (await status()).queued.find((q) => q.name === 'anns_job' && q.state === 'queued'), { what: 'anns_job queued' });
    expect((await status()).queued.find((q) => q.name === 'anns_job')!.user).toBe(ann.name);

    const refusal = (action: string) => `qm: anns_job belongs to ${ann.name}: only ${ann.name} or root may ${action} it (you are ${bob.name})\n`;
    expect(await as(bob, 'hold', 'anns_job')).toMatchObject({ code: 1, stdout: '', stderr: refusal('hold') });
    expect(await as(bob, 'cancel', 'anns_job')).toMatchObject({ code: 1, stdout: '', stderr: refusal('cancel') });
    expect(await as(ann, 'hold', 'anns_job')).toMatchObject({ code: 0, stdout: 'anns_job: held until qm release\n' });
    expect(await as(bob, 'release', 'anns_job')).toMatchObject({ code: 1, stderr: refusal('release') });
    expect(await runQm(['release', 'anns_job', '-c', m.qm.cfg])).toMatchObject({ code: 0, stdout: 'anns_job: released\n' });
    expect((await as(bob, 'resume')).code).toBe(0);
    const first = await waitDone(m.qm, 'anns_job');

    expect(await as(bob, 'requeue', 'anns_job')).toMatchObject({ code: 1, stderr: refusal('requeue') });
    expect(await as(ann, 'requeue', 'anns_job')).toMatchObject({ code: 0 });
    await waitFor(() => doneEntries(m.qm, 'anns_job').length === 2, { what: 'the second run of anns_job' });
    const second = doneEntries(m.qm, 'anns_job').map((e) => path.join(m.qm.done, e)).find((f) => f !== first)!;
    expect(statSync(second).uid).toBe(ann.uid);
  });

  it('the monitor (basic-auth user bob) refuses to cancel ann\'s job, in one line', async () => {
    const auth = basic(bob.name, 'pw');
    await as(ann, 'pause');
    await dropOwned(ann, 'anns_other', 'echo other');
    await waitFor(async () => (await get(m.port, '/api/jobs/anns_other', auth)).text.includes('"phase":"queued"'), { what: 'anns_other queued' });
    const form = formFields((await get(m.port, '/job/anns_other/cancel', auth)).text);
    const refused = await postForm(m.port, form.action, { id: form.id, csrf: form.csrf }, { ...auth, accept: 'application/json' });
    expect(refused.status).toBe(403);
    expect(JSON.parse(refused.text)).toEqual({ error: `anns_other belongs to ${ann.name}: only ${ann.name} or root may cancel it (you are ${bob.name})` });
    expect(doneEntries(m.qm, 'anns_other')).toEqual([]);
    await as(ann, 'cancel', 'anns_other');
    await as(ann, 'resume');
  });
});
