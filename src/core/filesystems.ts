/**
 * What the QM folder sits on (SPEC §1, §3, §4): jobs move between QM_qJobs,
 * QM_Jobs, QM_dJobs and QM_lost+found by rename(2), which is atomic only
 * within one mount of one filesystem.
 * 1. Refuses a layout whose job folders are on different filesystems or
 *    different mounts (a rename between them fails with EXDEV).
 * 2. Names the filesystem type of the QM folder, so a role can tell a network
 *    or overlay mount (where file events from other hosts never arrive).
 */
import { promises as fs, readFileSync } from 'node:fs';
import type { Layout } from './folders.js';
import type { Logger } from './log.js';
import type { WatchMode } from './settings-types.js';

export interface Mount {
  /** mount id from /proc/self/mountinfo: two bind mounts of one filesystem differ here */
  id: number;
  /** the mounted filesystem's own path that appears at mountPoint (a cgroup's path, for a cgroup mount) */
  root: string;
  mountPoint: string;
  fsType: string;
  source: string;
  /** per-filesystem options (for a cgroup v1 mount: its controllers, e.g. `rw,cpuset`) */
  superOptions: string[];
}

/** Filesystem types whose changes made elsewhere raise no inotify event here. */
const NETWORK_TYPES = /^(nfs4?|cifs|smb3?|smbfs|9p|ceph|glusterfs|lustre|gpfs|beegfs|afs|davfs|fuse\..*|fuse|virtiofs|overlay)$/;

/** /proc/self/mountinfo lines, in mount order; empty where there is none (not Linux). */
export function readMounts(text?: string): Mount[] {
  let source = text;
  if (source === undefined) {
    try {
      source = readFileSync('/proc/self/mountinfo', 'utf8');
    } catch {
      return [];
    }
  }
  const mounts: Mount[] = [];
  for (const line of source.split('\n')) {
    // id parent major:minor root mountpoint options [optional...] - fstype source superoptions
    const fields = line.split(' ');
    const dash = fields.indexOf('-');
    if (fields.length < 5 || dash < 0) continue;
    mounts.push({
      id: Number(fields[0]),
      root: unescapeOctal(fields[3]!),
      mountPoint: unescapeOctal(fields[4]!),
      fsType: fields[dash + 1] ?? '',
      source: unescapeOctal(fields[dash + 2] ?? ''),
      superOptions: (fields[dash + 3] ?? '').split(','),
    });
  }
  return mounts;
}

/** mountinfo writes space, tab, newline and backslash as \040 \011 \012 \134 */
function unescapeOctal(text: string): string {
  return text.replace(/\\([0-7]{3})/g, (_, code: string) => String.fromCharCode(parseInt(code, 8)));
}

/** The mount a (real, absolute) path lives on: the longest mount point above it, the last one mounted there. */
export function mountOf(realPath: string, mounts: Mount[]): Mount | undefined {
  let best: Mount | undefined;
  for (const m of mounts) {
    const inside = realPath === m.mountPoint || realPath.startsWith(m.mountPoint === '/' ? '/' : `${m.mountPoint}/`);
    if (inside && (!best || m.mountPoint.length >= best.mountPoint.length)) best = m;
  }
  return best;
}

/** True for NFS, SMB, other network filesystems, FUSE and overlay. */
export function isNetworkOrOverlay(mount: Mount | undefined): boolean {
  return mount !== undefined && NETWORK_TYPES.test(mount.fsType);
}

/** A layout QM cannot run on, with the one line saying why. */
export class StorageError extends Error {}

/**
 * Throws a StorageError when the four job folders are not all on one mount
 * of one filesystem. Compares st_dev, and the mount ids where
 * /proc/self/mountinfo exists (a bind mount keeps st_dev but still gives EXDEV).
 */
export async function checkSameFilesystem(layout: Layout, mounts: Mount[] = readMounts()): Promise<void> {
  const folders: [string, string][] = [
    ['QM_qJobs', layout.queued],
    ['QM_Jobs', layout.running],
    ['QM_dJobs', layout.done],
    ['QM_lost+found', layout.lost],
  ];
  const seen = await Promise.all(
    folders.map(async ([label, dir]) => {
      const real = await fs.realpath(dir);
      const stat = await fs.stat(real);
      const mount = mountOf(real, mounts);
      return { label, real, dev: stat.dev, where: mount ? `${mount.fsType} ${mount.source} on ${mount.mountPoint}` : `device ${stat.dev}`, mount };
    }),
  );
  const first = seen[0]!;
  const odd = seen.find((s) => s.dev !== first.dev || (s.mount && first.mount && s.mount.id !== first.mount.id));
  if (!odd) return;
  throw new StorageError(
    `${odd.label} (${odd.real}: ${odd.where}) is not on the filesystem of ${first.label} (${first.real}: ${first.where}): ` +
      'jobs move between the QM folders by rename, which works only within one filesystem; put all four on one mount',
  );
}

/** The mount holding the QM folder, or undefined where mountinfo is not readable. */
export async function mountOfFolder(folder: string, mounts: Mount[] = readMounts()): Promise<Mount | undefined> {
  return mountOf(await fs.realpath(folder), mounts);
}

/**
 * Start-of-role check: refuses split folders (StorageError); on a network or
 * overlay mount, tells the role watching QM_qJobs with events (`watch`;
 * undefined: this process does not watch) to poll.
 * No automatic switch: events still see local drops, and the periodic rescan
 * finds the others, only later; the user picks the trade-off in QMserv.cfg.
 */
export async function checkStorage(layout: Layout, watch: WatchMode | undefined, log: Logger): Promise<void> {
  const mounts = readMounts();
  await checkSameFilesystem(layout, mounts);
  const mount = await mountOfFolder(layout.queued, mounts);
  if (!watch || watch === 'polling' || !mount || !isNetworkOrOverlay(mount)) return;
  const shared = mount.fsType === 'overlay'
    ? 'an overlay (a container layer is not shared: mount a volume there)'
    : `${mount.fsType} (${mount.source})`;
  log.warn(
    `QM_qJobs is on ${shared}: folders dropped from other hosts raise no file events here and are found only by the rescan; ` +
      'set watch_mode = polling in [QMServer]',
  );
}
