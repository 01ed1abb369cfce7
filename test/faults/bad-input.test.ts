/**
 * Issue 6 point 7: the bad-input corpus of test/fixtures/bad (manifest.json).
 * Every case ends with a clear reason — QM_lost+found with QM_REASON.txt, or
 * QM_dJobs with its exit code, or (what QM may not move) left in place and
 * reported once — its folder intact, and QM still serving the next good job.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFileSync, spawn } from 'node:child_process';
import { promises as fs, chmodSync, cpSync, readFileSync, readdirSync, lstatSync, statSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { QM_BIN, QmProcess, doneEntries, dropJob, makeQmDir, startQm, waitDone, type QmDir } from '../helpers/qm.js';
import { waitFor } from '../helpers/wait.js';
import { jobProcesses, lostOf } from './support.js';
import { MAX_JOB_NAME_BYTES } from '../../src/core/folders.js';

const FIXTURES = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../fixtures/bad');
const NOBODY = 65534;

interface Case {
  case: string;
  name?: string;
  from?: string;
  make?: string;
  qm?: 'cfg' | 'xml' | 'nonroot';
  expect: 'lost' | 'done' | 'refused';
  reason?: string;
  code?: number;
  runs?: number;
  leftovers?: boolean;
}

const cases = (JSON.parse(readFileSync(path.join(FIXTURES, 'manifest.json'), 'utf8')) as { cases: Case[] }).cases;
const nameOf = (c: Case) => c.name ?? c.case;

/** Relative paths of everything in a tree (symlinks not followed), QM's own files left out. */
function treeOf(root: string, skip = ['process.log', 'QM_REASON.txt']): string[] {
  const out: string[] = [];
  const walk = (dir: string, rel: string) => {
    for (const e of readdirSync(dir, { withFileTypes: true })) {
      if (rel === '' && skip.includes(e.name)) continue;
      out.push(path.join(rel, e.name));
      if (e.isDirectory()) walk(path.join(dir, e.name), path.join(rel, e.name));
    }
  };
  walk(root, '');
  return out.sort();
}

/** Builds the entry of a case at `target` (outside QM_qJobs); returns the tree expected to survive. */
async function build(c: Case, target: string, qm: QmDir): Promise<string[]> {
  const from = path.join(FIXTURES, 'cases', c.from ?? c.case);
  switch (c.make) {
    case undefined:
    case 'root-owned':
    case 'unreadable-descriptor':
    case 'unlistable-folder':
      cpSync(from, target, { recursive: true });
      break;
    case 'log-folder':
      // made here: a folder named process.log is a name git is told to ignore
      cpSync(from, target, { recursive: true });
      await fs.mkdir(path.join(target, 'process.log'));
      await fs.writeFile(path.join(target, 'process.log', 'notes.txt'), 'a folder where QM writes the job\'s log\n');
      break;
    case 'unwritable-log':
      cpSync(from, target, { recursive: true });
      await fs.writeFile(path.join(target, 'process.log'), 'a log the job user may not write\n');
      break;
    case 'empty-folder':
      await fs.mkdir(target);
      break;
    case 'binary-descriptor':
      await fs.mkdir(target);
      await fs.writeFile(path.join(target, 'proc_config.cfg'), Buffer.from([0x5b, 0x51, 0x4d, 0, 0xff, 0xfe, 1, 2, 3, 0x0a]));
      break;
    case 'huge-descriptor':
      await fs.mkdir(target);
      await fs.writeFile(path.join(target, 'proc_config.cfg'), '[QMOptions]\nscript = echo hi\n' + '# padding\n'.repeat(1_000_000));
      break;
    case 'descriptor-symlink-outside':
      await fs.mkdir(target);
      await fs.symlink('/etc/hostname', path.join(target, 'proc_config.cfg'));
      break;
    case 'descriptor-broken-symlink':
      await fs.mkdir(target);
      await fs.symlink('nowhere.cfg', path.join(target, 'proc_config.cfg'));
      break;
    case 'descriptor-fifo':
      await fs.mkdir(target);
      execFileSync('mkfifo', [path.join(target, 'proc_config.cfg')]);
      break;
    case 'plain-file':
      await fs.writeFile(target, 'not a job\n');
      return ['notes.txt'];
    case 'top-level-symlink': {
      const outside = path.join(qm.base, 'outside-job');
      cpSync(path.join(FIXTURES, 'cases', 'good-job'), outside, { recursive: true });
      await fs.symlink(outside, target);
      return ['top-level-symlink'];
    }
    case 'lone-script':
      await fs.writeFile(target + '.sh', '#!/bin/bash\necho hello from a lone script\n', { mode: 0o755 });
      return ['hello.sh'];
    case 'twice':
      await fs.mkdir(target);
      await fs.writeFile(path.join(target, 'proc_config.cfg'), `[QMOptions]\nscript = sleep 1; echo run >> ${qm.base}/twice.runs\n`);
      break;
    case 'log-200mb':
      await fs.mkdir(target);
      await fs.writeFile(path.join(target, 'proc_config.cfg'), '[QMOptions]\nscript = yes 0123456789abcdefghijklmnopqrstuvwxyz | head -c 200000000\n');
      break;
    default:
      throw new Error(`unknown generator ${c.make}`);
  }
  return treeOf(target);
}

/** Ownership and modes for the QM that runs as nobody. */
function permissions(c: Case, target: string): void {
  if (c.make === 'root-owned') return;
  execFileSync('chown', ['-R', `${NOBODY}:${NOBODY}`, target]);
  if (c.make === 'unreadable-descriptor') chmodSync(path.join(target, 'proc_config.cfg'), 0o000);
  if (c.make === 'unlistable-folder') chmodSync(target, 0o333);
  if (c.make === 'unwritable-log') execFileSync('chown', ['root:root', path.join(target, 'process.log')]);
}

describe('the bad-input corpus', () => {
  const qms = {} as Record<'cfg' | 'xml' | 'nonroot', { qm: QmDir; proc: QmProcess }>;
  const expectedTree = new Map<string, string[]>();

  beforeAll(async () => {
    const common = { MaxNbProcessors: 4, kill_grace: 1 };
    const cfg = makeQmDir({ QMServer: common });
    const xml = makeQmDir({ QMServer: { ...common, job_file: 'infos.xml' } });
    const nonroot = makeQmDir({ QMServer: common });
    await fs.mkdir(nonroot.root);
    execFileSync('chown', ['-R', `${NOBODY}:${NOBODY}`, nonroot.base]);
    chmodSync(nonroot.base, 0o755);
    qms.cfg = { qm: cfg, proc: startQm(['start', '-c', cfg.cfg]) };
    qms.xml = { qm: xml, proc: startQm(['start', '-c', xml.cfg]) };
    const child = spawn(process.execPath, [QM_BIN, 'start', '-c', nonroot.cfg], {
      uid: NOBODY,
      gid: NOBODY,
      cwd: nonroot.base,
      env: { ...process.env, QM_LOG_LEVEL: 'debug', HOME: nonroot.base },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    qms.nonroot = { qm: nonroot, proc: new QmProcess(child) };
    for (const { proc } of Object.values(qms)) await proc.waitForOutput(/watching/);

    for (const c of cases) {
      const { qm } = qms[c.qm ?? 'cfg'];
      const staging = await fs.mkdtemp(path.join(qm.base, '.stage-'));
      if (c.qm === 'nonroot') chmodSync(staging, 0o755);
      const target = path.join(staging, nameOf(c));
      expectedTree.set(c.case, await build(c, target, qm));
      if (c.qm === 'nonroot') permissions(c, target);
      const entry = c.make === 'lone-script' ? `${nameOf(c)}.sh` : nameOf(c);
      await fs.rename(path.join(staging, entry), path.join(qm.queued, entry));
      if (c.make === 'twice') {
        // the same name again while the first one runs
        await waitFor(() => readdirSync(qm.running).includes('twice'), { what: 'twice running' });
        await fs.mkdir(target);
        await fs.copyFile(path.join(qm.running, 'twice', 'proc_config.cfg'), path.join(target, 'proc_config.cfg'));
        await fs.rename(target, path.join(qm.queued, 'twice'));
      }
    }
  });

  afterAll(async () => {
    for (const { qm, proc } of Object.values(qms)) {
      expect(await proc.stop()).toBe(0);
      qm.cleanup();
    }
  });

  it(`holds at least 40 cases (${cases.length})`, () => {
    expect(cases.length).toBeGreaterThanOrEqual(40);
  });

  it.each(cases.map((c) => [c.case, c] as const))('%s', async (_label, c) => {
    const { qm, proc } = qms[c.qm ?? 'cfg'];
    const name = nameOf(c);
    if (c.expect === 'lost') {
      // a name too long for <ISO>-NAME is cut there
      const entry = await waitFor(() => lostOf(qm, name)[0] ?? lostOf(qm, name.slice(0, MAX_JOB_NAME_BYTES))[0], {
        what: `${JSON.stringify(name)} in QM_lost+found`,
      });
      const folder = path.join(qm.lost, entry);
      expect(readFileSync(path.join(folder, 'QM_REASON.txt'), 'utf8')).toMatch(new RegExp(c.reason!));
      expect(treeOf(folder)).toEqual(expectedTree.get(c.case));
      expect(doneEntries(qm, name)).toEqual([]);
    } else if (c.expect === 'done') {
      const runs = c.runs ?? 1;
      await waitFor(() => doneEntries(qm, name).length >= runs, { what: `${JSON.stringify(name)} in QM_dJobs`, timeout: 40_000 });
      for (const entry of doneEntries(qm, name)) {
        const folder = path.join(qm.done, entry);
        const log = readFileSync(path.join(folder, 'process.log'), 'utf8');
        expect(log.trimEnd().split('\n').at(-1)).toMatch(new RegExp(`^Job finished at: .* with code ${c.code}$`));
        expect(treeOf(folder)).toEqual(expectedTree.get(c.case));
        if (c.leftovers) expect(log).toMatch(/QM killed [12] process\(es\) the job left running/);
      }
      if (c.make === 'log-200mb') expect(statSync(path.join(qm.done, doneEntries(qm, name)[0]!, 'process.log')).size).toBeGreaterThan(200_000_000);
      if (c.make === 'twice') expect(readFileSync(path.join(qm.base, 'twice.runs'), 'utf8')).toBe('run\nrun\n');
      expect(doneEntries(qm, name)).toHaveLength(runs);
    } else {
      const said = new RegExp(`${name}: left in QM_qJobs: .*${c.reason}`);
      await proc.waitForOutput(said);
      expect(lstatSync(path.join(qm.queued, name)).isDirectory()).toBe(true);
      expect(treeOf(path.join(qm.queued, name))).toEqual(expectedTree.get(c.case));
    }
  });

  it('each QM still serves the next good job, reports a refusal once, and no job process is left', async () => {
    for (const [kind, { qm, proc }] of Object.entries(qms)) {
      if (kind === 'xml') await dropJob(qm, 'next-good', { 'infos.xml': '<PARAMETER><script value="echo next"/></PARAMETER>' });
      else {
        const staging = await fs.mkdtemp(path.join(qm.base, '.stage-'));
        cpSync(path.join(FIXTURES, 'cases', 'good-job'), path.join(staging, 'next-good'), { recursive: true });
        execFileSync('chown', ['-R', `${NOBODY}:${NOBODY}`, staging]);
        await fs.rename(path.join(staging, 'next-good'), path.join(qm.queued, 'next-good'));
      }
      await waitDone(qm, 'next-good');
      await waitFor(() => jobProcesses(qm).length === 0, { what: 'no job process left' });
      for (const c of cases.filter((x) => x.expect === 'refused' && (x.qm ?? 'cfg') === kind)) {
        expect(proc.output.match(new RegExp(`${nameOf(c)}: left in QM_qJobs`, 'g'))).toHaveLength(1);
      }
    }
  });
});
