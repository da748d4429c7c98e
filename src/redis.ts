import { Redis, type RedisOptions } from 'ioredis';

export { Redis };

/**
 * Where Redis is: a `redis://` URL, or Redis Sentinel addresses and the master's name (the URL
 * then only carries the master's user, password, database and TLS).
 */
export interface RedisTarget {
  url: string;
  sentinels?: readonly string[];
  sentinelName?: string;
  sentinelPassword?: string;
}

/** ioredis options for a Sentinel-managed master: the sentinels are asked where it is, after every failover too. */
export function sentinelOptions(target: RedisTarget): RedisOptions {
  const url = target.url ? new URL(target.url) : undefined;
  const db = url?.pathname.slice(1);
  return {
    sentinels: (target.sentinels ?? []).map((s) => {
      const at = s.lastIndexOf(':');
      return { host: s.slice(0, at).replace(/^\[(.*)\]$/, '$1'), port: Number(s.slice(at + 1)) };
    }),
    name: target.sentinelName ?? 'idolcast',
    sentinelPassword: target.sentinelPassword || undefined,
    username: url?.username ? decodeURIComponent(url.username) : undefined,
    password: url?.password ? decodeURIComponent(url.password) : undefined,
    db: db ? Number(db) : undefined,
    tls: url?.protocol === 'rediss:' ? {} : undefined,
    // A demoted master answers writes with READONLY: reconnect, and the sentinels name the new one.
    // (Sentinel also kills the old master's clients when it reconfigures it; ioredis's own
    // failoverDetector is not used because `quit()` leaves its sentinel connections open.)
    reconnectOnError: (err) => err.message.startsWith('READONLY'),
  };
}

/**
 * A Redis connection for idolcast. `forWorker` connections never give up on a command
 * (BullMQ workers block on Redis and must ride out a Redis restart); producer connections
 * fail a command after a few retries so an HTTP request gets an error instead of hanging.
 */
export function createRedis(target: string | RedisTarget, opts: { forWorker?: boolean; name?: string } = {}): Redis {
  const { url, sentinels } = typeof target === 'string' ? { url: target, sentinels: [] } : target;
  const options: RedisOptions = {
    maxRetriesPerRequest: opts.forWorker ? null : 3,
    enableReadyCheck: true,
    connectionName: opts.name,
    // Reconnect forever with a capped backoff: a 24/7 process outlives Redis restarts.
    retryStrategy: (times) => Math.min(100 * 2 ** Math.min(times, 6), 3000),
  };
  if (sentinels?.length) return new Redis({ ...options, ...sentinelOptions(target as RedisTarget) });
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
    /** Raw engine audio of one part of an utterance, waiting for the audio worker. */
    speechRaw: (utteranceId: string, part: number) => `${prefix}:speech:${utteranceId}:raw:${part}`,
    /** Counter stamping every line's accept order (`order`): equal-priority lines air in it. */
    speechOrder: `${prefix}:speech-order`,
    /** Playout-ready PCM of one part of an utterance, waiting for the broadcaster. */
    speechPcm: (utteranceId: string, part: number) => `${prefix}:speech:${utteranceId}:pcm:${part}`,
    /** Pub/sub channel of on-air events (utterance start/end, scene) of a channel. */
    events: (channel: string) => `${prefix}:events:${channel}`,
    /** Desired scene state of a channel (hash). */
    scene: (channel: string) => `${prefix}:scene:${channel}`,
    /** The voice a channel speaks in when a line names none (set by !voice). */
    channelVoice: (channel: string) => `${prefix}:voice:${channel}`,
    /** When a channel's speech backlog was last cleared (ms): older lines are dropped. */
    clearedAt: (channel: string) => `${prefix}:cleared:${channel}`,
    /** When a channel's AI lines were last dumped (ms): AI lines accepted until then are dropped. */
    dumpedAt: (channel: string) => `${prefix}:dumped:${channel}`,
    /** The lock of a channel's active broadcaster: `<member id> <fencing token>`, with a TTL it renews. */
    broadcastLeader: (channel: string) => `${prefix}:broadcast:${channel}:leader`,
    /** Fencing tokens of a channel's broadcasters: each new holder of the lock gets the next one. */
    broadcastFence: (channel: string) => `${prefix}:broadcast:${channel}:fence`,
    /** The avatar expression set by !emote (a name the channel's pack offers), expiring when it returns to neutral. */
    avatarExpression: (channel: string) => `${prefix}:avatar:${channel}:expression`,
    /** Pub/sub channel of operator controls (skip, dump, emote) for a channel's broadcaster. */
    control: (channel: string) => `${prefix}:control:${channel}`,
    /** A platform message id seen recently (SET NX with a TTL). */
    seen: (platform: string, room: string, id: string) => `${prefix}:seen:${platform}:${room}:${id}`,
    /** A user's rate-limit token bucket. */
    bucket: (platform: string, user: string) => `${prefix}:bucket:${platform}:${user}`,
    /** A user's recent text, for repeat suppression. */
    recent: (platform: string, user: string, textHash: string) => `${prefix}:recent:${platform}:${user}:${textHash}`,
    /** Line indices left in a phrase pool's current round (list; `:meta` holds its fingerprint and last pick). */
    phrasePool: (pool: string) => `${prefix}:pool:${pool}`,
    /** One timeline run: name, channel, start, step count, state (hash, expires after the run). */
    timelineRun: (runId: string) => `${prefix}:timeline:${runId}`,
    /** Timeline runs by their end time (ZSET), for listing what is running. */
    timelineRuns: `${prefix}:timelines`,
    /** A command's global or per-user cooldown. */
    cooldown: (channel: string, command: string, user?: string) => `${prefix}:cooldown:${channel}:${command}${user ? `:${user}` : ''}`,
    /** A remote TTS engine's breaker, opened by some replica (JSON, expires after the reset timeout). */
    breaker: (engine: string) => `${prefix}:breaker:${engine}`,
    /** Cached engine audio by (engine, voice, parameters, text) hash… */
    ttsCache: (hash: string) => `${prefix}:ttscache:${hash}`,
    /** …its last use (ZSET, for least-recently-used eviction)… */
    ttsCacheLru: `${prefix}:ttscache-lru`,
    /** …and its total size in bytes. */
    ttsCacheBytes: `${prefix}:ttscache-bytes`,
    /** The next page token of a YouTube live chat, so a restart resumes without repeats. */
    youtubePageToken: (liveChatId: string) => `${prefix}:youtube:pagetoken:${liveChatId}`,
    /** When a YouTube live chat may next be polled (expires then), so restarts cannot poll faster than the quota affords. */
    youtubeNextPoll: (liveChatId: string) => `${prefix}:youtube:nextpoll:${liveChatId}`,
    /** The fleet's degradation level as the ingest process last measured it (JSON, expires unless renewed). */
    degradation: `${prefix}:degradation`,
  };
}
export type Keyspace = ReturnType<typeof keyspace>;
