import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Queues } from '../../queues/registry';
import { DurableEnqueue } from '../../src/chat/durable-enqueue';
import { parseConfig } from '../../src/config/load';
import { createLogger } from '../../src/logger';
import { redisTarget } from '../../src/process';
import { createRedis, keyspace, waitForReplicas } from '../../src/redis';
import { askNode, keySlot, RedisCluster } from '../../testkit/redis-cluster';
import { eventually, runCli } from '../helpers/fleet';

/**
 * The accept wait on a real Redis Cluster (Debian's redis-server in cluster mode, three masters
 * and three replicas on loopback ports): a batch the ingest accepts is on a replica, a failover
 * between the enqueue and the WAIT makes it enqueue again, and a master left without a replica
 * is reported once, not per batch.
 */
describe('Redis Cluster: connections from the config and the ingest accept wait', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'idolcast-cluster-'));
  const cluster = new RedisCluster(dir);
  const closers: (() => Promise<unknown>)[] = [];

  beforeAll(() => cluster.start(), 60_000);
  afterAll(async () => {
    for (const close of closers.reverse()) await close().catch(() => {});
    await cluster.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  }, 30_000);

  it('enqueues through two of the nodes named in REDIS_CLUSTER_NODES, waits for the replica, enqueues again across a failover, and reports once when there is no replica', async () => {
    // A wait long enough that a loaded machine's replica answers within it (the default is 100 ms).
    const config = parseConfig('redis: { prefix: itest, cluster: { acceptWaitMs: 2000 } }', 'test.yaml', { REDIS_CLUSTER_NODES: cluster.addresses.slice(0, 2).join(',') });
    expect(config.redis.prefix).toBe('{itest}');
    const redis = createRedis(redisTarget(config), { forWorker: true });
    closers.push(() => redis.quit());
    const queues = new Queues(redis, config.redis.prefix);
    closers.push(() => queues.close());
    const keys = keyspace(config.redis.prefix);
    const lines: Record<string, unknown>[] = [];
    const log = createLogger('ingest-test', 'info', { write: (l: string) => void lines.push(JSON.parse(l) as Record<string, unknown>) });
    const durable = new DurableEnqueue({ config, redis, keys, log });
    let calls = 0;
    const say = (n: number, meanwhile?: () => Promise<unknown>) => durable.run(async () => {
      calls++;
      await queues.enqueue('tts', { utteranceId: `u${n}`, channel: 'main', text: `line ${n}`, voice: 'idol', priority: 5, acceptedAt: Date.now(), origin: { platform: 'local', user: 'test' } });
      if (!meanwhile) return;
      const run = meanwhile;
      meanwhile = undefined;
      await run();
    });

    await say(1);
    // The replica holds what our slot's master took: WAIT, sent to that master, counts it.
    const slot = keySlot(config.redis.prefix);
    const master = (await cluster.masterOf(slot))!;
    expect(await waitForReplicas(redis, keys.speechOrder, 1, 5000)).toEqual({ acked: 1, master: await askNode(master.port, 'CLUSTER', 'MYID') });
    expect(lines.filter((l) => Number(l.level) >= 40)).toEqual([]);

    // The master dies between a batch's enqueue and its WAIT; its replica is promoted. The WAIT
    // then reaches the new master, which counts none of the writes made to the old one: enqueued again.
    const failover = async () => {
      await cluster.kill(master);
      await eventually(async () => ((await cluster.masterOf(slot)) !== master ? true : undefined), 'the replica to take over', 30_000, 100);
    };
    await say(2, failover);
    // say(1) once, say(2) twice.
    expect(calls).toBe(3);
    expect(lines.filter((l) => l.msg === 'enqueue failed: retrying').map((l) => l.err)).toEqual(['the master changed during the enqueue']);
    await say(3);
    await say(4);
    // The promoted master has no replica: accepted all the same (refusing chat would lose more), and said once.
    expect(lines.filter((l) => l.msg === 'accepted chat is on fewer replicas than asked: a master lost now would lose it').map((l) => l.wanted)).toEqual([1]);
    expect((await queues.queue('tts').getJobCounts('prioritized')).prioritized).toBe(4);

    // The CLI on the same cluster, configured by the environment alone (as an operator runs it).
    const env = { ...process.env, IDOLCAST_CONFIG: '', REDIS_URL: '', REDIS_PREFIX: 'itest', REDIS_CLUSTER_NODES: cluster.addresses[0]!, LOG_LEVEL: 'silent' };
    expect((await runCli(['say', 'from the command line'], env)).code).toBe(0);
    expect((await queues.queue('tts').getJobCounts('prioritized')).prioritized).toBe(5);
    const status = await runCli(['status', '--json'], env);
    expect(status.code).toBe(0);
    expect(JSON.parse(status.stdout)).toMatchObject({ prefix: '{itest}' });
  }, 60_000);
});
