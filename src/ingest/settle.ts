/**
 * When is a dropped folder complete? When nothing in its tree has changed
 * for `settle_time` seconds (SPEC §4): the newest mtime of any entry, the
 * folder itself included (creating or renaming an entry inside a folder
 * touches the folder), is that old. A folder moved in whole with `mv` keeps
 * its old times and is ready at once; one being copied is not.
 */
import { promises as fs, type Stats } from 'node:fs';
import path from 'node:path';

/**
 * Stop walking huge trees there: the newest change among the entries seen
 * stands for the tree (a tree that big is rarely still being copied when its
 * first MAX_ENTRIES entries and its top folder have been still for settle_time).
 */
const MAX_ENTRIES = 100_000;

/** What a look at an entry's tree found: what settling needs, and what the admission checks reuse. */
export interface TreeLook {
  /** the newest mtime (ms) in the tree */
  newest: number;
  /** the entry itself (lstat) */
  top: Stats;
  /** the names in it, when it is a folder QM may read */
  names?: string[];
}

/** Looks at the tree, without following symlinks. */
export async function lookAtTree(root: string): Promise<TreeLook> {
  const top = await fs.lstat(root);
  let newest = top.mtimeMs;
  if (!top.isDirectory()) return { newest, top };
  let names: string[] | undefined;
  const look = (): TreeLook => ({ newest, top, ...(names && { names }) });
  let seen = 0;
  const pending = [root];
  while (pending.length > 0) {
    const dir = pending.pop()!;
    let entries;
    try {
      entries = await fs.readdir(dir, { withFileTypes: true });
    } catch {
      continue; // unreadable: the descriptor check will say so
    }
    if (dir === root) names = entries.map((e) => e.name);
    for (const entry of entries) {
      if (++seen > MAX_ENTRIES) return look();
      const full = path.join(dir, entry.name);
      try {
        const st = await fs.lstat(full);
        if (st.mtimeMs > newest) newest = st.mtimeMs;
        if (entry.isDirectory()) pending.push(full);
      } catch {
        // removed while we looked: the tree is changing
        newest = Date.now();
        return look();
      }
    }
  }
  return look();
}

/**
 * Tracks one folder's newest change across checks. It is settled when its
 * newest change is `settle` old, or when that newest change has stayed the same
 * for `settle` (a future mtime from a skewed clock on a network share).
 */
export class SettleTracker {
  private lastNewest = Number.NaN;
  private sameSince = 0;

  /** Milliseconds still to wait (0 = settled). */
  remaining(newest: number, settleMs: number, now = Date.now()): number {
    if (newest !== this.lastNewest) {
      this.lastNewest = newest;
      this.sameSince = now;
    }
    const byAge = settleMs - (now - newest);
    const byObservation = settleMs - (now - this.sameSince);
    return Math.max(0, Math.min(byAge, byObservation));
  }
}
