/**
 * Events from QM_qJobs (watch_mode = events): the name of each entry that
 * appears, changes or leaves directly in the folder, from inotify (fs.watch)
 * and nothing else. The folder is never re-read here: with thousands of
 * queued jobs, a watcher that re-reads and stats every entry on each change
 * (chokidar does) costs more than running the jobs. Events lost (an inotify
 * overflow, a folder deleted and made again) are made up by the ingest's
 * periodic rescan, which also calls arm() to watch the folder anew.
 */
import { promises as fs, watch, type FSWatcher } from 'node:fs';

export class QueueWatcher {
  private watcher: FSWatcher | undefined;
  /** inode and birth time of the folder watched: others mean it was deleted and made again (inodes get reused) */
  private identity = '';

  /**
   * @param onName called with the entry's name, or undefined when the
   *   system did not say which entry (then the whole folder must be looked at)
   */
  constructor(
    private readonly dir: string,
    private readonly onName: (name: string | undefined) => void,
    private readonly onError: (err: Error) => void,
  ) {}

  /** Watches the folder, unless the watcher in place still sees it; false when it cannot. */
  async arm(): Promise<boolean> {
    let identity: string;
    try {
      const stat = await fs.stat(this.dir);
      identity = `${stat.ino}:${stat.birthtimeMs}`;
    } catch {
      this.close(); // the folder is gone: the rescan says so, and a later arm() watches the new one
      return false;
    }
    if (this.watcher && identity === this.identity) return true;
    try {
      this.close();
      const watcher = watch(this.dir, (_event, name) => this.onName(name ?? undefined));
      watcher.on('error', (err: Error) => {
        if (this.watcher === watcher) this.close();
        this.onError(err);
      });
      this.watcher = watcher;
      this.identity = identity;
      return true;
    } catch (err) {
      this.onError(err as Error);
      return false;
    }
  }

  close(): void {
    this.watcher?.close();
    this.watcher = undefined;
  }
}
