/**
 * `--begin=TIME` as sbatch reads it (SPEC §9, §10): when a job may start.
 * 1. `now+N[units]`: N seconds (sbatch's default unit), or minutes, hours,
 *    days, weeks (`now+60`, `now+10minutes`, `now+1hour`);
 * 2. `HH:MM[:SS]`: that time today, or tomorrow once it has passed;
 * 3. `YYYY-MM-DD[THH:MM[:SS]]`: that local date and time;
 * 4. `now`, `midnight`, `noon`, `teatime` (16:00), `today`, `tomorrow`.
 * Returns ms since the epoch, or undefined for a text that is none of these.
 */

const UNIT_SECONDS: Record<string, number> = {
  '': 1, s: 1, sec: 1, second: 1, seconds: 1,
  m: 60, min: 60, minute: 60, minutes: 60,
  h: 3600, hour: 3600, hours: 3600,
  d: 86400, day: 86400, days: 86400,
  w: 604800, week: 604800, weeks: 604800,
};

export const BEGIN_FORMS = 'now+N[seconds|minutes|hours|days|weeks], HH:MM[:SS], YYYY-MM-DD[THH:MM[:SS]], midnight, noon, teatime, tomorrow';

export function parseBeginTime(text: string, now = Date.now()): number | undefined {
  const t = text.trim().toLowerCase();
  const relative = /^now(?:\+(\d+)\s*([a-z]*))?$/.exec(t);
  if (relative) {
    const unit = UNIT_SECONDS[relative[2] ?? ''];
    return unit === undefined ? undefined : now + Number(relative[1] ?? 0) * unit * 1000;
  }
  const today = new Date(now);
  today.setHours(0, 0, 0, 0);
  if (t === 'today') return now;
  const named: Record<string, number> = { midnight: 24, noon: 12, teatime: 16, tomorrow: 24 };
  if (t in named) return nextAt(today, named[t]!, 0, 0, now);
  const clock = /^(\d{1,2}):(\d{2})(?::(\d{2}))?$/.exec(t);
  if (clock) {
    const [h, m, s] = [Number(clock[1]), Number(clock[2]), Number(clock[3] ?? 0)];
    return h < 24 && m < 60 && s < 60 ? nextAt(today, h, m, s, now) : undefined;
  }
  const iso = /^(\d{4})-(\d{2})-(\d{2})(?:t(\d{2}):(\d{2})(?::(\d{2}))?)?$/.exec(t);
  if (!iso) return undefined;
  const [y, mo, d, h = 0, mi = 0, s = 0] = iso.slice(1).map((v) => (v === undefined ? undefined : Number(v))) as number[];
  const at = new Date(y!, mo! - 1, d!, h, mi, s);
  const valid = at.getFullYear() === y && at.getMonth() === mo! - 1 && at.getDate() === d && h < 24 && mi < 60 && s < 60;
  return valid ? at.getTime() : undefined;
}

/** `day` at h:m:s, or the day after when that is past (sbatch's HH:MM). */
function nextAt(day: Date, h: number, m: number, s: number, now: number): number {
  const at = new Date(day);
  at.setHours(h, m, s, 0);
  if (at.getTime() <= now && h < 24) at.setDate(at.getDate() + 1);
  return at.getTime();
}
