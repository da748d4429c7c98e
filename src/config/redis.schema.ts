import { z } from 'zod';
import { clusterPrefix } from '../redis';

const address = z.string().regex(/^[^\s:]+:\d{1,5}$/, 'host:port');

/** A Redis Cluster to use instead of one server. */
const clusterSchema = z
  .strictObject({
    /** Some of the cluster's nodes, `host:port` (env REDIS_CLUSTER_NODES comma-separated); the client learns the rest. */
    nodes: z.array(address).default([]),
    /**
     * Replicas that must hold a chat batch before the ingest counts it accepted (Redis replicates
     * asynchronously: without this, a master killed right after a write takes that write with it).
     * 0 turns the wait off.
     */
    acceptReplicas: z.number().int().min(0).max(5).default(1),
    /** How long the ingest waits for them; a master without a reachable replica costs each batch this long (and is logged). */
    acceptWaitMs: z.number().int().min(1).max(5000).default(100),
  })
  .prefault({});

/** Where Redis is (a URL, Sentinel addresses or Cluster nodes) and the prefix of every key. */
export const redisSchema = z
  .strictObject({
    /** redis://… of an existing server; empty starts a local redis-server (env REDIS_URL). */
    url: z.string().default(''),
    /**
     * Prefix of every key idolcast and BullMQ write, so several deployments can share a server.
     * With `cluster.nodes` set, a prefix without a hash tag is wrapped in one (`idolcast` →
     * `{idolcast}`): every key then lives in one slot, as BullMQ's scripts and idolcast's
     * transactions need.
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
    sentinels: z.array(address).default([]),
    /** The master's name in the Sentinel configuration (env REDIS_SENTINEL_NAME). */
    sentinelName: z.string().min(1).default('idolcast'),
    /** Password of the sentinels themselves, when they require one (env REDIS_SENTINEL_PASSWORD). */
    sentinelPassword: z.string().default(''),
    cluster: clusterSchema,
  })
  .refine((r) => !(r.cluster.nodes.length && r.sentinels.length), { message: 'set either sentinels or cluster.nodes, not both', path: ['cluster', 'nodes'] })
  .transform((r) => (r.cluster.nodes.length ? { ...r, prefix: clusterPrefix(r.prefix) } : r))
  .prefault({});
