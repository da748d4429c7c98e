import { z } from 'zod';

/** Where Redis is (a URL, or Sentinel addresses) and the prefix of every key. */
export const redisSchema = z
  .strictObject({
    /** redis://… of an existing server; empty starts a local redis-server (env REDIS_URL). */
    url: z.string().default(''),
    /**
     * Prefix of every key idolcast and BullMQ write, so several deployments can share a server.
     * On Redis Cluster use a hash tag, e.g. `{idolcast}`: every key then lives in one slot, as
     * BullMQ's scripts and idolcast's transactions need.
     */
    prefix: z.string().regex(/^[A-Za-z0-9_{}-]+$/, 'letters, digits, _ - { } only').default('idolcast'),
    /** Port of the local redis-server that `idolcast up` starts when `url` is empty. */
    localPort: z.number().int().min(1).max(65535).default(6389),
    /** Data directory of that local server (AOF lives here). */
    dataDir: z.string().default('./data/redis'),
    /**
     * Redis Sentinel addresses (`host:port`, env REDIS_SENTINELS comma-separated): when set, the
     * master named `sentinelName` is asked of them and followed across failovers; `url` then only
     * supplies the master's user, password and database.
     */
    sentinels: z.array(z.string().regex(/^[^\s:]+:\d{1,5}$/, 'host:port')).default([]),
    /** The master's name in the Sentinel configuration (env REDIS_SENTINEL_NAME). */
    sentinelName: z.string().min(1).default('idolcast'),
    /** Password of the sentinels themselves, when they require one (env REDIS_SENTINEL_PASSWORD). */
    sentinelPassword: z.string().default(''),
  })
  .prefault({});
