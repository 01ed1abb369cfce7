/**
 * Issue 14 point 6, end to end with `qm start` running as root: a job runs as
 * the owner of its folder (uid, gid, supplementary groups; HOME, USER,
 * LOGNAME), what QM writes in the folder belongs to that user, a folder
 * owned by root runs as root, and the owner is recorded as the job's user.
 * The user and its group are made for the test and removed after it.
 */
import { execFileSync } from 'node:child_process';
import { chmodSync, promises as fs, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cfgDescriptor, dropJob, qmStartPerTest, waitDone, type QmDir } from '../helpers/qm.js';
import { TestRedis } from '../helpers/redis.js';
import { waitFor } from '../helpers/wait.js';

const startWith = qmStartPerTest();
const USER = `qmtest${process.pid % 100000}`;
const GROUP = `${USER}g`;
let uid: number;
let extraGid: number;

beforeAll(() => {
  execFileSync('groupadd', [GROUP]);
  execFileSync('useradd', ['-M', '-d', `/home/${USER}`, '-G', GROUP, USER]);
  uid = Number(execFileSync('id', ['-u', USER]).toString());
  extraGid = Number(execFileSync('getent', ['group', GROUP]).toString().split(':')[2]);
});

/** the Redis of the test that uses one: stopped after its qm start (afterAll runs after afterEach) */
let redis: TestRedis | undefined;

afterAll(async () => {
  await redis?.stop();
  execFileSync('userdel', [USER]);
  execFileSync('groupdel', [GROUP]);
});

const WHO = 'echo "user=$(id -un) groups=$(id -G) home=$HOME USER=$USER LOGNAME=$LOGNAME"; touch made.txt';

/** Drops a job whose folder belongs to `owner` (chowned before the move into QM_qJobs). */
async function dropOwned(qm: QmDir, name: string, owner: number, script = WHO, more: Record<string, string> = {}): Promise<void> {
  const staging = path.join(qm.base, `stage-${name}`);
  await fs.mkdir(path.join(staging, name), { recursive: true });
  await fs.writeFile(path.join(staging, name, 'proc_config.cfg'), cfgDescriptor({ script, ...more }));
  execFileSync('chown', ['-R', `${owner}`, staging]);
  await fs.rename(path.join(staging, name), path.join(qm.queued, name));
}

describe('jobs run as the owner of their folder', () => {
  it('a root worker runs a user\'s folder as that user, with its groups and environment; the files QM writes are the user\'s', async () => {
    const { qm } = await startWith({ MaxNbProcessors: 2 });
    // the user must be able to reach its folder under the test's temp folder
    chmodSync(qm.base, 0o755);
    await dropOwned(qm, 'mine', uid);
    await dropJob(qm, 'roots', { 'proc_config.cfg': cfgDescriptor({ script: WHO }) });
    const mine = await waitDone(qm, 'mine');
    const log = readFileSync(path.join(mine, 'process.log'), 'utf8');
    expect(log).toMatch(new RegExp(`^user=${USER} groups=.*\\b${extraGid}\\b.* home=/home/${USER} USER=${USER} LOGNAME=${USER}$`, 'm'));
    for (const file of ['process.log', 'made.txt']) expect(statSync(path.join(mine, file)).uid, file).toBe(uid);
    const roots = await waitDone(qm, 'roots');
    expect(readFileSync(path.join(roots, 'process.log'), 'utf8')).toMatch(/^user=root /m);
    for (const file of ['process.log', 'made.txt']) expect(statSync(path.join(roots, file)).uid, file).toBe(0);
  });

  it('the tasks of a user\'s array run as that user in folders of its own: its script writes there', async () => {
    const { qm } = await startWith({ MaxNbProcessors: 2 });
    chmodSync(qm.base, 0o755);
    await dropOwned(qm, 'arr', uid, WHO, { array: '1-2' });
    for (const task of ['arr_1', 'arr_2']) {
      const done = await waitDone(qm, task);
      expect(readFileSync(path.join(done, 'process.log'), 'utf8')).toMatch(new RegExp(`^user=${USER} `, 'm'));
      for (const file of ['.', 'proc_config.cfg', 'made.txt']) expect(statSync(path.join(done, file)).uid, `${task}/${file}`).toBe(uid);
    }
  });

  it('the owner is the job\'s user in its running entry and its done record', async () => {
    redis = await TestRedis.start();
    const { qm } = await startWith({ MaxNbProcessors: 2, redis_url: redis.url });
    chmodSync(qm.base, 0o755);
    await dropOwned(qm, 'owned', uid, 'sleep 1');
    const client = redis.client();
    const running = await waitFor(async () => (await client.hvals('qm:running'))[0], { what: 'owned running' });
    expect((JSON.parse(running) as { owner?: unknown }).owner).toEqual({ user: USER, uid, gid: expect.any(Number) });
    await waitDone(qm, 'owned');
    // the folder reaches QM_dJobs a moment before its record is written
    const ids = await waitFor(async () => {
      const found = await client.zrange('qm:done', 0, -1);
      return found.length > 0 ? found : undefined;
    }, { what: 'the done record of owned' });
    const records = (await client.mget(...ids.map((id) => `qm:rec:${id}`))).map((v) => JSON.parse(v!) as { name: string; owner?: unknown });
    client.disconnect();
    expect(records.find((r) => r.name === 'owned')?.owner).toEqual({ user: USER, uid, gid: expect.any(Number) });
  });
});
