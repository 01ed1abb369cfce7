/** Issue 5 point 3: --help everywhere, one-line errors, and a first session: qm init, qm start, qm submit --wait. */
import { describe, expect, it } from 'vitest';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { runQm, startQm } from '../helpers/qm.js';
import { writeSource } from '../helpers/cli.js';

const COMMANDS = ['init', 'start', 'ingest', 'worker', 'submit', 'status', 'logs', 'cancel', 'stats'];

describe('the qm command line', () => {
  it('has --help for itself and every command', async () => {
    const top = await runQm(['--help']);
    expect(top.code).toBe(0);
    for (const command of COMMANDS) expect(top.stdout).toMatch(new RegExp(`\\n  ${command}\\b`));
    for (const command of COMMANDS) {
      const { code, stdout } = await runQm([command, '--help']);
      expect(code, command).toBe(0);
      expect(stdout).toMatch(new RegExp(`^Usage: qm ${command}\\b`));
    }
  });

  it('says what is wrong in one line, exit 2 for usage and configuration errors', async () => {
    const cases: [string[], RegExp][] = [
      [['frobnicate'], /^qm: unknown command 'frobnicate'/],
      [['status', '--colour'], /^qm: unknown option '--colour'/],
      [['logs'], /^qm: missing required argument 'name'/],
      [['status', '-c', '/nonexistent/QMserv.cfg'], /^qm: config file \/nonexistent\/QMserv\.cfg: not found\n$/],
      [['submit', 'job', '-c', '/nonexistent/QMserv.cfg'], /^qm: config file \/nonexistent\/QMserv\.cfg: not found\n$/],
    ];
    for (const [args, message] of cases) {
      const { code, stderr } = await runQm(args);
      expect(code, args.join(' ')).toBe(2);
      expect(stderr.split('\n')).toHaveLength(2);
      expect(stderr).toMatch(message);
    }
  });

  it('qm init, qm start, qm submit --wait, qm status: a first session', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'qm-init-'));
    try {
      const init = await runQm(['init', dir]);
      expect(init.code).toBe(0);
      const cfg = path.join(dir, 'QMserv.cfg');
      expect(readFileSync(cfg, 'utf8')).toMatch(/^\[QMServer\]\n# The parameters of the queue manager/);
      for (const folder of ['QM_qJobs', 'QM_Jobs', 'QM_dJobs', 'QM_lost+found']) expect(existsSync(path.join(dir, 'QM', folder))).toBe(true);
      const again = await runQm(['init', dir]);
      expect(again).toMatchObject({ code: 1, stderr: `qm: ${cfg} already exists: not overwritten\n` });

      const qm = startQm(['start', '-c', cfg]);
      try {
        await qm.waitForOutput(/QM running on/);
        const src = await writeSource({ base: dir }, 'hello', { 'hello.sh': '#!/bin/bash\necho "hello from $QM_JOB_NAME"\n' });
        const submitted = await runQm(['submit', src, '--wait', '-c', cfg]);
        expect(submitted.stdout).toMatch(/^hello\nhello ended: code 0 → QM_dJobs\/\S+-hello\n$/);
        expect(submitted.code).toBe(0);
        const logs = await runQm(['logs', 'hello', '-c', cfg]);
        expect(logs.stdout).toContain('hello from hello\n');
        expect((await runQm(['status', '-c', cfg])).stdout).toMatch(/\nDONE \(1\)\n.*\n  hello +\S+ +code 0 /);
      } finally {
        expect(await qm.stop()).toBe(0);
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
