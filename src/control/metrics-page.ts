import { AggregatorRegistry, Gauge, Registry } from 'prom-client';
import type { Redis } from '../redis';
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

/** The `instance` default labels found in a registry's JSON (one per process that produced it). */
function instancesOf(set: MetricsJson): Set<string> {
  const found = new Set<string>();
  for (const metric of set) for (const v of metric.values) if (typeof v.labels.instance === 'string') found.add(v.labels.instance);
  return found;
}

/**
 * The queue-depth gauge, in a registry of its own: it is fleet-wide (read from Redis at scrape
 * time), so it must not ride in this process's heartbeat, where the merge would add it a second
 * time, and it carries no kind/instance labels, so every control replica reports the same series.
 */
export function queueDepthRegistry(config: Config, queues: Queues): Registry {
  const reg = new Registry();
  new Gauge({
    name: 'idolcast_queue_jobs',
    help: 'Jobs in each queue by state',
    labelNames: ['queue', 'state'] as const,
    registers: [reg],
    async collect() {
      this.reset();
      for (const q of allQueues(config, queues)) {
        const counts = await q.getJobCounts(...STATES);
        for (const state of STATES) this.set({ queue: q.name, state }, counts[state] ?? 0);
      }
    },
  });
  return reg;
}

/**
 * The fleet's /metrics: this process's own registry, a queue-depth gauge read at scrape time,
 * and the registries every other fleet member publishes with its heartbeat, merged. This
 * process publishes its own registry too; that copy is skipped (its live one is read instead),
 * else the merge would sum every series of this process with itself.
 */
export function createMetricsPage(own: Registry, config: Config, queues: Queues, redis: Redis, keys: Keyspace) {
  const depth = queueDepthRegistry(config, queues);
  return async (): Promise<{ contentType: string; body: string }> => {
    const members = await listFleet(redis, keys, config.workers.heartbeatMs);
    const published = members.length ? await redis.mget(members.map((m) => keys.metrics(m.id))) : [];
    const mine = await own.getMetricsAsJSON();
    const self = instancesOf(mine);
    const sets: MetricsJson[] = [mine, await depth.getMetricsAsJSON()];
    for (const raw of published) {
      if (!raw) continue;
      const set = JSON.parse(raw) as MetricsJson;
      if (![...instancesOf(set)].some((i) => self.has(i))) sets.push(set);
    }
    const merged = AggregatorRegistry.aggregate(sets);
    return { contentType: merged.contentType, body: await merged.metrics() };
  };
}
