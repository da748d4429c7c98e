import { parseConfig } from '../../src/config/load';
import { redisTarget } from '../../src/process';
import { clusterOptions, clusterPrefix, keyspace, sentinelOptions } from '../../src/redis';
import { keySlot } from '../../testkit/redis-cluster';

describe('Redis connection settings', () => {
  it('plain URL by default, the local one when none is set', () => {
    expect(redisTarget(parseConfig('', 'test.yaml', {}))).toEqual({ url: 'redis://127.0.0.1:6389' });
    expect(redisTarget(parseConfig('', 'test.yaml', { REDIS_URL: 'redis://r:6379/2' }))).toEqual({ url: 'redis://r:6379/2' });
  });

  it('sentinels from the file or from REDIS_SENTINELS, with the master name and password', () => {
    const fromFile = parseConfig('redis: { sentinels: ["s1:26379", "s2:26379"], sentinelName: main }', 'test.yaml', {});
    expect(redisTarget(fromFile)).toEqual({ url: '', sentinels: ['s1:26379', 's2:26379'], sentinelName: 'main', sentinelPassword: '' });
    const fromEnv = parseConfig('', 'test.yaml', { REDIS_SENTINELS: ' 10.0.0.1:26379, 10.0.0.2:26380 ,', REDIS_SENTINEL_NAME: 'idol', REDIS_SENTINEL_PASSWORD: 'pw' });
    expect(fromEnv.redis.sentinels).toEqual(['10.0.0.1:26379', '10.0.0.2:26380']);
    expect(fromEnv.redis.sentinelName).toBe('idol');
    expect(fromEnv.redis.sentinelPassword).toBe('pw');
  });

  it('rejects a sentinel address without a port', () => {
    expect(() => parseConfig('', 'test.yaml', { REDIS_SENTINELS: 'sentinel-host' })).toThrow(/redis\.sentinels\.0: host:port/);
  });

  it('a Sentinel target takes the master credentials, database and TLS from the URL', () => {
    const opts = sentinelOptions({ url: 'rediss://app:s%40cret@ignored:1/3', sentinels: ['s1:26379', '[::1]:26380'], sentinelName: 'main', sentinelPassword: 'sp' });
    expect(opts).toMatchObject({
      sentinels: [{ host: 's1', port: 26379 }, { host: '::1', port: 26380 }],
      name: 'main', sentinelPassword: 'sp', username: 'app', password: 's@cret', db: 3, tls: {},
    });
    expect(sentinelOptions({ url: '', sentinels: ['s1:26379'] })).toMatchObject({ name: 'idolcast', password: undefined, db: undefined, tls: undefined });
  });

  it('with a hash-tag prefix every idolcast and BullMQ key lands in one Redis Cluster slot', () => {
    const prefix = '{idolcast}';
    expect(parseConfig('', 'test.yaml', { REDIS_PREFIX: prefix }).redis.prefix).toBe(prefix);
    const k = keyspace(prefix);
    const keys = Object.values(k).flatMap((v) => (typeof v === 'function' ? [(v as (...a: string[]) => string)('a', 'b', 'c')] : [v]));
    // BullMQ's keys are `<prefix>:<queue>:<suffix>`.
    keys.push(...['wait', 'active', 'prioritized', 'delayed', 'completed', 'failed', 'meta', 'events', 'id', 'pc', 'marker', 'stalled', 'repeat', '1234'].map((s) => `${prefix}:tts:${s}`));
    keys.push(`${prefix}:playout-main:wait`);
    const slot = keySlot('idolcast');
    expect(keys.filter((key) => key !== prefix).every((key) => key.startsWith(`${prefix}:`) && keySlot(key) === slot)).toBe(true);
    // Without a hash tag the keys of one queue would scatter over the cluster.
    expect(new Set(['wait', 'active', 'meta', 'events'].map((s) => keySlot(`idolcast:tts:${s}`))).size).toBeGreaterThan(1);
  });

  it('Redis Cluster nodes from the file or REDIS_CLUSTER_NODES; the prefix gets a hash tag when it has none', () => {
    const fromFile = parseConfig('redis: { cluster: { nodes: ["r1:7000", "r2:7001"] } }', 'test.yaml', {});
    expect(redisTarget(fromFile)).toEqual({ url: '', cluster: ['r1:7000', 'r2:7001'] });
    expect(fromFile.redis.prefix).toBe('{idolcast}');
    const fromEnv = parseConfig('', 'test.yaml', { REDIS_CLUSTER_NODES: ' 10.0.0.1:7000 ,10.0.0.2:7000,', REDIS_PREFIX: 'live-a' });
    expect(fromEnv.redis.cluster.nodes).toEqual(['10.0.0.1:7000', '10.0.0.2:7000']);
    expect(fromEnv.redis.prefix).toBe('{live-a}');
    // A prefix that already has a tag keeps it; an empty tag `{}` is no tag to Redis.
    expect(['{idol}cast', 'x{a}', '{}a'].map(clusterPrefix)).toEqual(['{idol}cast', 'x{a}', '{{}a}']);
    // Without cluster nodes the prefix is left as it is.
    expect(parseConfig('', 'test.yaml', { REDIS_PREFIX: 'live-a' }).redis.prefix).toBe('live-a');
  });

  it('rejects a cluster node without a port, and sentinels and cluster nodes together', () => {
    expect(() => parseConfig('', 'test.yaml', { REDIS_CLUSTER_NODES: 'node-a' })).toThrow(/redis\.cluster\.nodes\.0: host:port/);
    expect(() => parseConfig('', 'test.yaml', { REDIS_CLUSTER_NODES: 'a:7000', REDIS_SENTINELS: 's:26379' })).toThrow(/redis\.cluster\.nodes: set either sentinels or cluster\.nodes/);
  });

  it('a Cluster target gives every node connection the URL credentials and TLS; workers ride out a failover', () => {
    const opts = clusterOptions('rediss://app:s%40cret@ignored:1', { maxRetriesPerRequest: null }, true);
    expect(opts.redisOptions).toMatchObject({ username: 'app', password: 's@cret', tls: {}, maxRetriesPerRequest: null });
    expect(opts.maxRedirections).toBe(Infinity);
    expect(clusterOptions('', {}).maxRedirections).toBe(16);
  });
});
