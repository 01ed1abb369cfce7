/** `qm init [DIR]`: a commented QMserv.cfg in the QM 0.4 format, and the folders. */
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { ensureLayout, exists, layoutOf } from '../core/folders.js';
import { UserError } from './context.js';

export function sampleConfig(qmFolder: string): string {
  return `[QMServer]
# The parameters of the queue manager (QM 0.4 keys first; the others are new)
#
# where the QM_* folders are (a relative path is read from this file's folder)
QM_FOLDER = ${qmFolder}

# the processor budget of one worker: the sum of nb_proc of its running jobs
# %integer% %min:1%
MaxNbProcessors = 4

# blocking: one job at a time; non-blocking: as many as MaxNbProcessors allows
launch_type = non-blocking

# name of the job description file in each job folder: .cfg or .xml
##job_file = infos.xml
job_file = proc_config.cfg

# if True, a mail is sent when a job is finished (see [Mail])
MailActive = False

# debug mode: more detail in the log
# %boolean%
Debug = False

# Redis for the queue; empty: an embedded redis-server under QM_FOLDER/.qm
redis_url =

# seconds a dropped folder must stay unchanged before it is taken
settle_time = 2

# events, or polling for network shares (NFS, SMB)
watch_mode = events
poll_interval = 1

# pin each job to nb_proc CPUs (auto: when the budget fits the CPUs)
pin_cpus = auto

# the GPU ids this worker hands out (nb_gpu), e.g. 0-3 or 0,2; empty: those nvidia-smi -L lists
gpus =

# the memory jobs may reserve (memory = 16G), e.g. 64G; empty: the machine's physical memory
memory =

# seconds between SIGTERM and SIGKILL when a job is stopped
kill_grace = 10

# a job whose worker vanished goes to lost+found, or is requeued once (requeue)
on_worker_loss = lost+found

# finished jobs remembered in Redis (their folders always stay in QM_dJobs)
keep_done = 10000

[WEB_QMserver]
# the web monitor
#
# localhost: this machine only; the machine's name: your network
Host = localhost

# %integer% %min:1024% %max:65535%
The_Port = 8000

# seconds between refreshes of the main page
Refresh_Rate = 10

# show info and owner columns
Display_details = True

# allow deleting queued and done jobs
Delete_Jobs = False

# show the kill button for running jobs
Licence_to_kill = False

Debug = False

# with a password, every page needs it (basic auth)
user =
password =

[Mail]
# where mail goes out, e.g. smtp://mail.example.org:25 (empty: smtp://localhost:25)
smtp_url =
# the sender of QM's mails (default: QM <qm@this host>)
#from = QM <qm@example.org>
`;
}

export async function init(dir: string | undefined): Promise<void> {
  const root = path.resolve(dir ?? '.');
  const cfg = path.join(root, 'QMserv.cfg');
  await fs.mkdir(root, { recursive: true });
  if (await exists(cfg)) throw new UserError(`${cfg} already exists: not overwritten`);
  await fs.writeFile(cfg, sampleConfig('QM'));
  await ensureLayout(layoutOf(path.join(root, 'QM')));
  process.stdout.write(`wrote ${cfg} and the folders under ${path.join(root, 'QM')}\n`);
}
