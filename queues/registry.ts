import { Queue, type Job, type JobsOptions } from 'bullmq';
import type { Redis } from '../src/redis';
import { registry, type Payload, type QueueKey } from './catalog';
import { bullPriority, type QueueDefinition } from './define';
import type { Utterance } from './utterance.schema';
import { keyspace } from '../src/redis';

// The catalog itself lives in catalog.ts (the config reads it without BullMQ); most code meets it here.
export { registry, type Payload, type QueueKey } from './catalog';

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

/** ARGV: job id, score, … — each job still waiting in the prioritized set gets its score. */
const RESCORE_IF_WAITING = `
for i = 1, #ARGV, 2 do
  if redis.call('ZSCORE', KEYS[1], ARGV[i]) then redis.call('ZADD', KEYS[1], 'XX', ARGV[i + 1], ARGV[i]) end
end
return 0`;

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
    /** Also runs the accept-order counter and re-scoring (see `stampOrder`, `keepAcceptOrder`). */
    private readonly connection: Redis,
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
    await this.stampOrder(key, [data]);
    const q = this.queue(key, channelOf(data));
    const job = await q.add(registry[key].jobName, data, this.jobOptions(key, data, opts));
    await this.keepAcceptOrder(key, q, [job]);
    return job;
  }

  /** Give speech lines queued for the first time their accept order (one INCRBY for the lot). */
  private async stampOrder(key: QueueKey, payloads: unknown[]): Promise<void> {
    if (key !== 'tts') return;
    const fresh = (payloads as Utterance[]).filter((u) => u.order === undefined);
    if (!fresh.length) return;
    const last = await this.connection.incrby(keyspace(this.prefix).speechOrder, fresh.length);
    fresh.forEach((u, n) => (u.order = last - fresh.length + 1 + n));
  }

  /**
   * BullMQ airs equal-priority jobs in the order they were added (its score is priority × 2³² +
   * an insertion counter). A playout job is added when its line is voiced, and lines are voiced
   * in parallel, so that is the order they finished in: each is re-scored with its accept order
   * in place of the counter, unless a broadcaster already took it. A job BullMQ itself re-adds
   * (a replay after a broadcaster died) gets a counter again, small: it goes near the front.
   */
  private async keepAcceptOrder(key: QueueKey, q: Queue, jobs: Job[]): Promise<void> {
    if (key !== 'playout') return;
    const ordered = jobs.filter((j) => (j.data as Utterance).order !== undefined && j.opts.priority);
    if (!ordered.length) return;
    const scores = ordered.flatMap((j) => [j.id!, String(j.opts.priority! * 2 ** 32 + ((j.data as Utterance).order! % 2 ** 32))]);
    await this.connection.eval(RESCORE_IF_WAITING, 1, q.keys.prioritized!, ...scores);
  }

  /**
   * Validate every payload first (all or nothing), then add them in one round trip per queue.
   * `validate: false` is for the ingest alone: its payloads are built by typed code from chat
   * events already parsed at the source, at flood rates where a second parse was 5-10 % of its
   * CPU; the consuming worker still validates every job (one that can never pass fails for good).
   */
  async enqueueBulk<K extends QueueKey>(key: K, items: ReadonlyArray<{ payload: Payload<K>; opts?: JobsOptions }>, { validate = true }: { validate?: boolean } = {}): Promise<Job[]> {
    const byQueue = new Map<string | undefined, { name: string; data: Payload<K>; opts: JobsOptions }[]>();
    for (const item of items) {
      const data = validate ? validatePayload(key, item.payload) : item.payload;
      const channel = channelOf(data);
      const list = byQueue.get(channel) ?? [];
      list.push({ name: registry[key].jobName, data, opts: this.jobOptions(key, data, item.opts) });
      byQueue.set(channel, list);
    }
    const added: Job[] = [];
    for (const [channel, jobs] of byQueue) {
      await this.stampOrder(key, jobs.map((j) => j.data));
      const q = this.queue(key, channel);
      const bulk = await q.addBulk(jobs);
      await this.keepAcceptOrder(key, q, bulk);
      added.push(...bulk);
    }
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

