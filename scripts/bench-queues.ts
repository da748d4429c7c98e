/**
 * The queue figures of `npm run bench`, each against raw BullMQ in the same run: enqueue, a
 * worker's drain, and the ingest (BENCH_ONLY=ingest), with where each side's CPU went.
 */
import { Queue, Worker, type JobsOptions } from 'bullmq';
import { bullPriority } from '../queues/define';
import { Queues, queueName } from '../queues/registry';
import { IngestPipeline } from '../src/chat/ingest-pipeline';
import { createLogger } from '../src/logger';
import { createMetrics } from '../src/metrics';
import type { ProcessContext } from '../src/process';
import { startQueueWorker } from '../src/queue-worker';
import { createRedis, keyspace } from '../src/redis';
import { sleep } from '../src/time';
import { BATCH, Bench, N, chatEvent, log, percentile, ttsPayload } from './bench-kit';

/** Raw BullMQ addBulk vs idolcast's enqueueBulk (schema validation, job ids, priorities). */
export async function enqueueThroughput(b: Bench): Promise<{ raw: number; idolcast: number }> {
  const best = { raw: 0, idolcast: 0 };
  for (let round = 0; round < 2; round++) {
    await b.flush();
    best.raw = Math.max(best.raw, await rawAddBulkRate(b, `raw${round}`));
    const queues = new Queues(b.redis, b.prefix);
    const t = performance.now();
    for (let i = 0; i < N; i += BATCH) await queues.enqueueBulk('tts', Array.from({ length: BATCH }, (_, k) => ({ payload: ttsPayload(i + k, `idol${round}`) })));
    best.idolcast = Math.max(best.idolcast, N / ((performance.now() - t) / 1000));
    await queues.close();
    log('enqueue round', round, Math.round(best.raw), Math.round(best.idolcast));
  }
  return best;
}

/** Drain N pre-added jobs with a no-op processor at concurrency 100: raw Worker vs idolcast's worker path. */
export async function workerThroughput(b: Bench): Promise<{ raw: number; idolcast: number }> {
  const best = { raw: 0, idolcast: 0 };
  const config = b.config();
  const ctx = { config, log: createLogger('bench', 'warn'), id: 'bench' } as unknown as ProcessContext;
  const fill = async (name: string, run: string) => {
    const q = new Queue(name, { connection: b.redis, prefix: b.prefix });
    for (let i = 0; i < N; i += BATCH) await q.addBulk(Array.from({ length: BATCH }, (_, k) => ({ name: 'tts.synthesize', data: ttsPayload(i + k, run), opts: { removeOnComplete: { count: 1000 } } })));
    await q.close();
  };
  const drain = async (start: (onDone: () => void) => { close: () => Promise<void> }) => {
    let done = 0;
    let finish!: () => void;
    const all = new Promise<void>((r) => (finish = r));
    const t = performance.now();
    const w = start(() => ++done === N && finish());
    await Promise.race([all, sleep(120_000)]);
    const rate = done / ((performance.now() - t) / 1000);
    await w.close();
    return rate;
  };
  for (let round = 0; round < 2; round++) {
    await b.flush();
    await fill('rawworker', `rw${round}`);
    best.raw = Math.max(best.raw, await drain((onDone) => {
      const w = new Worker('rawworker', async () => undefined, { connection: createRedis(b.url, { forWorker: true }), prefix: b.prefix, concurrency: 100 });
      w.on('completed', onDone);
      return { close: () => w.close() };
    }));
    await b.flush();
    await fill(queueName('tts'), `iw${round}`);
    best.idolcast = Math.max(best.idolcast, await drain((onDone) => {
      const { worker, stop } = startQueueWorker(ctx, 'tts', { concurrency: 100 }, async () => undefined);
      worker.on('completed', onDone);
      return { close: stop };
    }));
    log('worker round', round, Math.round(best.raw), Math.round(best.idolcast));
  }
  return best;
}

/** Raw BullMQ addBulk of N speech jobs in batches of BATCH, as the pipeline's jobs look (jobs/s). */
export async function rawAddBulkRate(b: Bench, run: string): Promise<number> {
  const raw = new Queue('rawtts', { connection: b.redis, prefix: b.prefix });
  const t = performance.now();
  for (let i = 0; i < N; i += BATCH) {
    await raw.addBulk(Array.from({ length: BATCH }, (_, k) => {
      const p = ttsPayload(i + k, run);
      const opts: JobsOptions = { jobId: p.utteranceId, priority: bullPriority(p.priority), removeOnComplete: { age: 3600, count: 1000 }, removeOnFail: { age: 604800, count: 5000 } };
      return { name: 'tts.synthesize', data: p, opts };
    }));
  }
  const rate = N / ((performance.now() - t) / 1000);
  await raw.close();
  return rate;
}

/** CPU seconds of this process (Node) and of the bench's redis-server so far. */
async function cpuNow(b: Bench): Promise<{ node: number; redis: number }> {
  const info = await b.redis.info('cpu');
  const field = (name: string) => Number(new RegExp(`${name}:([0-9.]+)`).exec(info)?.[1] ?? NaN);
  const own = process.cpuUsage();
  return { node: (own.user + own.system) / 1e6, redis: field('used_cpu_user') + field('used_cpu_sys') };
}

/** One side of a pair: its rate (per second of its own wall clock) and the CPU seconds Node and Redis spent on it. */
interface Side {
  rate: number;
  node: number;
  redis: number;
}

/** `work`'s rate, with the CPU seconds spent while it ran. */
async function side(b: Bench, work: () => Promise<number>): Promise<Side> {
  const from = await cpuNow(b);
  const rate = await work();
  const to = await cpuNow(b);
  return { rate, node: to.node - from.node, redis: to.redis - from.redis };
}

/** The pipeline's rate on one round's events (messages per second of wall time); a round that did not speak them all says so. */
async function ingestRate(pipeline: IngestPipeline, events: ReturnType<typeof chatEvent>[]): Promise<number> {
  const t = performance.now();
  const outcomes = await Promise.all(events.map((e) => pipeline.accept(e)));
  const rate = events.length / ((performance.now() - t) / 1000);
  const spoken = outcomes.filter((o) => o.decision === 'spoken').length;
  if (spoken !== events.length) log('ingest: not every message was spoken', spoken);
  return rate;
}

const median = (xs: number[]) => Math.round(percentile(xs, 50) * 1000) / 1000;

/**
 * Chat events through normalise + filter + commands + enqueue (and the AI's memory and reply
 * offer) in one process vs raw addBulk of as many jobs. Each ingest round is paired with a raw
 * round just before it on a flushed Redis, so a shared machine's changing load hits both alike;
 * the first pair warms up and is not counted. The ratio is the median of the pairs'.
 */
export async function ingestThroughput(b: Bench, pairs = 5) {
  const config = b.config();
  const redis = createRedis(b.url);
  const queues = new Queues(redis, b.prefix);
  const pipeline = new IngestPipeline({ config, redis, keys: keyspace(b.prefix), queues, log: createLogger('bench', 'warn'), metrics: createMetrics('bench', 'bench'), publish: async () => {}, reply: async () => {} });
  const rows: { raw: Side; ingest: Side }[] = [];
  for (let round = 0; round <= pairs; round++) {
    await b.flush();
    const raw = await side(b, () => rawAddBulkRate(b, `raw${round}`));
    await b.flush();
    const events = Array.from({ length: N }, (_, i) => chatEvent(i, `ing${round}`));
    const ingest = await side(b, () => ingestRate(pipeline, events));
    if (round > 0) rows.push({ raw, ingest });
    log('ingest round', round, Math.round(raw.rate), Math.round(ingest.rate), Math.round((ingest.rate / raw.rate) * 100) / 100);
  }
  await queues.close();
  redis.disconnect();
  const ratios = rows.map((r) => Math.round((r.ingest.rate / r.raw.rate) * 100) / 100);
  return {
    messagesPerSec: Math.round(percentile(rows.map((r) => r.ingest.rate), 50)),
    ratioToRawAddBulk: percentile(ratios, 50),
    pairRatios: ratios,
    addBulkJobsPerSec: Math.round(percentile(rows.map((r) => r.raw.rate), 50)),
    // Where the time goes: a side whose CPU is near its wall time is the one to make cheaper.
    cpuSecondsPerRound: {
      raw: { node: median(rows.map((r) => r.raw.node)), redis: median(rows.map((r) => r.raw.redis)) },
      ingest: { node: median(rows.map((r) => r.ingest.node)), redis: median(rows.map((r) => r.ingest.redis)) },
    },
  };
}
