/**
 * For the command-line tests: a running `qm start` on a temp QM folder, `qm`
 * commands run against it, and job folders or scripts written outside the
 * QM folder the way a user keeps them before `qm submit`.
 */
import { promises as fs, readFileSync } from 'node:fs';
import path from 'node:path';
import { makeQmDir, runQm, startQm, type CfgSections, type QmDir, type QmProcess } from './qm.js';

export interface RunningQm {
  qm: QmDir;
  proc: QmProcess;
  /** runs `qm ARGS -c QMserv.cfg` to its end */
  qmRun(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }>;
  /** SIGTERM, the exit code, the temp folder removed */
  stop(): Promise<number>;
}

export async function startRunningQm(sections: CfgSections = {}): Promise<RunningQm> {
  const qm = makeQmDir(sections);
  const proc = startQm(['start', '-c', qm.cfg]);
  await proc.waitForOutput(/QM running on/);
  return {
    qm,
    proc,
    qmRun: (...args) => runQm([...args, '-c', qm.cfg]),
    stop: async () => {
      const code = await proc.stop();
      qm.cleanup();
      return code;
    },
  };
}

/** Writes a job folder (or, with one `*.sh` file and `asFile`, a script) under base/src; returns its path. */
export async function writeSource(qm: Pick<QmDir, 'base'>, name: string, files: Record<string, string>): Promise<string> {
  const dir = path.join(qm.base, 'src', name);
  for (const [file, content] of Object.entries(files)) {
    await fs.mkdir(path.dirname(path.join(dir, file)), { recursive: true });
    await fs.writeFile(path.join(dir, file), content, { mode: file.endsWith('.sh') ? 0o755 : 0o644 });
  }
  return dir;
}

/** Writes a lone script under base/src; returns its path. */
export async function writeScript(qm: Pick<QmDir, 'base'>, fileName: string, text: string): Promise<string> {
  const file = path.join(qm.base, 'src', fileName);
  await fs.mkdir(path.dirname(file), { recursive: true });
  await fs.writeFile(file, text, { mode: 0o755 });
  return file;
}

export function readLog(folder: string): string {
  return readFileSync(path.join(folder, 'process.log'), 'utf8');
}

/** Every entry of a folder, recursively, with its content: to prove an original untouched. */
export async function snapshot(dir: string): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const entry of await fs.readdir(dir, { recursive: true, withFileTypes: true })) {
    if (!entry.isFile()) continue;
    const full = path.join(entry.parentPath, entry.name);
    out[path.relative(dir, full)] = await fs.readFile(full, 'utf8');
  }
  return out;
}
