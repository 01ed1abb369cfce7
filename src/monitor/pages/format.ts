/** How times, durations and sizes read on the monitor's pages. */

/** `2026-11-24 10:02:03`, local time. */
export function when(ms: number | undefined): string {
  if (ms === undefined) return '';
  const d = new Date(ms);
  const pad = (n: number) => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
}

/** `42 s`, `12 min 03 s`, `3 h 02 min`, `2 d 04 h`. */
export function duration(seconds: number | undefined): string {
  if (seconds === undefined || !Number.isFinite(seconds)) return '';
  if (seconds < 10) return `${seconds.toFixed(1)} s`;
  const s = Math.round(seconds);
  const pad = (n: number) => String(n).padStart(2, '0');
  if (s < 60) return `${s} s`;
  if (s < 3600) return `${Math.floor(s / 60)} min ${pad(s % 60)} s`;
  if (s < 86400) return `${Math.floor(s / 3600)} h ${pad(Math.floor((s % 3600) / 60))} min`;
  return `${Math.floor(s / 86400)} d ${pad(Math.floor((s % 86400) / 3600))} h`;
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
