/**
 * The jobs' temporary folders (TMPDIR, SLURM_TMPDIR: SPEC §9), one per run,
 * under `$TMPDIR/qm-jobs-UID` (mode 0711: a job may not add nor rename
 * entries there). Making a folder and removing it costs ~0.4 ms on ext4
 * (a block allocated, then freed), more than all else QM does with the
 * filesystem for a job; most jobs leave theirs empty. So an empty folder,
 * still the private folder it was made (not replaced, its mode 0700, its
 * owner the one it was made for), is renamed for the next run of the same
 * user instead; anything else is removed.
 */
import { chownSync, lstatSync, mkdirSync, mkdtempSync, readdirSync, renameSync, rmSync, rmdirSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

interface Owner {
  uid: number;
  gid: number;
}

/** Empty folders kept per user: enough for the runs that end together. */
const KEPT_PER_OWNER = 16;

export class TmpDirs {
  /** empty folders ready for a next run, by `uid:gid` */
  private readonly free = new Map<string, string[]>();
  private readonly ownerOf = new Map<string, Owner | undefined>();

  constructor(private readonly base = path.join(os.tmpdir(), `qm-jobs-${process.getuid?.() ?? 'u'}`)) {}

  /** A fresh, empty folder for the run `id` of a job, the user's it runs as (this process's when no owner). */
  take(id: string, owner?: Owner): string {
    const kept = this.free.get(keyOf(owner))?.pop();
    const dir = (kept && this.renamed(kept, id)) || this.made(id, owner);
    this.ownerOf.set(dir, owner);
    return dir;
  }

  /** The run is over: its folder is kept for the next run when it is empty, else removed. */
  give(dir: string): void {
    const owner = this.ownerOf.get(dir);
    this.ownerOf.delete(dir);
    const kept = this.free.get(keyOf(owner)) ?? [];
    if (kept.length < KEPT_PER_OWNER && isUntouched(dir, owner)) {
      kept.push(dir);
      this.free.set(keyOf(owner), kept);
      return;
    }
    try {
      rmdirSync(dir);
    } catch {
      rmSync(dir, { recursive: true, force: true });
    }
  }

  /** Removes the folders kept for later runs. */
  close(): void {
    for (const dir of [...this.free.values()].flat()) rmSync(dir, { recursive: true, force: true });
    this.free.clear();
  }

  /** undefined when it is gone (a cleaner of the temp folder took it) */
  private renamed(dir: string, id: string): string | undefined {
    // the random part of its first name stays: unique among this worker's folders
    const target = path.join(this.base, `${id}-${path.basename(dir).slice(path.basename(dir).lastIndexOf('-') + 1)}`);
    try {
      renameSync(dir, target);
      return target;
    } catch {
      return undefined;
    }
  }

  private made(id: string, owner: Owner | undefined): string {
    let dir: string;
    try {
      dir = mkdtempSync(path.join(this.base, `${id}-`));
    } catch (err) {
      // the first job of this worker, or the base was cleaned away: made once, not per job
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
      mkdirSync(this.base, { recursive: true, mode: 0o711 });
      dir = mkdtempSync(path.join(this.base, `${id}-`));
    }
    if (owner) chownSync(dir, owner.uid, owner.gid);
    return dir;
  }
}

function keyOf(owner: Owner | undefined): string {
  return owner ? `${owner.uid}:${owner.gid}` : '';
}

/** Still the empty, private folder it was made: a directory (not a link), mode 0700, its owner's, with nothing in it. */
function isUntouched(dir: string, owner: Owner | undefined): boolean {
  try {
    const stat = lstatSync(dir);
    const uid = owner?.uid ?? process.getuid?.();
    return stat.isDirectory() && (stat.mode & 0o7777) === 0o700 && stat.uid === uid && readdirSync(dir).length === 0;
  } catch {
    return false;
  }
}
