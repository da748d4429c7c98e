import { AggregatorRegistry, Gauge, type Registry } from 'prom-client';
import type { Redis } from 'ioredis';
import type { Queues, QueueKey } from '../../queues/registry';
import { registry as catalog } from '../../queues/registry';
import type { Config } from '../config/schema';
import { listFleet } from '../fleet';
import type { Keyspace } from '../redis';

const STATES = ['waiting', 'active', 'delayed', 'prioritized', 'completed', 'failed'] as const;
type MetricsJson = Awaited<ReturnType<Registry['getMetricsAsJSON']>>;

/** Every queue of the catalog, with per-channel ones expanded, as [label, Queue]. */
export function allQueues(config: Config, queues: Queues) {
  return (Object.keys(catalog) as QueueKey[]).flatMap((k) =>
    catalog[k].perChannel ? Object.keys(config.channels).map((c) => queues.queue(k, c)) : [queues.queue(k)],
  );
}

/**
 * The fleet's /metrics: this process's own registry, a queue-depth gauge read at scrape time,
 * and the registries every fleet member publishes with its heartbeat, merged.
 */
export function createMetricsPage(own: Registry, config: Config, queues: Queues, redis: Redis, keys: Keyspace) {
  new Gauge({
    name: 'idolcast_queue_jobs',
    help: 'Jobs in each queue by state',
    labelNames: ['queue', 'state'] as const,
    registers: [own],
    async collect() {
      for (const q of allQueues(config, queues)) {
        const counts = await q.getJobCounts(...STATES);
        for (const state of STATES) this.set({ queue: q.name, state }, counts[state] ?? 0);
      }
    },
  });
  return async (): Promise<{ contentType: string; body: string }> => {
    const members = await listFleet(redis, keys, config.workers.heartbeatMs);
    const published = members.length ? await redis.mget(members.map((m) => keys.metrics(m.id))) : [];
    const sets: MetricsJson[] = [await own.getMetricsAsJSON()];
    for (const raw of published) if (raw) sets.push(JSON.parse(raw) as MetricsJson);
    const merged = AggregatorRegistry.aggregate(sets);
    return { contentType: merged.contentType, body: await merged.metrics() };
  };
}
