/**
 * Reads docker/compose.yaml and docker/Dockerfile the way Compose and Docker
 * would (merge keys, `${VAR:-default}`), and turns a service into the plain
 * process it would run: the image's ENTRYPOINT + the service's command, its
 * environment, with /app mapped to this repository and the volume target
 * (/qm) to a test folder. So the compose wiring is tested without Docker.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse } from 'yaml';

export const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
export const COMPOSE_FILE = path.join(REPO, 'docker/compose.yaml');
export const DOCKERFILE = path.join(REPO, 'docker/Dockerfile');

export interface ComposeService {
  image?: string;
  command?: string[];
  environment?: Record<string, string | number | boolean | null>;
  volumes?: string[];
  depends_on?: Record<string, { condition: string }>;
  healthcheck?: { test: string[] };
  ports?: string[];
  restart?: string;
}

export interface ComposeFile {
  services: Record<string, ComposeService>;
  volumes?: Record<string, unknown>;
}

/** Compose's interpolation: `${VAR}`, `${VAR:-default}`, `${VAR-default}`, `$$`; unset variables are empty. */
export function interpolate(text: string, vars: Record<string, string>): string {
  return text.replace(/\$\$|\$\{(\w+)(?:(:?-)([^}]*))?\}/g, (whole, name?: string, op?: string, fallback?: string) => {
    if (whole === '$$') return '$';
    const value = vars[name!];
    if (op === ':-') return value ? value : fallback!;
    if (op === '-') return value ?? fallback!;
    return value ?? '';
  });
}

/** The compose file with variables substituted from `vars` (not the ambient environment). */
export function loadCompose(vars: Record<string, string> = {}): ComposeFile {
  return parse(interpolate(readFileSync(COMPOSE_FILE, 'utf8'), vars), { merge: true }) as ComposeFile;
}

/** `KEY=value` lines of docker/.env.example. */
export function envExample(): Record<string, string> {
  const text = readFileSync(path.join(REPO, 'docker/.env.example'), 'utf8');
  return Object.fromEntries(
    text
      .split('\n')
      .filter((line) => /^\w+=/.test(line))
      .map((line) => [line.slice(0, line.indexOf('=')), line.slice(line.indexOf('=') + 1)]),
  );
}

/** The image's ENTRYPOINT (exec form), e.g. ["tini", "--", "node", "/app/dist/cli.js"]. */
export function entrypoint(): string[] {
  const line = readFileSync(DOCKERFILE, 'utf8').split('\n').find((l) => l.startsWith('ENTRYPOINT '));
  if (!line) throw new Error('no ENTRYPOINT in docker/Dockerfile');
  return JSON.parse(line.slice('ENTRYPOINT '.length)) as string[];
}

export interface HostMapping {
  /** the QM folder standing for the service's volume target */
  qmFolder: string;
  /** host:port replacing `redis:6379` (the compose service) in URLs */
  redisAddress: string;
  /** drop `tini --` (when tini is not installed) */
  withoutTini?: boolean;
  /** extra variables (e.g. QM_PORT of a free port) */
  env?: Record<string, string>;
}

export interface Invocation {
  command: string;
  args: string[];
  env: Record<string, string>;
  /** the image's WORKDIR (/qm) mapped: where ./QMserv.cfg is read */
  cwd: string;
}

/** Maps container paths and names to this machine. */
function mapArg(arg: string, service: ComposeService, m: HostMapping): string {
  const target = volumeTarget(service);
  if (arg === 'node') return process.execPath;
  if (arg.startsWith('/app/')) return path.join(REPO, arg.slice('/app/'.length));
  if (target && (arg === target || arg.startsWith(`${target}/`))) return m.qmFolder + arg.slice(target.length);
  return arg.replace(/(redis:\/\/(?:[^@/]*@)?)redis:6379/g, `$1${m.redisAddress}`);
}

/** Where the service sees the QM folder: its QM_FOLDER, which its volume must be mounted at. */
export function volumeTarget(service: ComposeService): string | undefined {
  const folder = service.environment?.QM_FOLDER;
  return typeof folder === 'string' ? folder : undefined;
}

/** The process a QM service runs, as it would run in its container. */
export function invocation(service: ComposeService, m: HostMapping): Invocation {
  const argv = [...entrypoint(), ...(service.command ?? [])].map((a) => mapArg(a, service, m));
  const run = m.withoutTini && argv[0] === 'tini' ? argv.slice(argv.indexOf('--') + 1) : argv;
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(service.environment ?? {})) env[k] = mapArg(v === null ? '' : String(v), service, m);
  return { command: run[0]!, args: run.slice(1), env: { ...env, ...m.env }, cwd: m.qmFolder };
}

/** The service's healthcheck as argv (CMD-SHELL runs under sh -c), mapped like its process. */
export function healthcheck(service: ComposeService, m: HostMapping): string[] | undefined {
  const test = service.healthcheck?.test;
  if (test?.[0] === 'CMD-SHELL') return ['sh', '-c', test[1]!];
  if (test?.[0] !== 'CMD') return undefined;
  return test.slice(1).map((a) => mapArg(a, service, m));
}
