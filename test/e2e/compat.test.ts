/** Issue 2 points 1-3: a QM 0.4 QMserv.cfg and infos.xml jobs work unchanged; bad config is one line, exit 2. */
import { describe, expect, it } from 'vitest';
import { promises as fs, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { dropJob, makeQmDir, runQm, startQm, waitDone } from '../helpers/qm.js';

/** The shape of QM 0.4's own QMserv.cfg: comments, %markers%, a commented-out key, `key : value`. */
const QM04_CFG = `[QMServer]
# The parameters for the QueueManager program
#
# Specify the path where you have placed QM_* folders
QM_FOLDER = jobs_here

# the maximum number of processors allowed for one job
# %integer% %min:1%
MaxNbProcessors : 2


# name of job files - accepts xml or cfg file types


##job_file = proc_config.cfg
job_file = infos.xml

# If MailActive is TRUE, a mail is sent when a job is finished
MailActive = False

# debug mode, should not be active in production mode
# %boolean%
Debug = False

[WEB_QMserver]
# WEB_QMserver is a utility allowing to monitor QM - not fully debuged yet !
#
#Hostname
Host = localhost

# the port on which the server is serving
# %integer% %min:1024% %max:16535%
The_Port = 8000

# if True, the kill button will be present (to kill the running job)
Licence_to_kill = False

Debug = True
`;

describe('QM 0.4 compatibility', () => {
  it('runs with the old QMserv.cfg unchanged (relative QM_FOLDER) and reads infos.xml with <e-mail> or <e_mail>', async () => {
    const qm = makeQmDir();
    writeFileSync(qm.cfg, QM04_CFG.replace('MailActive = False', 'MailActive = False\nsettle_time = 0.2'));
    const root = path.join(qm.base, 'jobs_here');
    const proc = startQm(['start', '-c', qm.cfg], {}, '/');
    await proc.waitForOutput(/watching/);
    const local = { ...qm, root, queued: path.join(root, 'QM_qJobs'), done: path.join(root, 'QM_dJobs') };
    await dropJob(local, 'xml_dash', {
      'infos.xml':
        '<PARAMETER>\n  <nb_proc value="2"/>\n  <e-mail value="me@example.org"/>\n  <script value="echo NB=$NB_PROC"/>\n  <info value="xml job"/>\n</PARAMETER>\n',
    });
    await dropJob(local, 'xml_underscore', {
      'infos.xml': '<PARAMETER><e_mail value="you@example.org"/><script value="echo underscore"/></PARAMETER>',
    });
    const a = await waitDone(local, 'xml_dash');
    const b = await waitDone(local, 'xml_underscore');
    expect(readFileSync(path.join(a, 'process.log'), 'utf8')).toContain('NB=2');
    expect(readFileSync(path.join(b, 'process.log'), 'utf8')).toContain('underscore');
    expect(await proc.stop()).toBe(0);
    qm.cleanup();
  });

  it('a bad value is one line naming file, section, key and expected form, exit 2', async () => {
    const qm = makeQmDir({ QMServer: { MaxNbProcessors: 'many' } });
    const r = await runQm(['start', '-c', qm.cfg]);
    expect(r.code).toBe(2);
    const lines = r.stderr.trim().split('\n');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/QMserv\.cfg.*\[QMServer\].*MaxNbProcessors.*many.*integer/);
    await expect(fs.readdir(qm.root)).rejects.toThrow(); // nothing created
    qm.cleanup();
  });

  it('environment overrides win over the file', async () => {
    const qm = makeQmDir({ QMServer: { MaxNbProcessors: 4 } });
    const r = await runQm(['start', '-c', qm.cfg], { QM_MAX_NB_PROCESSORS: 'zero' });
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/QM_MAX_NB_PROCESSORS.*zero/);
    qm.cleanup();
  });

  it('says how to install redis-server when it is missing', async () => {
    const qm = makeQmDir();
    // a PATH holding node and nothing else
    const bin = path.join(qm.base, 'bin');
    await fs.mkdir(bin);
    await fs.symlink(process.execPath, path.join(bin, 'node'));
    const r = await runQm(['start', '-c', qm.cfg], { PATH: bin });
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/redis-server not found: install it .* or set redis_url/);
    qm.cleanup();
  });
});

describe('one qm start per QM folder', () => {
  it('refuses a second qm start on the same folder with one clear line', async () => {
    const qm = makeQmDir();
    const first = startQm(['start', '-c', qm.cfg]);
    await first.waitForOutput(/watching/);
    const second = await runQm(['start', '-c', qm.cfg]);
    expect(second.code).toBe(2);
    expect(second.stderr.trim()).toMatch(/^qm: QM is already running on this folder \(qm start, pid \d+\)/);
    expect(await first.stop()).toBe(0);
    qm.cleanup();
  });
});
