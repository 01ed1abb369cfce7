/**
 * Issue 6 point 8: bad configuration through the real `qm` binary — every
 * key of SPEC §5 with a wrong value, the environment overrides, a missing or
 * unreadable file, an unusable QM_FOLDER. Each gives one line naming what is
 * wrong, exit code 2, and touches nothing (no folder made, no Redis started).
 */
import { afterAll, describe, it, type ExpectStatic } from 'vitest';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { runQm } from '../helpers/qm.js';

const base = mkdtempSync(path.join(os.tmpdir(), 'qm-badcfg-'));
chmodSync(base, 0o755);
const NOBODY = 65534;

/** [section, key, bad value, what the message must also say] */
const BAD_VALUES: [string, string, string, RegExp][] = [
  ['QMServer', 'QM_FOLDER', '', /expected a folder path/],
  ['QMServer', 'MaxNbProcessors', '0', /expected an integer >= 1/],
  ['QMServer', 'MaxNbProcessors', 'eight', /expected an integer >= 1/],
  ['QMServer', 'MaxNbProcessors', '2.5', /expected an integer >= 1/],
  ['QMServer', 'launch_type', 'sometimes', /expected blocking or non-blocking/],
  ['QMServer', 'job_file', 'job.txt', /expected a file name ending in \.cfg or \.xml/],
  ['QMServer', 'job_file', '../up.cfg', /expected a file name/],
  ['QMServer', 'MailActive', 'perhaps', /expected true or false/],
  ['QMServer', 'Debug', 'verbose', /expected true or false/],
  ['QMServer', 'redis_url', 'http://localhost:6379', /expected empty, redis:\/\//],
  ['QMServer', 'redis_url', 'redis://', /expected empty, redis:\/\//],
  ['QMServer', 'settle_time', '-1', /expected a number of seconds >= 0/],
  ['QMServer', 'settle_time', 'two', /expected a number of seconds >= 0/],
  ['QMServer', 'watch_mode', 'inotify', /expected events or polling/],
  ['QMServer', 'poll_interval', '0', /expected a number of seconds > 0/],
  ['QMServer', 'pin_cpus', 'sometimes', /expected true, false or auto/],
  ['QMServer', 'cpus', '3-1', /expected a CPU list like 0-3,6/],
  ['QMServer', 'cpus', 'all', /expected a CPU list/],
  ['QMServer', 'kill_grace', '-5', /expected a number of seconds >= 0/],
  ['QMServer', 'on_worker_loss', 'retry', /expected lost\+found or requeue/],
  ['QMServer', 'keep_done', '-1', /expected an integer >= 0/],
  ['QMServer', 'shutdown', 'now', /expected wait or requeue/],
  ['QMServer', 'worker_name', '', /expected a non-empty name/],
  ['WEB_QMserver', 'Host', '', /expected a host name or address/],
  ['WEB_QMserver', 'The_Port', '0', /expected an integer from 1 to 65535/],
  ['WEB_QMserver', 'The_Port', '70000', /expected an integer from 1 to 65535/],
  ['WEB_QMserver', 'The_Port', 'http', /expected an integer from 1 to 65535/],
  ['WEB_QMserver', 'Refresh_Rate', '0', /expected a number of seconds > 0/],
  ['WEB_QMserver', 'Display_details', 'some', /expected true or false/],
  ['WEB_QMserver', 'Delete_Jobs', '2', /expected true or false/],
  ['WEB_QMserver', 'Licence_to_kill', 'licensed', /expected true or false/],
  ['WEB_QMserver', 'Debug', 'loud', /expected true or false/],
  ['Mail', 'smtp_url', 'mail.example.org:25', /expected empty or an smtp:\/\/ or smtps:\/\/ URL/],
  ['Mail', 'from', '', /expected a sender address/],
];

/** [variable, bad value] */
const BAD_ENV: [string, string][] = [
  ['QM_MAX_NB_PROCESSORS', 'many'],
  ['QM_REDIS_URL', 'ftp://host'],
  ['QM_PORT', '99999'],
  ['QM_SMTP_URL', 'smtp'],
  ['QM_CPUS', 'z'],
];

/** A config in its own folder; QM_FOLDER (QM) does not exist yet. */
function configWith(label: string, section: string, line: string): { dir: string; cfg: string } {
  const dir = path.join(base, label.replace(/\W+/g, '_'));
  mkdirSync(dir);
  const server = section === 'QMServer' ? '' : '[QMServer]\nQM_FOLDER = QM\n\n';
  const folder = section === 'QMServer' && !line.startsWith('QM_FOLDER') ? 'QM_FOLDER = QM\n' : '';
  const cfg = path.join(dir, 'QMserv.cfg');
  writeFileSync(cfg, `${server}[${section}]\n${folder}${line}\n`);
  return { dir, cfg };
}

function expectOneLine(expect: ExpectStatic, result: { code: number; stdout: string; stderr: string }, ...mentions: (string | RegExp)[]): void {
  expect(result.code).toBe(2);
  expect(result.stdout).toBe('');
  const lines = result.stderr.trimEnd().split('\n');
  expect(lines).toHaveLength(1);
  expect(lines[0]).toMatch(/^qm: /);
  for (const m of mentions) expect(lines[0]).toMatch(m);
}

function untouched(expect: ExpectStatic, dir: string): void {
  expect(existsSync(path.join(dir, 'QM'))).toBe(false);
}

function asNobody(args: string[], cwd: string): Promise<{ code: number; stdout: string; stderr: string }> {
  return runQm(args, {}, cwd, { uid: NOBODY, gid: NOBODY });
}

// each case is its own processes: they run side by side
describe.concurrent('bad configuration: one line, exit 2, nothing touched', () => {
  afterAll(() => rmSync(base, { recursive: true, force: true }));

  it.for(BAD_VALUES.map(([s, k, v, m]) => [`[${s}] ${k} = ${JSON.stringify(v)}`, s, k, v, m] as const))(
    '%s',
    async ([label, section, key, value, expected], { expect }) => {
      const { dir, cfg } = configWith(label, section, `${key} = ${value}`);
      // every role reads the configuration the same way first; `worker` is checked once below
      const result = await runQm(['start', '-c', cfg]);
      expectOneLine(expect, result, `[${section}] ${key}`, `line `, JSON.stringify(value), expected);
      untouched(expect, dir);
    },
  );

  it.for(BAD_ENV)('environment %s = %s', async ([variable, value], { expect }) => {
    const { dir, cfg } = configWith(`env ${variable}`, 'QMServer', 'Debug = false');
    const result = await runQm(['start', '-c', cfg], { [variable]: value });
    expectOneLine(expect, result, `environment ${variable}`, JSON.stringify(value));
    untouched(expect, dir);
  });

  it('qm worker and qm ingest refuse a bad value the same way', async ({ expect }) => {
    const { dir, cfg } = configWith('roles', 'QMServer', 'MaxNbProcessors = none');
    for (const role of ['worker', 'ingest']) expectOneLine(expect, await runQm([role, '-c', cfg]), /MaxNbProcessors = "none"/);
    untouched(expect, dir);
  });

  it('a config file given with -c that does not exist, or is a folder', async ({ expect }) => {
    const missing = await runQm(['start', '-c', path.join(base, 'nowhere.cfg')]);
    expectOneLine(expect, missing, /config file .*nowhere\.cfg: not found/);
    const folder = await runQm(['start', '-c', base]);
    expectOneLine(expect, folder, /config file .*: is a folder/);
  });

  it('a config file QM may not read', async ({ expect }) => {
    const { dir, cfg } = configWith('unreadable', 'QMServer', 'Debug = false');
    chmodSync(dir, 0o755);
    chmodSync(cfg, 0o600);
    const result = await asNobody(['start', '-c', cfg], dir);
    expectOneLine(expect, result, /config file .*QMserv\.cfg: .*permission denied/i);
    untouched(expect, dir);
  });

  it('a QM_FOLDER QM may not write, or that is a file', async ({ expect }) => {
    const { dir, cfg } = configWith('unwritable', 'QMServer', 'Debug = false');
    chmodSync(dir, 0o755);
    const result = await asNobody(['start', '-c', cfg], dir);
    expectOneLine(expect, result, /QM_FOLDER .*QM is not usable: .*permission denied/i);
    untouched(expect, dir);

    const other = configWith('a file', 'QMServer', 'Debug = false');
    writeFileSync(path.join(other.dir, 'QM'), 'a file, not a folder\n');
    expectOneLine(expect, await runQm(['start', '-c', other.cfg]), /QM_FOLDER .*QM is not usable/);
  });

  it('an unknown command or option: exit 2, the first line names it', async ({ expect }) => {
    for (const [args, named] of [[['frobnicate'], /frobnicate/], [['start', '--bogus'], /--bogus/]] as const) {
      const result = await runQm([...args]);
      expect(result.code).toBe(2);
      expect(result.stderr.split('\n')[0]).toMatch(named);
    }
  });

  it('separate roles without redis_url: one line, exit 2', async ({ expect }) => {
    const { dir, cfg } = configWith('no redis url', 'QMServer', 'Debug = false');
    for (const role of ['worker', 'ingest']) expectOneLine(expect, await runQm([role, '-c', cfg]), /redis_url is empty/);
    untouched(expect, dir);
  });
});
