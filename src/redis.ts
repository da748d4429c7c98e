import { Redis, type RedisOptions } from 'ioredis';

export { Redis };

/**
 * A Redis connection for idolcast. `forWorker` connections never give up on a command
 * (BullMQ workers block on Redis and must ride out a Redis restart); producer connections
 * fail a command after a few retries so an HTTP request gets an error instead of hanging.
 */
export function createRedis(url: string, opts: { forWorker?: boolean; name?: string } = {}): Redis {
  const options: RedisOptions = {
    maxRetriesPerRequest: opts.forWorker ? null : 3,
    enableReadyCheck: true,
    connectionName: opts.name,
    // Reconnect forever with a capped backoff: a 24/7 process outlives Redis restarts.
    retryStrategy: (times) => Math.min(100 * 2 ** Math.min(times, 6), 3000),
  };
  return new Redis(url, options);
}

/** Every key idolcast itself writes (BullMQ keeps its own under the same prefix). */
export function keyspace(prefix: string) {
  return {
    prefix,
    /** ZSET of fleet members by last heartbeat (ms). */
    fleet: `${prefix}:fleet`,
    /** JSON description of one fleet member, expires when its heartbeats stop. */
    fleetMember: (id: string) => `${prefix}:fleet:${id}`,
    /** Serialised prom-client metrics of one fleet member, merged by the control server. */
    metrics: (id: string) => `${prefix}:metrics:${id}`,
    /** Raw engine audio of one utterance, waiting for the audio worker. */
    speechRaw: (utteranceId: string) => `${prefix}:speech:${utteranceId}:raw`,
    /** Playout-ready PCM of one utterance, waiting for the broadcaster. */
    speechPcm: (utteranceId: string) => `${prefix}:speech:${utteranceId}:pcm`,
    /** Pub/sub channel of on-air events (utterance start/end, scene) of a channel. */
    events: (channel: string) => `${prefix}:events:${channel}`,
    /** Desired scene state of a channel (hash). */
    scene: (channel: string) => `${prefix}:scene:${channel}`,
  };
}
export type Keyspace = ReturnType<typeof keyspace>;
