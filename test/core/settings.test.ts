import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ConfigError, loadSettings, parseBool, parseCpuList } from '../../src/core/settings.js';

const QM04_SERV_CFG = `[QMServer]
# The parameters for the QueueManager program
#
# Specify the path where you have placed QM_* folders
QM_FOLDER = /DATA/QM

# the maximum number of processors allowed for one job
# %integer% %min:1%
MaxNbProcessors = 8

##job_file = infos.xml
job_file = proc_config.cfg

# If MailActive is TRUE, a mail is sent when a job is finished
MailActive = True

# %boolean%
Debug = False

[WEB_QMserver]
#Hostname
Host = localhost

# %integer% %min:1024% %max:16535%
The_Port : 8000

Licence_to_kill = False
Debug = True
`;

let tmp: string;

beforeEach(() => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'qm-settings-'));
});

afterEach(() => {
  fs.rmSync(tmp, { recursive: true, force: true });
});

function writeConfig(text: string, name = 'QMserv.cfg'): string {
  const file = path.join(tmp, name);
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, text);
  return file;
}

/** Settings from `[section]\nkey = value` in a fresh ./QMserv.cfg. */
function withKey(section: string, line: string) {
  writeConfig(`[${section}]\n${line}\n`);
  return loadSettings({ cwd: tmp, env: {} });
}

function configError(load: () => unknown): string {
  try {
    load();
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    return (error as Error).message;
  }
  throw new Error('expected a ConfigError');
}

describe('loadSettings', () => {
  it('reads the QM 0.4 QMserv.cfg unchanged', () => {
    const file = writeConfig(QM04_SERV_CFG);
    const settings = loadSettings({ cwd: tmp, env: {} });
    expect(settings.configPath).toBe(file);
    expect(settings.server).toMatchObject({
      qmFolder: '/DATA/QM', maxNbProcessors: 8, jobFile: 'proc_config.cfg', mailActive: true, debug: false,
    });
    expect(settings.web).toMatchObject({ host: 'localhost', port: 8000, licenceToKill: false, debug: true });
  });

  it('uses defaults when ./QMserv.cfg does not exist', () => {
    const settings = loadSettings({ cwd: tmp, env: {} });
    expect(settings.configPath).toBeUndefined();
    expect(settings.server).toEqual({
      qmFolder: path.join(tmp, 'QM'),
      maxNbProcessors: os.availableParallelism(),
      launchType: 'non-blocking',
      jobFile: 'proc_config.cfg',
      mailActive: false,
      debug: false,
      redisUrl: '',
      settleTime: 2,
      watchMode: 'events',
      pollInterval: 1,
      pinCpus: undefined,
      cpus: '',
      killGrace: 10,
      onWorkerLoss: 'lost+found',
      keepDone: 10000,
      shutdown: 'wait',
      workerName: `${os.hostname()}:${process.pid}`,
    });
    expect(settings.web).toEqual({
      host: 'localhost', port: 8000, refreshRate: 10, displayDetails: true, deleteJobs: false,
      licenceToKill: false, debug: false, user: '', password: '',
    });
    expect(settings.mail).toEqual({ smtpUrl: '', from: `QM <qm@${os.hostname()}>` });
  });

  it('finds the file by option, then QM_CONFIG, and fails when an explicit one is missing', () => {
    const byEnv = writeConfig('[QMServer]\nMaxNbProcessors = 3\n', 'env/qm.cfg');
    const byOption = writeConfig('[QMServer]\nMaxNbProcessors = 5\n', 'opt/qm.cfg');
    writeConfig('[QMServer]\nMaxNbProcessors = 7\n');
    expect(loadSettings({ cwd: tmp, env: {} }).server.maxNbProcessors).toBe(7);
    expect(loadSettings({ cwd: tmp, env: { QM_CONFIG: 'env/qm.cfg' } }).configPath).toBe(byEnv);
    expect(loadSettings({ cwd: tmp, env: { QM_CONFIG: byEnv }, configPath: 'opt/qm.cfg' }).configPath).toBe(byOption);
    const missing = path.join(tmp, 'nope', 'QMserv.cfg');
    expect(configError(() => loadSettings({ cwd: tmp, env: {}, configPath: missing }))).toBe(
      `config file ${missing}: not found`,
    );
    expect(configError(() => loadSettings({ cwd: tmp, env: { QM_CONFIG: 'nope/QMserv.cfg' } }))).toBe(
      `config file ${missing}: not found`,
    );
  });

  it('resolves a relative QM_FOLDER against the config file folder, QM_FOLDER from env against cwd', () => {
    writeConfig('[QMServer]\nQM_FOLDER = ../data/QM\n', 'etc/QMserv.cfg');
    const settings = loadSettings({ cwd: tmp, env: { QM_CONFIG: 'etc/QMserv.cfg' } });
    expect(settings.server.qmFolder).toBe(path.join(tmp, 'data', 'QM'));
    writeConfig('[QMServer]\nDebug = no\n', 'etc/QMserv.cfg');
    expect(loadSettings({ cwd: tmp, env: { QM_CONFIG: 'etc/QMserv.cfg' } }).server.qmFolder).toBe(path.join(tmp, 'etc', 'QM'));
    expect(loadSettings({ cwd: tmp, env: { QM_CONFIG: 'etc/QMserv.cfg', QM_FOLDER: 'q' } }).server.qmFolder).toBe(path.join(tmp, 'q'));
  });

  it('matches sections and keys case-insensitively and ignores unknown keys and sections', () => {
    writeConfig('[qmserver]\nmaxnbprocessors = 2\nLAUNCH_TYPE = Blocking\nold_key = whatever\n'
      + '[web_qmserver]\nthe_port = 9000\n[MAIL]\nSMTP_URL = smtp://mail.example.org:25\nFrom = QM <qm@lab>\n[Other]\nx = 1\n');
    const settings = loadSettings({ cwd: tmp, env: {} });
    expect(settings.server.maxNbProcessors).toBe(2);
    expect(settings.server.launchType).toBe('blocking');
    expect(settings.web.port).toBe(9000);
    expect(settings.mail).toEqual({ smtpUrl: 'smtp://mail.example.org:25', from: 'QM <qm@lab>' });
  });

  it('reads the new keys', () => {
    writeConfig(`[QMServer]
redis_url = redis://:secret@redis:6379/2
settle_time = 0.5
watch_mode = polling
poll_interval = 2.5
pin_cpus = off
cpus = 0-3, 6
kill_grace = 0
on_worker_loss = requeue
keep_done = 0
shutdown = requeue
worker_name = node7
[WEB_QMserver]
Refresh_Rate = 2.5
Display_details = no
Delete_Jobs = yes
user = admin
password = p;a#s%s
`);
    const { server, web } = loadSettings({ cwd: tmp, env: {} });
    expect(server).toMatchObject({
      redisUrl: 'redis://:secret@redis:6379/2', settleTime: 0.5, watchMode: 'polling', pollInterval: 2.5,
      pinCpus: false, cpus: '0-3, 6', killGrace: 0, onWorkerLoss: 'requeue', keepDone: 0, shutdown: 'requeue',
      workerName: 'node7',
    });
    expect(web).toMatchObject({ refreshRate: 2.5, displayDetails: false, deleteJobs: true, user: 'admin', password: 'p;a#s%s' });
    expect(withKey('QMServer', 'redis_url = unix:///run/redis.sock').server.redisUrl).toBe('unix:///run/redis.sock');
    expect(withKey('QMServer', 'redis_url = /run/redis.sock').server.redisUrl).toBe('/run/redis.sock');
    const sentinel = 'redis+sentinel://:pw@s1:26379,[::1]:26380,s3/qm';
    expect(withKey('QMServer', `redis_url = ${sentinel}`).server.redisUrl).toBe(sentinel);
    expect(withKey('QMServer', 'pin_cpus = TRUE').server.pinCpus).toBe(true);
    expect(withKey('QMServer', 'pin_cpus = auto').server.pinCpus).toBeUndefined();
  });

  it('lets the environment win over the file; empty variables count as unset', () => {
    writeConfig('[QMServer]\nMaxNbProcessors = 8\nredis_url = redis://a\n[WEB_QMserver]\nHost = 0.0.0.0\nThe_Port = 8000\n');
    const settings = loadSettings({
      cwd: tmp,
      env: {
        QM_FOLDER: '/srv/qm', QM_REDIS_URL: 'redis://b:6380', QM_MAX_NB_PROCESSORS: '4', QM_HOST: '::1',
        QM_PORT: '8081', QM_WEB_USER: 'u', QM_WEB_PASSWORD: 'p', QM_SMTP_URL: 'smtps://m:465',
        QM_CPUS: '2-5', QM_WORKER_NAME: 'w1', QM_PIN_CPUS: 'false',
      },
    });
    expect(settings.server).toMatchObject({
      qmFolder: '/srv/qm', redisUrl: 'redis://b:6380', maxNbProcessors: 4, cpus: '2-5', workerName: 'w1', pinCpus: false,
    });
    expect(settings.web).toMatchObject({ host: '::1', port: 8081, user: 'u', password: 'p' });
    expect(settings.mail.smtpUrl).toBe('smtps://m:465');
    expect(loadSettings({ cwd: tmp, env: { QM_PORT: '', QM_REDIS_URL: '' } }).web.port).toBe(8000);
  });

  it('names file, line, section, key, value and expected form in one line', () => {
    const REDIS_FORM =
      'empty, redis://[user:password@]host[:port][/db], rediss://..., ' +
      'redis+sentinel://[:password@]host:port[,host:port...]/master, unix:///socket or /socket';
    const cases: Array<[string, string, string]> = [
      ['QMServer', 'MaxNbProcessors = abc', '[QMServer] MaxNbProcessors = "abc": expected an integer >= 1'],
      ['QMServer', 'MaxNbProcessors = 0', '[QMServer] MaxNbProcessors = "0": expected an integer >= 1'],
      ['QMServer', 'MaxNbProcessors = 2.5', '[QMServer] MaxNbProcessors = "2.5": expected an integer >= 1'],
      ['QMServer', 'launch_type = parallel', '[QMServer] launch_type = "parallel": expected blocking or non-blocking'],
      ['QMServer', 'job_file = job.json', '[QMServer] job_file = "job.json": expected a file name ending in .cfg or .xml'],
      ['QMServer', 'job_file = ../x.cfg', '[QMServer] job_file = "../x.cfg": expected a file name ending in .cfg or .xml'],
      ['QMServer', 'MailActive = maybe', '[QMServer] MailActive = "maybe": expected true or false (also yes/no, on/off, 1/0)'],
      ['QMServer', 'QM_FOLDER =', '[QMServer] QM_FOLDER = "": expected a folder path'],
      ['QMServer', 'redis_url = http://x', `[QMServer] redis_url = "http://x": expected ${REDIS_FORM}`],
      ['QMServer', 'redis_url = redis://host/db1', `[QMServer] redis_url = "redis://host/db1": expected ${REDIS_FORM}`],
      ['QMServer', 'redis_url = redis+sentinel://s1:26379,s2:26379', `[QMServer] redis_url = "redis+sentinel://s1:26379,s2:26379": expected ${REDIS_FORM}`],
      ['QMServer', 'redis_url = redis+sentinel://s1:port/qm', `[QMServer] redis_url = "redis+sentinel://s1:port/qm": expected ${REDIS_FORM}`],
      ['QMServer', 'redis_url = redis+sentinel://s1,,s2/qm', `[QMServer] redis_url = "redis+sentinel://s1,,s2/qm": expected ${REDIS_FORM}`],
      ['QMServer', 'settle_time = -1', '[QMServer] settle_time = "-1": expected a number of seconds >= 0'],
      ['QMServer', 'watch_mode = inotify', '[QMServer] watch_mode = "inotify": expected events or polling'],
      ['QMServer', 'poll_interval = 0', '[QMServer] poll_interval = "0": expected a number of seconds > 0'],
      ['QMServer', 'pin_cpus = sometimes', '[QMServer] pin_cpus = "sometimes": expected true, false or auto'],
      ['QMServer', 'cpus = 3-1', '[QMServer] cpus = "3-1": expected a CPU list like 0-3,6 (or empty for all)'],
      ['QMServer', 'kill_grace = 1e3', '[QMServer] kill_grace = "1e3": expected a number of seconds >= 0'],
      ['QMServer', 'on_worker_loss = drop', '[QMServer] on_worker_loss = "drop": expected lost+found or requeue'],
      ['QMServer', 'keep_done = -5', '[QMServer] keep_done = "-5": expected an integer >= 0'],
      ['QMServer', 'shutdown = now', '[QMServer] shutdown = "now": expected wait or requeue'],
      ['QMServer', 'worker_name =', '[QMServer] worker_name = "": expected a non-empty name'],
      ['WEB_QMserver', 'Host =', '[WEB_QMserver] Host = "": expected a host name or address'],
      ['WEB_QMserver', 'The_Port = 70000', '[WEB_QMserver] The_Port = "70000": expected an integer from 1 to 65535'],
      ['WEB_QMserver', 'Refresh_Rate = 0', '[WEB_QMserver] Refresh_Rate = "0": expected a number of seconds > 0'],
      ['WEB_QMserver', 'Delete_Jobs = Oui', '[WEB_QMserver] Delete_Jobs = "Oui": expected true or false (also yes/no, on/off, 1/0)'],
      ['Mail', 'smtp_url = mail.example.org', '[Mail] smtp_url = "mail.example.org": expected empty or an smtp:// or smtps:// URL'],
      ['Mail', 'from =', '[Mail] from = "": expected a sender address'],
    ];
    for (const [section, line, expected] of cases) {
      expect(configError(() => withKey(section, line))).toBe(`QMserv.cfg line 2: ${expected}`);
    }
  });

  it('names the variable for bad environment values', () => {
    const load = (env: NodeJS.ProcessEnv) => () => loadSettings({ cwd: tmp, env });
    expect(configError(load({ QM_PORT: 'x' }))).toBe('environment QM_PORT = "x": expected an integer from 1 to 65535');
    expect(configError(load({ QM_MAX_NB_PROCESSORS: '-2' }))).toBe(
      'environment QM_MAX_NB_PROCESSORS = "-2": expected an integer >= 1',
    );
    expect(configError(load({ QM_CPUS: 'all' }))).toBe('environment QM_CPUS = "all": expected a CPU list like 0-3,6 (or empty for all)');
  });

  it('wraps syntax errors, with the file name as given', () => {
    writeConfig('MaxNbProcessors = 8\n');
    expect(configError(() => loadSettings({ cwd: tmp, env: {} }))).toBe(
      'QMserv.cfg line 1: key "maxnbprocessors" before any [section] header',
    );
    writeConfig('[QMServer]\nnot a line\n', 'conf/a.cfg');
    expect(configError(() => loadSettings({ cwd: tmp, env: {}, configPath: 'conf/a.cfg' }))).toBe(
      'conf/a.cfg line 2: expected "key = value", "key : value" or "[section]", got "not a line"',
    );
  });
});

describe('parseBool', () => {
  it('accepts the ConfigParser forms', () => {
    for (const word of ['1', 'yes', 'TRUE', 'On', ' true ']) expect(parseBool(word)).toBe(true);
    for (const word of ['0', 'No', 'false', 'OFF']) expect(parseBool(word)).toBe(false);
    for (const word of ['', 'y', '2', 'vrai']) expect(parseBool(word)).toBeUndefined();
  });
});

describe('parseCpuList', () => {
  it('expands ranges, sorts and removes duplicates', () => {
    expect(parseCpuList('0-3,6')).toEqual([0, 1, 2, 3, 6]);
    expect(parseCpuList(' 6 , 2-3,3 ')).toEqual([2, 3, 6]);
    expect(parseCpuList('')).toEqual([]);
  });

  it('throws on bad syntax', () => {
    for (const bad of ['a', '1-', '-1', '3-1', '1,,2', '0-70000', '1.5']) {
      expect(() => parseCpuList(bad), bad).toThrow('expected a list like 0-3,6');
    }
  });
});
