/** Real mounts for tests (root only): tmpfs, bind and overlay in temp folders, all undone at the end. */
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

function run(cmd: string, args: string[]): void {
  const r = spawnSync(cmd, args, { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')}: ${r.stderr.trim() || `exit ${r.status}`}`);
}

/** Can this process mount (root, or CAP_SYS_ADMIN)? Tries a tmpfs in a temp folder. */
export function canMount(): boolean {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'qm-mount-probe-'));
  try {
    run('mount', ['-t', 'tmpfs', '-o', 'size=1m', 'tmpfs', dir]);
    run('umount', [dir]);
    return true;
  } catch {
    return false;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

export class Mounts {
  private readonly done: string[] = [];

  /** A small tmpfs at `target` (created if missing). */
  tmpfs(target: string): void {
    mkdirSync(target, { recursive: true });
    run('mount', ['-t', 'tmpfs', '-o', 'size=16m', 'tmpfs', target]);
    this.done.push(target);
  }

  /** `source` also seen at `target`: same filesystem, another mount. */
  bind(source: string, target: string): void {
    mkdirSync(target, { recursive: true });
    run('mount', ['--bind', source, target]);
    this.done.push(target);
  }

  /** An overlay at `target`, its layers in `layers` (a container's root filesystem is one). */
  overlay(layers: string, target: string): void {
    for (const d of ['lower', 'upper', 'work']) mkdirSync(path.join(layers, d), { recursive: true });
    mkdirSync(target, { recursive: true });
    const opts = `lowerdir=${layers}/lower,upperdir=${layers}/upper,workdir=${layers}/work`;
    run('mount', ['-t', 'overlay', 'overlay', '-o', opts, target]);
    this.done.push(target);
  }

  /** Undoes every mount, last first; lazily, so a process still inside cannot keep one alive. */
  unmountAll(): void {
    for (const target of this.done.splice(0).reverse()) spawnSync('umount', ['-l', target]);
  }
}
