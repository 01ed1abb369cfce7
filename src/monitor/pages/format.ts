/** How times, durations and sizes read on the monitor's pages. */
import { formatSeconds } from '../../core/format.js';

/** `2026-11-24 10:02:03`, local time. */
export function when(ms: number | undefined): string {
  if (ms === undefined) return '';
  const d = new Date(ms);
  const pad = (n: number) => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
}

/** A duration in the one human form of core/format.ts; empty when unknown. */
export function duration(seconds: number | undefined): string {
  return seconds === undefined || !Number.isFinite(seconds) ? '' : formatSeconds(seconds);
}

export function size(bytes: number): string {
  if (bytes < 1024) return `${bytes} B`;
  const units = ['KiB', 'MiB', 'GiB', 'TiB'];
  let value = bytes / 1024;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return `${value < 10 ? value.toFixed(1) : Math.round(value)} ${units[unit]}`;
}

/** The URL of a job's page (and its sub-pages), following that very job by id. */
export function jobUrl(name: string, id: string | undefined, sub = ''): string {
  const base = `/job/${encodeURIComponent(name)}${sub ? `/${sub}` : ''}`;
  return id ? `${base}?id=${encodeURIComponent(id)}` : base;
}

/** A path inside the job folder, each segment encoded. */
export function encodePath(relPath: string): string {
  return relPath.split('/').map(encodeURIComponent).join('/');
}
