import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { Queues } from '../../queues/registry';
import { parseConfig } from '../../src/config/load';
import { redisTarget } from '../../src/process';
import { createRedis, Redis } from '../../src/redis';
import { answersPing } from '../../src/supervisor/redis-server';
import { TestFleet, eventually } from '../helpers/fleet';
import { freeLoopbackPort } from '../../src/ports';

const MASTER_NAME = 'idolcast';

/** A redis-server child on a loopback port (a data node, or a sentinel with `--sentinel`). */
function startServer(args: string[], log: string): ChildProcess {
  const out = fs.openSync(log, 'a');
  const child = spawn('redis-server', args, { stdio: ['ignore', out, out] });
  fs.closeSync(out);
  return child;
}

const answers = (port: number) => answersPing(`redis://127.0.0.1:${port}`);

/** One-shot command against a loopback server or sentinel. */
async function ask(port: number, ...command: [string, ...(string | number)[]]): Promise<unknown> {
  const r = new Redis({ port, host: '127.0.0.1', maxRetriesPerRequest: 0, retryStrategy: () => null, connectTimeout: 500 });
  r.on('error', () => {});
  try {
    return await r.call(...command);
  } finally {
    r.disconnect();
  }
}

/**
 * Redis Sentinel failover with the real thing: a master, a replica and three sentinels (Debian's
 * redis-server in sentinel mode, the same binary Debian's redis-sentinel runs) on loopback ports.
 * Jobs go in through idolcast's Queues over the Sentinel connection built from the config, and a
 * real `idolcast worker maintenance` configured by REDIS_SENTINELS processes them. The master is
 * SIGKILLed; the sentinels promote the replica and both connections follow it.
 */
describe('Redis Sentinel failover', () => {
  let fleet: TestFleet;
  const servers: ChildProcess[] = [];
  const closers: (() => Promise<unknown>)[] = [];

  afterAll(async () => {
    for (const close of closers.reverse()) await close().catch(() => {});
    await fleet?.close();
    for (const s of servers) if (s.exitCode === null && s.signalCode === null) s.kill('SIGKILL');
    await Promise.all(servers.map((s) => new Promise((r) => (s.exitCode !== null || s.signalCode !== null ? r(null) : s.once('exit', r)))));
  });

  it('keeps enqueueing and processing jobs after the master is killed and a replica promoted', async () => {
    fleet = new TestFleet();
    const dir = (name: string) => {
      const d = path.join(fleet.dir, name);
      fs.mkdirSync(d, { recursive: true });
      return d;
    };
    const node = (port: number, name: string, extra: string[] = []) =>
      startServer(['--bind', '127.0.0.1', '--port', String(port), '--dir', dir(name), '--save', '', '--appendonly', 'no', '--daemonize', 'no', ...extra], path.join(fleet.dir, `${name}.log`));

    const masterPort = await freeLoopbackPort();
    const replicaPort = await freeLoopbackPort();
    const master = node(masterPort, 'master');
    servers.push(master);
    servers.push(node(replicaPort, 'replica', ['--replicaof', '127.0.0.1', String(masterPort)]));
    await eventually(async () => ((await answers(masterPort)) && (await answers(replicaPort)) ? true : undefined), 'master and replica to answer', 15000);
    await eventually(async () => (String(await ask(replicaPort, 'INFO', 'replication')).includes('master_link_status:up') ? true : undefined), 'the replica to sync', 15000);

    const sentinelPorts = [await freeLoopbackPort(), await freeLoopbackPort(), await freeLoopbackPort()];
    for (const [i, port] of sentinelPorts.entries()) {
      const conf = path.join(dir(`sentinel-${i}`), 'sentinel.conf');
      // Short timings so the failover happens within seconds; quorum 2 of 3.
      fs.writeFileSync(conf, [
        `port ${port}`, 'bind 127.0.0.1', `dir ${path.dirname(conf)}`,
        `sentinel monitor ${MASTER_NAME} 127.0.0.1 ${masterPort} 2`,
        `sentinel down-after-milliseconds ${MASTER_NAME} 1000`,
        `sentinel failover-timeout ${MASTER_NAME} 5000`,
        `sentinel parallel-syncs ${MASTER_NAME} 1`,
      ].join('\n') + '\n');
      servers.push(startServer([conf, '--sentinel'], path.join(fleet.dir, `sentinel-${i}.log`)));
    }
    // Every sentinel must know the replica and the other two before a failover can be agreed on.
    await eventually(async () => {
      for (const port of sentinelPorts) {
        const replicas = (await ask(port, 'SENTINEL', 'REPLICAS', MASTER_NAME).catch(() => [])) as unknown[];
        const peers = (await ask(port, 'SENTINEL', 'SENTINELS', MASTER_NAME).catch(() => [])) as unknown[];
        if (replicas.length < 1 || peers.length < 2) return undefined;
      }
      return true;
    }, 'the sentinels to discover the replica and each other', 30000, 200);

    const sentinels = sentinelPorts.map((p) => `127.0.0.1:${p}`);
    const env = { REDIS_URL: '', REDIS_SENTINELS: sentinels.join(','), REDIS_SENTINEL_NAME: MASTER_NAME };
    // The same config path the processes take: the environment overrides become a Sentinel target.
    const config = parseConfig(fs.readFileSync(fleet.configPath, 'utf8'), fleet.configPath, env);
    expect(config.redis.sentinels).toEqual(sentinels);
    const redis = createRedis(redisTarget(config));
    redis.on('error', () => {});
    closers.push(() => redis.quit());
    const queues = new Queues(redis, fleet.prefix);
    closers.push(() => queues.close());
    const maintenance = queues.queue('maintenance');
    // Commands fail while there is no master; the test retries, so the errors are expected.
    maintenance.on('error', () => {});

    const worker = fleet.start(['worker', 'maintenance'], env);
    await worker.waitForLog('worker ready', {}, 30000);
    const before = await Promise.all([1, 2, 3].map(() => queues.enqueue('maintenance', { task: 'sweep' })));
    await eventually(async () => (((await maintenance.getJobCounts('completed')).completed ?? 0) >= before.length ? true : undefined), 'jobs before the failover to complete', 30000);
    // Wait until the replica has everything, so the failover loses nothing we check for.
    await redis.call('WAIT', 1, 5000);

    const killedAt = Date.now();
    master.kill('SIGKILL');
    const promotedAt = await eventually(async () => {
      const addr = (await ask(sentinelPorts[0]!, 'SENTINEL', 'GET-MASTER-ADDR-BY-NAME', MASTER_NAME).catch(() => undefined)) as string[] | undefined;
      return addr?.[1] === String(replicaPort) ? Date.now() : undefined;
    }, 'the sentinels to promote the replica', 60000, 50);

    // The producer connection follows the new master: keep trying one enqueue until it goes in.
    const firstAfter = await eventually(async () => {
      try {
        return await queues.enqueue('maintenance', { task: 'sweep' });
      } catch {
        return undefined;
      }
    }, 'an enqueue to succeed on the new master', 60000, 100);
    const writableAt = Date.now();
    const after = [firstAfter, ...(await Promise.all([1, 2, 3, 4].map(() => queues.enqueue('maintenance', { task: 'sweep' }))))];
    const done = await eventually(async () => {
      const states = await Promise.all(after.map(async (j) => (await maintenance.getJob(j.id!))?.getState()));
      return states.every((s) => s === 'completed') ? Date.now() : undefined;
    }, 'the worker to process the jobs enqueued after the failover', 60000, 100);

    expect(String(await ask(replicaPort, 'INFO', 'replication'))).toContain('role:master');
    // Nothing completed before the failover was lost with the old master.
    expect(((await maintenance.getJobCounts('completed')).completed ?? 0)).toBeGreaterThanOrEqual(before.length + after.length);
    // Generous bounds only: the figures themselves are the report.
    expect(promotedAt - killedAt).toBeLessThan(60000);
    console.log(JSON.stringify({
      test: 'sentinel-failover',
      downAfterMs: 1000,
      promotedMs: promotedAt - killedAt,
      enqueueOkMs: writableAt - killedAt,
      processedMs: done - killedAt,
      jobsBefore: before.length,
      jobsAfter: after.length,
    }));
    fs.mkdirSync('test-artifacts', { recursive: true });
    fs.writeFileSync(path.join('test-artifacts', 'sentinel-failover.json'), JSON.stringify({ promotedMs: promotedAt - killedAt, enqueueOkMs: writableAt - killedAt, processedMs: done - killedAt }) + '\n');

    worker.kill('SIGTERM');
    expect((await worker.exited).code).toBe(0);
  }, 180000);
});
