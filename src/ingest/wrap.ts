/**
 * A lone `NAME.sh` dropped in QM_qJobs becomes the job folder `NAME/`
 * holding it (SPEC §2, shell mode). The folder is assembled under a hidden
 * name and renamed into place, so it appears complete.
 */
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { exists, type Layout } from '../core/folders.js';

export type WrapResult = { ok: true; folder: string } | { ok: false; reason: string };

export async function wrapLoneScript(layout: Layout, fileName: string): Promise<WrapResult> {
  const base = fileName.slice(0, -'.sh'.length);
  if (base === '') return { ok: false, reason: 'a script named ".sh" has no job name' };
  const target = path.join(layout.queued, base);
  if (await exists(target)) return { ok: false, reason: `a job folder named ${base} is already in QM_qJobs` };
  const holder = await fs.mkdtemp(path.join(layout.queued, `.${base}.wrap-`));
  await fs.rename(path.join(layout.queued, fileName), path.join(holder, fileName));
  await fs.rename(holder, target);
  return { ok: true, folder: target };
}
