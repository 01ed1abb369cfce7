/**
 * Handlers of one job: its page, its JSON, one file (view or download), the
 * whole folder as a zip, and the next piece of process.log for the live tail.
 * Every file path goes through resolveInFolder: nothing outside the job folder.
 */
import { createReadStream, promises as fs } from 'node:fs';
import path from 'node:path';
import { readDescriptor } from '../../core/descriptor.js';
import { allowedActions } from '../actions.js';
import { NOTES, withJob, type MonitorContext } from '../context.js';
import { listFiles, looksBinary, readHead, resolveInFolder, zipFolder } from '../files.js';
import { readSlice } from '../../core/process-log.js';
import { filePage } from '../pages/file.js';
import { jobPage } from '../pages/job.js';
import type { JobView } from '../../core/read-model.js';
import { errorReply, htmlReply, jsonReply, type MonitorRequest, type Reply, type Route } from '../routes.js';

/** Bytes of process.log on the job page at first, and per live-tail request at most. */
const TAIL_BYTES = 32 * 1024;
const SLICE_BYTES = 256 * 1024;
/** A text file is shown up to this size; beyond, the page says so and offers the download. */
const VIEW_BYTES = 1024 * 1024;

async function descriptorOf(ctx: MonitorContext, view: JobView, folder: string | undefined): Promise<Record<string, string> | undefined> {
  const queued = view.state === 'queued' ? view.job : view.id ? (await ctx.model.store.job(view.id).catch(() => undefined))?.data : undefined;
  if (queued?.keys) return { ...(queued.keys.script === undefined ? { script: queued.script } : {}), ...queued.keys };
  if (!folder) return undefined;
  return readDescriptor(folder, ctx.jobFile).then(
    (d) => d.keys,
    () => undefined,
  );
}

function folderName(ctx: MonitorContext, folder: string | undefined): string {
  return folder ? path.relative(ctx.model.layout.root, folder) : '(outside QM_FOLDER: not shown)';
}

async function jobData(ctx: MonitorContext, view: JobView) {
  const folder = ctx.model.folderOf(view);
  const [descriptor, files, log] = await Promise.all([
    descriptorOf(ctx, view, folder),
    folder ? listFiles(folder) : Promise.resolve({ entries: [], truncated: false }),
    folder ? readSlice(path.join(folder, 'process.log'), -TAIL_BYTES, TAIL_BYTES).catch(() => undefined) : undefined,
  ]);
  return { folder, descriptor, files, log };
}

/** The text of a slice that starts inside the file, without its first (cut) line. */
function wholeLines(text: string, cut: boolean): string {
  return cut ? text.slice(text.indexOf('\n') + 1) : text;
}

export function jobRoutes(ctx: MonitorContext): Route[] {
  const page = withJob(ctx, async (req, view) => {
    const d = await jobData(ctx, view);
    const note = NOTES[req.query.get('note') ?? ''];
    const log = d.log && { text: wholeLines(d.log.text, d.log.start > 0), next: d.log.next, cut: d.log.start > 0 };
    const data = {
      view, folder: folderName(ctx, d.folder), descriptor: d.descriptor, files: d.files.entries, truncated: d.files.truncated,
      log, actions: allowedActions(ctx.policy, view), note, now: Date.now(), array: await ctx.model.arrayNamed(view.name, view),
    };
    return htmlReply(200, jobPage(data, req.nonce));
  });

  const api = withJob(ctx, async (_req, view) => {
    const d = await jobData(ctx, view);
    return jsonReply(200, {
      ...view, folder: folderName(ctx, d.folder), descriptor: d.descriptor, files: d.files.entries, truncated: d.files.truncated,
      actions: allowedActions(ctx.policy, view),
    });
  });

  const log = withJob(ctx, async (req, view) => {
    const folder = ctx.model.folderOf(view);
    const raw = req.query.get('offset');
    if (raw !== null && !/^\d{1,15}$/.test(raw)) return errorReply(req, 400, `offset=${raw}: expected a number of bytes >= 0`);
    const offset = raw === null ? -TAIL_BYTES : Number(raw);
    const slice = folder ? await readSlice(path.join(folder, 'process.log'), offset, SLICE_BYTES).catch(() => undefined) : undefined;
    const progress = view.state === 'running' ? view.progress : undefined;
    return jsonReply(200, { state: view.state, text: slice?.text ?? '', next: slice?.next ?? 0, size: slice?.size ?? 0, progress });
  });

  /** The real path of the file named by the rest of the URL, or a reply saying why not. */
  async function fileOf(req: MonitorRequest, view: JobView, rest: string[]): Promise<{ file: string; size: number } | Reply> {
    const folder = ctx.model.folderOf(view);
    const file = folder ? await resolveInFolder(folder, rest) : undefined;
    const stat = file ? await fs.stat(file).catch(() => undefined) : undefined;
    if (!file || !stat?.isFile()) return errorReply(req, 404, `no file ${rest.join('/')} in job ${view.name}`);
    return { file, size: stat.size };
  }

  const view = withJob(ctx, async (req, job, rest) => {
    const found = await fileOf(req, job, rest);
    if ('status' in found) return found;
    const { head, size } = await readHead(found.file, VIEW_BYTES);
    const text = looksBinary(head.subarray(0, 8192)) ? undefined : head.toString('utf8');
    return htmlReply(200, filePage({ view: job, relPath: rest.join('/'), size, text, cut: size > head.length }, req.nonce));
  });

  const download = withJob(ctx, async (req, job, rest) => {
    const found = await fileOf(req, job, rest);
    if ('status' in found) return found;
    return {
      status: 200,
      headers: {
        'content-type': 'application/octet-stream',
        'content-length': String(found.size),
        'content-disposition': attachment(rest.at(-1)!),
      },
      body: createReadStream(found.file),
    };
  });

  const zip = withJob(ctx, async (req, job) => {
    const folder = ctx.model.folderOf(job);
    const stat = folder ? await fs.stat(folder).catch(() => undefined) : undefined;
    if (!folder || !stat?.isDirectory()) return errorReply(req, 404, `the folder of job ${job.name} is gone`);
    return {
      status: 200,
      headers: { 'content-type': 'application/zip', 'content-disposition': attachment(`${path.basename(folder)}.zip`) },
      body: zipFolder(folder, path.basename(folder)),
    };
  });

  return [
    { method: 'GET', path: '/api/jobs/:name', handler: api },
    { method: 'GET', path: '/job/:name', handler: page },
    { method: 'GET', path: '/job/:name/log', handler: log },
    { method: 'GET', path: '/job/:name/view/*', handler: view },
    { method: 'GET', path: '/job/:name/download/*', handler: download },
    { method: 'GET', path: '/job/:name/zip', handler: zip },
  ];
}

/** `attachment; filename=...` that survives any file name. */
function attachment(name: string): string {
  const ascii = name.replace(/[^\x20-\x7e]|["\\]/g, '_');
  return `attachment; filename="${ascii}"; filename*=UTF-8''${encodeURIComponent(name)}`;
}
