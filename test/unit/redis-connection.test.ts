import { parseConfig } from '../../src/config/load';
import { redisTarget } from '../../src/process';
import { keyspace, sentinelOptions } from '../../src/redis';

/** Redis Cluster's key slot: CRC16 (XMODEM) of the key, or of its first non-empty `{hash tag}`. */
function keySlot(key: string): number {
  const open = key.indexOf('{');
  const close = open >= 0 ? key.indexOf('}', open + 1) : -1;
  const hashed = close > open + 1 ? key.slice(open + 1, close) : key;
  let crc = 0;
  for (const byte of Buffer.from(hashed)) {
    crc ^= byte << 8;
    for (let i = 0; i < 8; i++) crc = crc & 0x8000 ? ((crc << 1) ^ 0x1021) & 0xffff : (crc << 1) & 0xffff;
  }
  return crc % 16384;
}

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
});
