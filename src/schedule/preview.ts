import { CronExpressionParser } from 'cron-parser';
import type { ProgrammeAction } from '../../queues/routine.queue';
import type { Config } from '../config/schema';
import { inQuietHours } from './clock';
import { timelineLength } from './timeline';

export interface Firing {
  at: number;
  routine: string;
  channel: string;
  action: string;
  /** Inside quiet hours: a speaking action will be skipped. */
  quiet: boolean;
  /** For a timeline: when its last step runs. */
  until?: number;
}

export interface Conflict {
  kind: 'quiet-hours' | 'timeline-overlap';
  at: number;
  routines: string[];
  message: string;
}

export interface Preview {
  from: number;
  to: number;
  firings: Firing[];
  /** Firings left out of `firings` past the limit (counted, not listed). */
  omitted: number;
  conflicts: Conflict[];
}

export function describeAction(a: ProgrammeAction): string {
  if ('say' in a) return `say "${a.say.length > 40 ? `${a.say.slice(0, 39)}…` : a.say}"${a.voice ? ` (${a.voice})` : ''}`;
  if ('pool' in a) return `say a line from pool ${a.pool}`;
  if ('scene' in a) return `scene ${a.scene}`;
  if ('avatar' in a) return `avatar ${a.avatar.expression}`;
  if ('timeline' in a) return `timeline ${a.timeline}`;
  return `maintenance ${a.maintenance}`;
}

export const speaks = (a: ProgrammeAction) => 'say' in a || 'pool' in a || 'timeline' in a;

/** Firing times of one routine in [from, to): cron patterns as BullMQ computes them (same parser), intervals from `from`. */
function firingTimes(r: Config['schedule']['routines'][string], tz: string, from: number, to: number, cap: number): { times: number[]; beyondCap: number } {
  const times: number[] = [];
  if (r.every !== undefined) {
    for (let t = from + r.every; t < to && times.length < cap; t += r.every) times.push(t);
    return { times, beyondCap: Math.max(0, Math.ceil((to - from) / r.every) - 1 - times.length) };
  }
  const it = CronExpressionParser.parse(r.cron!, { tz: r.tz ?? tz, currentDate: new Date(from - 1), endDate: new Date(to - 1) });
  while (it.hasNext() && times.length < cap) times.push(it.next().getTime());
  return { times, beyondCap: it.hasNext() ? 1 : 0 }; // a per-second cron past the cap: "at least one more"
}

/**
 * A dry run of the programme from the config: what fires when in the coming hours, and the
 * conflicts an operator should know of (a speaking routine inside quiet hours, two timelines
 * on one channel running at once). Nothing is read from or written to Redis.
 */
export function previewSchedule(config: Config, from: number, hours: number, limit = 2000): Preview {
  const { schedule } = config;
  const to = from + hours * 3_600_000;
  const all: Firing[] = [];
  let beyond = 0;
  for (const [name, r] of Object.entries(schedule.routines)) {
    if (!r.enabled) continue;
    const channel = r.channel ?? config.defaultChannel;
    const timeline = 'timeline' in r.action ? schedule.timelines[r.action.timeline] : undefined;
    const { times, beyondCap } = firingTimes(r, schedule.timezone, from, to, 100_000);
    beyond += beyondCap;
    for (const at of times) {
      all.push({
        at,
        routine: name,
        channel,
        action: describeAction(r.action),
        quiet: speaks(r.action) && !r.ignoreQuietHours && inQuietHours(at, schedule.quietHours, schedule.timezone),
        ...(timeline ? { until: at + timelineLength(timeline) } : {}),
      });
    }
  }
  all.sort((a, b) => a.at - b.at || a.routine.localeCompare(b.routine));

  const conflicts: Conflict[] = [];
  const quietByRoutine = new Map<string, Firing[]>();
  for (const f of all) if (f.quiet) quietByRoutine.set(f.routine, [...(quietByRoutine.get(f.routine) ?? []), f]);
  for (const [routine, fs] of quietByRoutine) {
    conflicts.push({ kind: 'quiet-hours', at: fs[0]!.at, routines: [routine], message: `${routine} fires ${fs.length}× inside quiet hours (${schedule.quietHours!.start}–${schedule.quietHours!.end}) and will stay silent` });
  }
  // Timelines on one channel that run at the same time talk over each other.
  const running = new Map<string, Firing>();
  for (const f of all) {
    if (f.until === undefined) continue;
    const prev = running.get(f.channel);
    if (prev && prev.until! >= f.at && conflicts.length < 200) {
      conflicts.push({ kind: 'timeline-overlap', at: f.at, routines: [prev.routine, f.routine], message: `${f.routine} starts while ${prev.routine} (started ${new Date(prev.at).toISOString()}) is still running on channel ${f.channel}` });
    }
    if (!prev || f.until > prev.until!) running.set(f.channel, f);
  }
  conflicts.sort((a, b) => a.at - b.at);
  return { from, to, firings: all.slice(0, limit), omitted: Math.max(0, all.length - limit) + beyond, conflicts };
}
