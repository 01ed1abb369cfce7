/** Durations as people read them, in mails, tables and logs. */

/** The one human form: `4.3 s`, `1 min 15 s`, `1 h 02 min 05 s`, `2 d 04 h 10 min`. */
export function formatSeconds(seconds: number): string {
  if (seconds < 60) return `${Number(seconds.toFixed(1))} s`;
  const s = Math.round(seconds);
  const [d, h, m, sec] = [Math.floor(s / 86400), Math.floor((s % 86400) / 3600), Math.floor((s % 3600) / 60), s % 60];
  const pad = (n: number) => String(n).padStart(2, '0');
  if (d > 0) return `${d} d ${pad(h)} h ${pad(m)} min`;
  return h > 0 ? `${h} h ${pad(m)} min ${pad(sec)} s` : `${m} min ${pad(sec)} s`;
}

/** squeue's TIME form: `0:05`, `1:02:05`, `2-03:04:05`. */
export function clock(seconds: number): string {
  const s = Math.max(0, Math.floor(seconds));
  const [d, h, m, sec] = [Math.floor(s / 86400), Math.floor((s % 86400) / 3600), Math.floor((s % 3600) / 60), s % 60];
  const pad = (n: number) => String(n).padStart(2, '0');
  if (d > 0) return `${d}-${pad(h)}:${pad(m)}:${pad(sec)}`;
  return h > 0 ? `${h}:${pad(m)}:${pad(sec)}` : `${m}:${pad(sec)}`;
}
