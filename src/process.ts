import type { LiveEvent } from '../queues/live-events';
import { Queues } from '../queues/registry';
import { loadConfig } from './config/load';
import type { Config } from './config/schema';
import { Heartbeat, memberId } from './fleet';
import { createLogger, type Logger } from './logger';
import { createMetrics, type Metrics } from './metrics';
import { createRedis, keyspace, type Keyspace, type Redis, type RedisTarget } from './redis';

/** Everything a long-running idolcast process shares, built once at its start. */
export interface ProcessContext {
  config: Config;
  log: Logger;
  redis: Redis;
  keys: Keyspace;
  queues: Queues;
  metrics: Metrics;
  id: string;
  heartbeat: Heartbeat;
  /** A live event on the channel's pub/sub events (queues/live-events.ts), stamped with `at`. */
  publish: (channel: string, event: LiveEvent) => Promise<void>;
  /** Close queues and Redis (after the process's own parts have stopped). */
  close: () => Promise<void>;
}

/** The Redis to use: REDIS_URL / redis.url, else the local one that `idolcast up` starts. */
export function redisUrl(config: Config): string {
  return config.redis.url || `redis://127.0.0.1:${config.redis.localPort}`;
}

/** The Redis to connect to: the cluster of `redis.cluster.nodes`, the master behind `redis.sentinels`, else `redisUrl`. */
export function redisTarget(config: Config): RedisTarget {
  const { url, sentinels, sentinelName, sentinelPassword, cluster } = config.redis;
  if (cluster.nodes.length) return { url, cluster: cluster.nodes };
  return sentinels.length ? { url, sentinels, sentinelName, sentinelPassword } : { url: redisUrl(config) };
}

/**
 * Boot a fleet member of `kind`: config, logger, Redis, the queue registry, metrics and the
 * heartbeat. `blocking` members (workers) wait out a Redis restart instead of failing commands.
 */
export function bootProcess(kind: string, opts: { blocking: boolean; detail?: () => Record<string, unknown> }): ProcessContext {
  const config = loadConfig();
  const log = createLogger(kind, config.log.level);
  const id = memberId(kind);
  const redis = createRedis(redisTarget(config), { forWorker: opts.blocking, name: id });
  redis.on('error', (err: Error) => log.warn({ err: err.message }, 'redis connection error'));
  const keys = keyspace(config.redis.prefix);
  const queues = new Queues(redis, config.redis.prefix);
  const metrics = createMetrics(kind, id);
  const heartbeat = new Heartbeat(redis, keys, id, kind, config.workers.heartbeatMs, log, metrics, opts.detail);
  const publish = async (channel: string, event: LiveEvent) => {
    await redis.publish(keys.events(channel), JSON.stringify({ ...event, at: Date.now() }));
  };
  const close = async () => {
    await heartbeat.stop();
    await queues.close();
    await redis.quit().catch(() => redis.disconnect());
  };
  return { config, log, redis, keys, queues, metrics, id, heartbeat, publish, close };
}
