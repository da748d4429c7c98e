/** Minutes since local midnight of an instant in a time zone. */
export function localMinutes(ms: number, tz: string): number {
  const parts = new Intl.DateTimeFormat('en-GB', { timeZone: tz, hour: '2-digit', minute: '2-digit', hourCycle: 'h23' }).formatToParts(ms);
  const get = (type: string) => Number(parts.find((p) => p.type === type)?.value ?? 0);
  return get('hour') * 60 + get('minute');
}

const minutesOf = (clock: string) => Number(clock.slice(0, 2)) * 60 + Number(clock.slice(3, 5));

/** Whether an instant falls inside quiet hours (start inclusive, end exclusive; may wrap midnight). */
export function inQuietHours(ms: number, quiet: { start: string; end: string } | undefined, tz: string): boolean {
  if (!quiet) return false;
  const now = localMinutes(ms, tz);
  const start = minutesOf(quiet.start);
  const end = minutesOf(quiet.end);
  if (start === end) return false;
  return start < end ? now >= start && now < end : now >= start || now < end;
}

/** An instant as local wall-clock text in a time zone, for operators: `2026-03-29 03:30 CEST`. */
export function localTime(ms: number, tz: string): string {
  const f = new Intl.DateTimeFormat('sv-SE', { timeZone: tz, year: 'numeric', month: '2-digit', day: '2-digit', hour: '2-digit', minute: '2-digit', second: '2-digit', timeZoneName: 'short', hourCycle: 'h23' });
  return f.format(ms);
}
