import { Queue, type ConnectionOptions, type Job, type JobsOptions } from 'bullmq';
import type { z } from 'zod';
import { audioQueue } from './audio.queue';
import { chatQueue } from './chat.queue';
import { bullPriority, type QueueDefinition } from './define';
import { maintenanceQueue } from './maintenance.queue';
import { playoutQueue } from './playout.queue';
import { routineQueue } from './routine.queue';
import { sceneQueue } from './scene.queue';
import { ttsQueue } from './tts.queue';

/** The job catalog: the only place queue names, payload schemas and job defaults live. */
export const registry = {
  chat: chatQueue,
  tts: ttsQueue,
  audio: audioQueue,
  playout: playoutQueue,
  scene: sceneQueue,
  routine: routineQueue,
  maintenance: maintenanceQueue,
} as const;

export type QueueKey = keyof typeof registry;
export type Payload<K extends QueueKey> = z.infer<(typeof registry)[K]['schema']>;

/** A payload rejected by its queue's schema. */
export class PayloadError extends Error {
  constructor(
    readonly queue: string,
    readonly problems: string[],
  ) {
    super(`${queue} payload rejected: ${problems.join('; ')}`);
    this.name = 'PayloadError';
  }
}

/** Validate a payload against its queue's schema; throws PayloadError naming each bad field. */
export function validatePayload<K extends QueueKey>(key: K, payload: unknown): Payload<K> {
  const def = registry[key] as QueueDefinition;
  const parsed = def.schema.safeParse(payload);
  if (!parsed.success) {
    throw new PayloadError(
      def.name,
      parsed.error.issues.map((i) => `${i.path.length ? i.path.map(String).join('.') : '(payload)'}: ${i.message}`),
    );
  }
  return parsed.data as Payload<K>;
}

/** The BullMQ queue name of a catalog entry (per-channel queues need the channel). */
export function queueName(key: QueueKey, channel?: string): string {
  const def = registry[key] as QueueDefinition;
  if (!def.perChannel) return def.name;
  if (!channel) throw new Error(`queue ${def.name} is per channel: a channel is required`);
  return `${def.name}-${channel}`;
}

function channelOf(payload: unknown): string | undefined {
  return (payload as { channel?: string }).channel;
}

/**
 * The one door into the queues: validates every payload, applies the catalog's job options,
 * ids and priorities, and is the only caller of `Queue.add`/`addBulk` in idolcast.
 */
export class Queues {
  private readonly open = new Map<string, Queue>();

  constructor(
    private readonly connection: ConnectionOptions,
    private readonly prefix: string,
  ) {}

  /** The BullMQ Queue behind a catalog entry (for inspection: counts, Bull Board, cleaning). */
  queue(key: QueueKey, channel?: string): Queue {
    const name = queueName(key, channel);
    let q = this.open.get(name);
    if (!q) {
      q = new Queue(name, { connection: this.connection, prefix: this.prefix, defaultJobOptions: registry[key].jobOptions });
      this.open.set(name, q);
    }
    return q;
  }

  private jobOptions<K extends QueueKey>(key: K, payload: Payload<K>, opts?: JobsOptions): JobsOptions {
    const def = registry[key] as QueueDefinition;
    const out: JobsOptions = { ...opts };
    const id = out.jobId === undefined ? def.jobId?.(payload) : undefined;
    if (id !== undefined) out.jobId = id;
    const priority = (payload as { priority?: number }).priority;
    if (typeof priority === 'number' && out.priority === undefined) out.priority = bullPriority(priority);
    return out;
  }

  /** Validate and add one job. */
  async enqueue<K extends QueueKey>(key: K, payload: Payload<K>, opts?: JobsOptions): Promise<Job> {
    const data = validatePayload(key, payload);
    return this.queue(key, channelOf(data)).add(registry[key].jobName, data, this.jobOptions(key, data, opts));
  }

  /** Validate every payload first (all or nothing), then add them in one round trip per queue. */
  async enqueueBulk<K extends QueueKey>(key: K, items: ReadonlyArray<{ payload: Payload<K>; opts?: JobsOptions }>): Promise<Job[]> {
    const byQueue = new Map<string | undefined, { name: string; data: Payload<K>; opts: JobsOptions }[]>();
    for (const item of items) {
      const data = validatePayload(key, item.payload);
      const channel = channelOf(data);
      const list = byQueue.get(channel) ?? [];
      list.push({ name: registry[key].jobName, data, opts: this.jobOptions(key, data, item.opts) });
      byQueue.set(channel, list);
    }
    const added: Job[] = [];
    for (const [channel, jobs] of byQueue) added.push(...(await this.queue(key, channel).addBulk(jobs)));
    return added;
  }

  /**
   * Create or update a job scheduler (repeatable job) whose template payload is validated like
   * any job; BullMQ keeps one scheduler per id however many processes call this.
   */
  async schedule<K extends QueueKey>(key: K, schedulerId: string, repeat: { every?: number; pattern?: string; tz?: string }, payload: Payload<K>): Promise<void> {
    const data = validatePayload(key, payload);
    await this.queue(key, channelOf(data)).upsertJobScheduler(schedulerId, repeat, { name: registry[key].jobName, data, opts: registry[key].jobOptions });
  }

  async close(): Promise<void> {
    await Promise.all([...this.open.values()].map((q) => q.close()));
    this.open.clear();
  }
}

