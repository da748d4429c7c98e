import type { Logger } from '../logger';
import type { Config } from '../config/schema';
import type { Payload, Queues } from '../../queues/registry';

/** Every routine's BullMQ job scheduler id; other schedulers (maintenance) are left alone. */
const PREFIX = 'routine-';
export const schedulerIdOf = (routine: string) => `${PREFIX}${routine}`;

export interface DesiredSchedule {
  name: string;
  id: string;
  repeat: { pattern?: string; tz?: string; every?: number };
  payload: Payload<'routine'> & { type: 'routine' };
}

/** The job schedulers the config asks for: one per enabled routine. */
export function desiredSchedules(config: Config): DesiredSchedule[] {
  const { schedule } = config;
  return Object.entries(schedule.routines)
    .filter(([, r]) => r.enabled)
    .map(([name, r]) => ({
      name,
      id: schedulerIdOf(name),
      repeat: r.cron !== undefined ? { pattern: r.cron, tz: r.tz ?? schedule.timezone } : { every: r.every },
      payload: { type: 'routine', name, channel: r.channel ?? config.defaultChannel, action: r.action, ignoreQuietHours: r.ignoreQuietHours },
    }));
}

export interface ScheduleState {
  name: string;
  id: string;
  pattern?: string;
  tz?: string;
  every?: number;
  /** When it fires next (ms), as BullMQ has it. */
  next?: number;
  payload?: Payload<'routine'>;
}

/** The routine schedulers that exist in Redis now. */
export async function listSchedules(queues: Queues): Promise<ScheduleState[]> {
  const all = await queues.queue('routine').getJobSchedulers(0, -1, true);
  return all
    .filter((s) => s.key.startsWith(PREFIX))
    .map((s) => ({ name: s.key.slice(PREFIX.length), id: s.key, pattern: s.pattern ?? undefined, tz: s.tz ?? undefined, every: s.every ? Number(s.every) : undefined, next: s.next, payload: s.template?.data as Payload<'routine'> | undefined }));
}

const same = (a: DesiredSchedule, b: ScheduleState) =>
  a.repeat.pattern === b.pattern && (a.repeat.pattern === undefined || a.repeat.tz === b.tz) && a.repeat.every === b.every && JSON.stringify(a.payload) === JSON.stringify(b.payload);

export interface SyncResult {
  added: string[];
  updated: string[];
  unchanged: string[];
  removed: string[];
  failed: { name: string; error: string }[];
}

/**
 * Make Redis hold exactly the config's routine schedulers: add new ones, update changed ones,
 * delete removed or disabled ones; unchanged ones are not touched, so their next firing stays
 * where it was. Safe to run from several processes at once: BullMQ keeps one scheduler per id.
 */
export async function syncSchedules(queues: Queues, config: Config, log?: Logger): Promise<SyncResult> {
  const desired = desiredSchedules(config);
  const existing = new Map((await listSchedules(queues)).map((s) => [s.id, s]));
  const result: SyncResult = { added: [], updated: [], unchanged: [], removed: [], failed: [] };
  for (const d of desired) {
    const now = existing.get(d.id);
    existing.delete(d.id);
    if (now && same(d, now)) {
      result.unchanged.push(d.name);
      continue;
    }
    try {
      await queues.schedule('routine', d.id, d.repeat, d.payload);
      (now ? result.updated : result.added).push(d.name);
    } catch (err) {
      // One routine BullMQ refuses (say, its firing is running this instant) must not stop the rest.
      result.failed.push({ name: d.name, error: (err as Error).message });
    }
  }
  for (const gone of existing.values()) {
    await removeSchedule(queues, gone.name);
    result.removed.push(gone.name);
  }
  log?.info({ ...result, failed: result.failed.length ? result.failed : undefined }, 'schedules synced');
  return result;
}

/** Delete one routine's scheduler (a later sync adds it back while the config still has it). */
export async function removeSchedule(queues: Queues, name: string): Promise<boolean> {
  const queue = queues.queue('routine');
  const removed = await queue.removeJobScheduler(schedulerIdOf(name));
  // BullMQ drops the scheduler's delayed firing, but one already due (waiting) would still run.
  const due = `repeat:${schedulerIdOf(name)}:`;
  for (const job of await queue.getJobs(['wait', 'delayed', 'prioritized'])) {
    if (job.id?.startsWith(due)) await job.remove().catch(() => undefined); // taken by a worker meanwhile: it runs
  }
  return removed;
}
