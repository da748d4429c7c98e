import { Worker, type Queue } from 'bullmq';
import { createMetricsPage, allQueues } from '../../src/control/metrics-page';
import { Heartbeat } from '../../src/fleet';
import { createLogger } from '../../src/logger';
import { createMetrics } from '../../src/metrics';
import { createRedis } from '../../src/redis';
import { TestFleet, eventually } from '../helpers/fleet';

const log = createLogger('metrics-test', 'silent');

/** The lines of one metric in a Prometheus text page, as their labels and value. */
function lines(page: string, name: string): { labels: Record<string, string>; value: number }[] {
  return page.split('\n').flatMap((line) => {
    const m = line.match(new RegExp(`^${name}\\{([^}]*)\\} (\\S+)$`));
    if (!m) return [];
    const labels = Object.fromEntries([...m[1]!.matchAll(/(\w+)="([^"]*)"/g)].map((l) => [l[1]!, l[2]!]));
    return [{ labels, value: Number(m[2]) }];
  });
}

/** Values of one metric keyed by the chosen labels; a key seen twice is a failure (each series once). */
function series(page: string, name: string, by: string[]): Map<string, number> {
  const found = new Map<string, number>();
  for (const { labels, value } of lines(page, name)) {
    const key = by.map((l) => labels[l]).join(' ');
    expect([key, found.has(key)]).toEqual([key, false]);
    found.set(key, value);
  }
  return found;
}

/** Complete `ok` jobs and fail `bad` jobs of a queue with a real worker, then close it. */
async function settle(fleet: TestFleet, q: Queue, ok: number, bad: number): Promise<void> {
  for (let i = 0; i < ok; i++) await q.add('x', { fail: false });
  for (let i = 0; i < bad; i++) await q.add('x', { fail: true }, { attempts: 1 });
  const connection = createRedis(fleet.redisUrl, { forWorker: true });
  const worker = new Worker(q.name, async (job) => { if (job.data.fail) throw new Error('planned'); }, { connection, prefix: fleet.prefix, concurrency: 4 });
  await eventually(async () => {
    const c = await q.getJobCounts('completed', 'failed');
    return c.completed === ok && c.failed === bad ? true : undefined;
  }, 'jobs settled');
  await worker.close();
  await connection.quit();
}

describe('/metrics queue depths', () => {
  let fleet: TestFleet;
  const beats: Heartbeat[] = [];
  afterEach(async () => {
    await Promise.all(beats.splice(0).map((b) => b.stop()));
    await fleet?.close();
  });

  it('reads each queue and state once, equal to Redis, while this process and another publish their registries', async () => {
    fleet = new TestFleet();
    const tts = fleet.queues.queue('tts');
    const playout = fleet.queues.queue('playout', 'main');
    await settle(fleet, tts, 7, 3);
    for (let i = 0; i < 5; i++) await playout.add('p', { n: i }, { priority: 10 + i });
    for (let i = 0; i < 4; i++) await playout.add('w', { n: i });
    for (let i = 0; i < 2; i++) await playout.add('d', { n: i }, { delay: 3_600_000 });

    // The control process itself and a tts worker, each publishing with its heartbeat, as in the fleet.
    const own = createMetrics('control', 'control-test');
    const other = createMetrics('worker-tts', 'worker-tts-test');
    own.sourceReconnects.inc({ platform: 'twitch' });
    other.sourceReconnects.inc({ platform: 'twitch' }, 2);
    // As in the control server: the page is made at start, then the heartbeat starts publishing.
    const metricsPage = createMetricsPage(own.registry, fleet.config, fleet.queues, fleet.redis, fleet.keys);
    for (const [id, kind, m] of [['control-test', 'control', own], ['worker-tts-test', 'worker-tts', other]] as const) {
      const beat = new Heartbeat(fleet.redis, fleet.keys, id, kind, fleet.config.workers.heartbeatMs, log, m);
      beats.push(beat);
      beat.start();
    }
    await eventually(async () => ((await fleet.redis.exists(fleet.keys.metrics('control-test'), fleet.keys.metrics('worker-tts-test'))) === 2 ? true : undefined), 'both published');

    const page = await metricsPage();
    const depths = series(page.body, 'idolcast_queue_jobs', ['queue', 'state']);
    for (const q of allQueues(fleet.config, fleet.queues)) {
      const counts = await q.getJobCounts('waiting', 'active', 'delayed', 'prioritized', 'completed', 'failed');
      for (const [state, n] of Object.entries(counts)) expect([`${q.name} ${state}`, depths.get(`${q.name} ${state}`)]).toEqual([`${q.name} ${state}`, n]);
    }
    expect(depths.get('tts completed')).toBe(7);
    expect(depths.get('tts failed')).toBe(3);
    expect(depths.get('playout-main prioritized')).toBe(5);
    expect(depths.get('playout-main waiting')).toBe(4);
    expect(depths.get('playout-main delayed')).toBe(2);

    // This process's own series appear once with its own value, the other member's with its value.
    const reconnects = series(page.body, 'idolcast_chat_source_reconnects_total', ['platform', 'instance']);
    expect(reconnects).toEqual(new Map([['twitch control-test', 1], ['twitch worker-tts-test', 2]]));
  });
});
