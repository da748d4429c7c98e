import { Cluster, Redis as SingleRedis, type ClusterOptions, type RedisOptions } from 'ioredis';

/**
 * A connection of idolcast: one server (plain or behind Sentinel), or a Redis Cluster. Both speak
 * the same commands; every key of ours shares one hash tag (see `clusterPrefix`), so pipelines,
 * transactions and scripts work on either.
 */
export type Redis = SingleRedis | Cluster;
/** The single-server client class (tests and probes that talk to one node). */
export const Redis = SingleRedis;

/** Another connection to the same Redis (for a subscriber: a subscribed connection runs no other command). */
export function duplicate(redis: Redis): Redis {
  // Two branches on purpose: TypeScript cannot call `duplicate` on the union (the two classes' signatures differ).
  return redis instanceof Cluster ? redis.duplicate() : redis.duplicate();
}

/**
 * Where Redis is: a `redis://` URL, Redis Sentinel addresses and the master's name, or Redis
 * Cluster nodes (with either of the last two the URL only carries user, password, database and TLS).
 */
export interface RedisTarget {
  url: string;
  sentinels?: readonly string[];
  sentinelName?: string;
  sentinelPassword?: string;
  /** Some nodes of a Redis Cluster (`host:port`); the client learns the rest from them. */
  cluster?: readonly string[];
}

/** `host:port` (or `[v6]:port`) as ioredis takes an address. */
function hostPort(s: string): { host: string; port: number } {
  const at = s.lastIndexOf(':');
  return { host: s.slice(0, at).replace(/^\[(.*)\]$/, '$1'), port: Number(s.slice(at + 1)) };
}

/** User, password and TLS from a URL whose host is not used (Sentinel and Cluster targets). */
function credentials(urlText: string): Pick<RedisOptions, 'username' | 'password' | 'tls'> {
  const url = urlText ? new URL(urlText) : undefined;
  return {
    username: url?.username ? decodeURIComponent(url.username) : undefined,
    password: url?.password ? decodeURIComponent(url.password) : undefined,
    tls: url?.protocol === 'rediss:' ? {} : undefined,
  };
}

/**
 * The prefix every key is built from, on a Redis Cluster: BullMQ's scripts and our transactions
 * touch several keys at once, which a cluster allows only within one slot, so the prefix must
 * carry a hash tag. One that has none is wrapped whole (`idolcast` → `{idolcast}`).
 */
export function clusterPrefix(prefix: string): string {
  const open = prefix.indexOf('{');
  const close = open >= 0 ? prefix.indexOf('}', open + 1) : -1;
  return close > open + 1 ? prefix : `{${prefix}}`;
}

/** ioredis options for a Sentinel-managed master: the sentinels are asked where it is, after every failover too. */
export function sentinelOptions(target: RedisTarget): RedisOptions {
  const db = target.url ? new URL(target.url).pathname.slice(1) : undefined;
  return {
    sentinels: (target.sentinels ?? []).map(hostPort),
    name: target.sentinelName ?? 'idolcast',
    sentinelPassword: target.sentinelPassword || undefined,
    ...credentials(target.url),
    db: db ? Number(db) : undefined,
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
  const { url, sentinels, cluster } = typeof target === 'string' ? { url: target, sentinels: [], cluster: [] } : target;
  const options: RedisOptions = {
    maxRetriesPerRequest: opts.forWorker ? null : 3,
    enableReadyCheck: true,
    connectionName: opts.name,
    // Reconnect forever with a capped backoff: a 24/7 process outlives Redis restarts.
    retryStrategy: (times) => Math.min(100 * 2 ** Math.min(times, 6), 3000),
  };
  if (cluster?.length) return new Cluster(cluster.map(hostPort), clusterOptions(url, options, opts.forWorker));
  if (sentinels?.length) return new SingleRedis({ ...options, ...sentinelOptions(target as RedisTarget) });
  return new SingleRedis(url, options);
}

/**
 * ioredis options for a Redis Cluster: each node connection gets `node`'s settings and the URL's
 * credentials. While a master's slots have no master (from its failure until a replica is
 * promoted: about cluster-node-timeout, then an election) the cluster answers CLUSTERDOWN or
 * MOVED to the dead node; a `forWorker` connection retries through that however long it takes,
 * a producer for a few seconds (16 redirections).
 */
export function clusterOptions(url: string, node: RedisOptions, forWorker = false): ClusterOptions {
  return {
    redisOptions: { ...node, ...credentials(url) },
    // Slots move on a failover: ask again soon, and keep asking (a 24/7 process outlives an outage).
    clusterRetryStrategy: node.retryStrategy,
    maxRedirections: forWorker ? Infinity : 16,
    retryDelayOnClusterDown: 200,
    // Until the failover, the other masters still send the dead master's slots to it (MOVED):
    // following that at once would spend every redirection in a few milliseconds.
    retryDelayOnMoved: 100,
    retryDelayOnFailover: 200,
    slotsRefreshTimeout: 2000,
    enableReadyCheck: true,
  };
}

/** The answers of a pipeline that starts with a read of `key`, which on a cluster routes all of it to that key's master. */
async function atMasterOf(redis: Redis, key: string, add: (p: ReturnType<Redis['pipeline']>) => unknown): Promise<unknown[]> {
  // A lone command follows MOVED and so brings the client's slot map up to date after a
  // failover; a pipeline with keyless commands in it is not retried on MOVED and would keep
  // going to the dead master.
  await redis.exists(key);
  const pipeline = redis.pipeline().exists(key);
  add(pipeline);
  const results = (await pipeline.exec()) ?? [];
  // The read's error matters too: a pipeline sent to the wrong node (slots moving) has the read
  // refused with MOVED while the keyless commands after it were answered by that node.
  return results.map(([err, value]) => {
    if (err) throw err;
    return value;
  }).slice(1);
}

/** The cluster node id of the master holding `key` (as it says itself, CLUSTER MYID). */
export async function masterIdOf(redis: Redis, key: string): Promise<string> {
  const [id] = await atMasterOf(redis, key, (p) => p.call('CLUSTER', 'MYID'));
  return String(id);
}

/**
 * Wait until `replicas` replicas hold every write this connection made to the server holding
 * `key`, at most `timeoutMs`: how many do, and (on a cluster) the id of the master that
 * answered, since WAIT only counts writes made to that master over this connection.
 */
export async function waitForReplicas(redis: Redis, key: string, replicas: number, timeoutMs: number): Promise<{ acked: number; master: string }> {
  const [master, acked] = await atMasterOf(redis, key, (p) => p.call('CLUSTER', 'MYID').wait(replicas, timeoutMs));
  return { acked: Number(acked), master: String(master) };
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
    /** The VTube Studio plugin token of a channel's model (granted once by the user in VTS; never logged). */
    vtsToken: (channel: string) => `${prefix}:vts:${channel}:token`,
    /** Pub/sub channel of operator controls (skip, dump, emote) for a channel's broadcaster. */
    control: (channel: string) => `${prefix}:control:${channel}`,
    /** Platform message ids seen in a time slot of `chat.dedupeTtlMs`: one set per slot, this prefix and the slot's number. */
    seenSlots: `${prefix}:seen:`,
    /** A user's rate limit: GCRA's arrival time, one number (named apart from the older token hash). */
    bucket: (platform: string, user: string) => `${prefix}:rate:${platform}:${user}`,
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
