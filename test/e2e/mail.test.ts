/**
 * Issue 5 point 6: the end-of-job mail, received by a real SMTP server
 * (smtp-server) — and a server that refuses or is down changes nothing
 * for the job.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import path from 'node:path';
import { cfgDescriptor, dropJob, waitDone } from '../helpers/qm.js';
import { readLog, startRunningQm, writeSource, type RunningQm } from '../helpers/cli.js';
import { freePort } from '../helpers/redis.js';
import { startSmtp, type TestSmtp } from '../helpers/smtp.js';
import { waitFor } from '../helpers/wait.js';
import { formFields, get, postForm } from '../monitor/harness.js';

describe('mail with MailActive = True', () => {
  let smtp: TestSmtp;
  let env: RunningQm;
  beforeAll(async () => {
    smtp = await startSmtp();
    env = await startRunningQm({
      QMServer: { MailActive: 'True', MaxNbProcessors: 2 },
      Mail: { smtp_url: smtp.url, from: 'QM <qm@example.org>' },
    });
  });
  afterAll(async () => {
    expect(await env.stop()).toBe(0);
    await smtp.close();
  });

  const mailFor = (name: string) => waitFor(() => smtp.mails.find((m) => m.subject.includes(` ${name} `)), { what: `mail for ${name}` });

  it('a finished job: subject "QM Job - NAME - finished", body with code, elapsed, folder and info', async () => {
    await dropJob(env.qm, 'mailed', {
      'proc_config.cfg': cfgDescriptor({ e_mail: 'me@example.org', info: 'Test of the QM manager', script: 'echo hi' }),
    });
    const done = await waitDone(env.qm, 'mailed');
    const mail = await mailFor('mailed');
    expect(mail.subject).toBe('QM Job - mailed - finished');
    expect(mail.to).toEqual(['me@example.org']);
    expect(mail.body).toContain('exit code:    0\n');
    expect(mail.body).toMatch(/elapsed: +[\d.]+ s\n/);
    expect(mail.body).toContain(`done folder:  ${done}\n`);
    expect(mail.body).toContain('info:         Test of the QM manager\n');
  });

  it('failed, timed out and cancelled jobs say so; the e-mail spelling of QM 0.4 works', async () => {
    await dropJob(env.qm, 'broken', { 'proc_config.cfg': cfgDescriptor({ 'e-mail': 'me@example.org', script: 'exit 4' }) });
    await dropJob(env.qm, 'slowpoke', { 'proc_config.cfg': cfgDescriptor({ e_mail: 'me@example.org', time_limit: 1, script: 'sleep 30' }) });
    expect((await mailFor('broken')).subject).toBe('QM Job - broken - failed');
    expect((await mailFor('broken')).body).toContain('exit code:    4\n');
    expect((await mailFor('slowpoke')).subject).toBe('QM Job - slowpoke - timed out');

    // cancelled before it started: mailed by `qm cancel` itself
    const blocker = await writeSource(env.qm, 'hog', { 'proc_config.cfg': cfgDescriptor({ nb_proc: 2, script: 'sleep 30' }) });
    await env.qmRun('submit', blocker);
    await waitFor(() => env.proc.output.includes('hog: started'), { what: 'hog running' });
    const waiting = await writeSource(env.qm, 'never', { 'proc_config.cfg': cfgDescriptor({ e_mail: 'me@example.org', script: 'true' }) });
    await env.qmRun('submit', waiting);
    expect((await env.qmRun('cancel', 'never', 'hog')).code).toBe(0);
    const cancelled = await mailFor('never');
    expect(cancelled.subject).toBe('QM Job - never - cancelled');
    expect(cancelled.body).toContain('elapsed:      did not run\n');
  });

  it('#SBATCH --mail-user/--mail-type: FAIL alone mails a failure, not a success', async () => {
    await dropJob(env.qm, 'quiet_ok', { 'job.sh': '#!/bin/sh\n#SBATCH --mail-user=sb@example.org\n#SBATCH --mail-type=FAIL\ntrue\n' });
    await dropJob(env.qm, 'loud_fail', { 'job.sh': '#!/bin/sh\n#SBATCH --mail-user=sb@example.org\n#SBATCH --mail-type=FAIL\nexit 1\n' });
    expect((await mailFor('loud_fail')).to).toEqual(['sb@example.org']);
    await env.proc.waitForOutput(/quiet_ok: no mail: --mail-type FAIL/);
    expect(smtp.mails.find((m) => m.subject.includes('quiet_ok'))).toBeUndefined();
  });
});

describe('a mail server that refuses or is down', () => {
  it('is logged, and the job is run and recorded as usual', async () => {
    const refusing = await startSmtp({ refuse: true });
    const env = await startRunningQm({ QMServer: { MailActive: 'True' }, Mail: { smtp_url: refusing.url } });
    try {
      await dropJob(env.qm, 'refused', { 'proc_config.cfg': cfgDescriptor({ e_mail: 'me@example.org', script: 'echo fine' }) });
      const done = await waitDone(env.qm, 'refused');
      expect(readLog(done)).toMatch(/fine\nJob finished at: \S+ with code 0\n$/);
      await env.proc.waitForOutput(/refused: mail to me@example\.org not sent: .*550/);
      expect(refusing.refused).toEqual(['me@example.org']);
    } finally {
      expect(await env.stop()).toBe(0);
      await refusing.close();
    }

    const closedPort = await freePort();
    const down = await startRunningQm({ QMServer: { MailActive: 'True' }, Mail: { smtp_url: `smtp://127.0.0.1:${closedPort}` } });
    try {
      await dropJob(down.qm, 'unsent', { 'proc_config.cfg': cfgDescriptor({ e_mail: 'me@example.org', script: 'echo fine' }) });
      const done = await waitDone(down.qm, 'unsent');
      expect(path.basename(done)).toMatch(/-unsent$/);
      await down.proc.waitForOutput(/unsent: mail to me@example\.org not sent: .*ECONNREFUSED/);
      const status = JSON.parse((await down.qmRun('status', '--json')).stdout) as { done: { name: string; exitCode: number }[] };
      expect(status.done).toEqual([expect.objectContaining({ name: 'unsent', exitCode: 0 })]);
    } finally {
      expect(await down.stop()).toBe(0);
    }
  });
});

describe('mail of a job cancelled from the monitor', () => {
  it('is sent as for qm cancel', async () => {
    const smtp = await startSmtp();
    const port = await freePort();
    const env = await startRunningQm({
      QMServer: { MailActive: 'True', MaxNbProcessors: 1 },
      WEB_QMserver: { The_Port: port, Licence_to_kill: 'True' },
      Mail: { smtp_url: smtp.url, from: 'QM <qm@example.org>' },
    });
    const blocker = await writeSource(env.qm, 'hog', { 'proc_config.cfg': cfgDescriptor({ script: 'sleep 30' }) });
    await env.qmRun('submit', blocker);
    await waitFor(() => env.proc.output.includes('hog: started'), { what: 'hog running' });
    const waiting = await writeSource(env.qm, 'webcancel', { 'proc_config.cfg': cfgDescriptor({ e_mail: 'me@example.org', script: 'true' }) });
    await env.qmRun('submit', waiting);
    const form = formFields((await get(port, '/job/webcancel/cancel')).text);
    expect((await postForm(port, form.action, { id: form.id, csrf: form.csrf })).status).toBe(303);
    const mail = await waitFor(() => smtp.mails.find((m) => m.subject.includes(' webcancel ')), { what: 'mail for webcancel' });
    expect(mail.subject).toBe('QM Job - webcancel - cancelled');
    expect(mail.body).toContain('cancelled by monitor');
    expect((await env.qmRun('cancel', 'hog')).code).toBe(0);
    expect(await env.stop()).toBe(0);
    await smtp.close();
  });
});
