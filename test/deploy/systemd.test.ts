/**
 * Issue 17 point 6: the systemd units of deploy/. Each is a valid unit
 * (`systemd-analyze verify`, where installed) that runs its role with
 * KillMode=mixed, a TimeoutStopSec and Restart=on-failure; run as systemd
 * would run it (its ExecStart, Environment and WorkingDirectory; a stop is
 * SIGTERM to the main process alone), the worker lets its running job end
 * and exits 0 (no restart), and a bad configuration exits 2, which the unit
 * does not restart.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { TestRedis } from '../helpers/redis.js';
import { QmProcess, cfgDescriptor, dropJob, makeQmDir, waitDone, type QmDir } from '../helpers/qm.js';
import { REPO } from '../cluster/compose.js';

const DEPLOY = path.join(REPO, 'deploy');
/** Where the units expect the checkout, and the node they run. */
const INSTALL_DIR = '/opt/qm';
const NODE = '/usr/bin/node';

type Unit = Record<string, Record<string, string[]>>;

function parseUnit(text: string): Unit {
  const unit: Unit = {};
  let section = '';
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (!line || line.startsWith('#') || line.startsWith(';')) continue;
    const header = /^\[(.+)\]$/.exec(line);
    if (header) {
      section = header[1]!;
      unit[section] ??= {};
      continue;
    }
    const eq = line.indexOf('=');
    const key = line.slice(0, eq).trim();
    ((unit[section] ??= {})[key] ??= []).push(line.slice(eq + 1).trim());
  }
  return unit;
}

const one = (unit: Unit, key: string) => unit.Service?.[key]?.at(-1);

/** The unit's text with this checkout and this node in place of the installed paths. */
function mapped(text: string): string {
  return text.replaceAll(`${NODE} `, `${process.execPath} `).replaceAll(INSTALL_DIR, REPO);
}

/** Starts the unit's ExecStart as systemd would: its environment and working directory. */
function startUnit(file: string, env: Record<string, string>): QmProcess {
  const unit = parseUnit(mapped(readFileSync(path.join(DEPLOY, file), 'utf8')));
  const [command, ...args] = one(unit, 'ExecStart')!.split(/\s+/);
  const unitEnv = Object.fromEntries((unit.Service?.Environment ?? []).map((kv) => [kv.slice(0, kv.indexOf('=')), kv.slice(kv.indexOf('=') + 1)]));
  const child = spawn(command!, args, {
    cwd: one(unit, 'WorkingDirectory'),
    env: { PATH: process.env.PATH, QM_LOG_LEVEL: 'debug', ...unitEnv, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  return new QmProcess(child);
}

const UNITS = { 'qm-worker.service': 'worker', 'qm-ingest.service': 'ingest', 'qm-monitor.service': 'monitor' } as const;

describe('systemd units', () => {
  it('one per role, each stopping qm alone and waiting, restarted on failure', () => {
    expect(readdirSync(DEPLOY).filter((f) => f.endsWith('.service')).sort()).toEqual(Object.keys(UNITS).sort());
    for (const [file, role] of Object.entries(UNITS)) {
      const unit = parseUnit(readFileSync(path.join(DEPLOY, file), 'utf8'));
      expect(one(unit, 'ExecStart'), file).toBe(`${NODE} ${INSTALL_DIR}/dist/cli.js ${role}`);
      expect(one(unit, 'KillMode'), file).toBe('mixed');
      expect(one(unit, 'TimeoutStopSec'), file).toMatch(/^\d+(s|min|h)$/);
      expect(one(unit, 'Restart'), file).toBe('on-failure');
      expect(one(unit, 'RestartPreventExitStatus'), file).toBe('2');
      expect(unit.Install?.WantedBy, file).toEqual(['multi-user.target']);
    }
  });

  it('systemd-analyze verify finds nothing to say', (ctx) => {
    if (spawnSync('systemd-analyze', ['--version']).status !== 0) return ctx.skip();
    const dir = mkdtempSync(path.join(os.tmpdir(), 'qm-units-'));
    try {
      for (const file of Object.keys(UNITS)) writeFileSync(path.join(dir, file), mapped(readFileSync(path.join(DEPLOY, file), 'utf8')));
      const r = spawnSync('systemd-analyze', ['verify', '--man=no', ...Object.keys(UNITS).map((f) => path.join(dir, f))], { encoding: 'utf8' });
      expect(r.stderr).toBe('');
      expect(r.status).toBe(0);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  describe('run as systemd runs them', () => {
    let redis: TestRedis;
    let qm: QmDir;
    beforeAll(async () => {
      redis = await TestRedis.start();
      qm = makeQmDir({ QMServer: { redis_url: redis.url, MaxNbProcessors: 2 } });
    });
    afterAll(async () => {
      qm?.cleanup();
      await redis?.stop();
    });

    it('stop (SIGTERM to qm alone): the running job ends by itself, each role exits 0, so no restart', async () => {
      const env = { QM_CONFIG: qm.cfg };
      const ingest = startUnit('qm-ingest.service', env);
      const worker = startUnit('qm-worker.service', env);
      try {
        await ingest.waitForOutput(/watching/);
        await worker.waitForOutput(/ready/);
        await dropJob(qm, 'long', { 'proc_config.cfg': cfgDescriptor({ script: 'sleep 1.5; echo finished' }) });
        await worker.waitForOutput(/long: started/);
        worker.signal('SIGTERM');
        ingest.signal('SIGTERM');
        expect(await worker.exited).toBe(0);
        expect(await ingest.exited).toBe(0);
        const log = readFileSync(path.join(await waitDone(qm, 'long'), 'process.log'), 'utf8');
        expect(log).toContain('finished');
        expect(log).toMatch(/with code 0/);
      } finally {
        for (const p of [ingest, worker]) if (p.child.exitCode === null) p.signal('SIGKILL');
      }
    });

    it('a bad configuration exits 2: RestartPreventExitStatus keeps systemd from restarting it in a loop', async () => {
      const bad = path.join(qm.base, 'bad.cfg');
      writeFileSync(bad, '[QMServer]\nMaxNbProcessors = many\n');
      for (const file of Object.keys(UNITS)) {
        const proc = startUnit(file, { QM_CONFIG: bad });
        expect(await proc.exited, file).toBe(2);
        expect(proc.output).toContain('MaxNbProcessors = "many"');
      }
    });
  });
});
