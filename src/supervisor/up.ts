import fs from 'node:fs';
import path from 'node:path';
import { loadConfig } from '../config/load';
import { WORKER_KINDS } from '../../queues/catalog';
import { createLogger } from '../logger';
import { startRedisServer, type LocalRedis } from './redis-server';
import { Supervisor, type ChildSpec } from './supervisor';

/**
 * `idolcast up`: the whole fleet on one machine. Starts a local Redis when none is configured,
 * then the control server, ingest, one replica of every worker kind and a broadcaster per
 * channel, all supervised. SIGINT/SIGTERM stops the fleet first and Redis last.
 */
export async function runUp(): Promise<void> {
  const config = loadConfig();
  const log = createLogger('up', config.log.level);
  const env: NodeJS.ProcessEnv = { ...process.env };
  let redis: LocalRedis | undefined;
  let stopping = false;
  // No Redis configured (no URL, sentinels or cluster nodes): run a local one.
  if (!config.redis.url && !config.redis.sentinels.length && !config.redis.cluster.nodes.length) {
    const dir = path.resolve(config.redis.dataDir);
    redis = await startRedisServer({ port: config.redis.localPort, dir, appendonly: true, reuse: true });
    env.REDIS_URL = redis.url;
    log.info({ url: redis.url, dir, reused: !redis.child }, 'local redis ready (AOF on, noeviction)');
    redis.child?.on('exit', (code, signal) => {
      if (!stopping) log.error({ code, signal }, 'local redis exited: the fleet waits for it; restart `npm run up`');
    });
  }
  for (const c of Object.values(config.channels)) fs.mkdirSync(path.resolve(c.live.dir), { recursive: true });

  const specs: ChildSpec[] = [
    { name: 'control', args: ['control'] },
    { name: 'ingest', args: ['ingest'] },
    ...WORKER_KINDS.map((kind) => ({ name: `worker-${kind}`, args: ['worker', kind] })),
    ...Object.keys(config.channels).flatMap((id) =>
      Array.from({ length: 1 + config.playout.standbys }, (_, n) => ({ name: n ? `broadcast-${id}-${n + 1}` : `broadcast-${id}`, args: ['broadcast', '--channel', id] })),
    ),
  ];
  const supervisor = new Supervisor(specs, env, log);
  supervisor.start();
  log.info({ children: specs.map((s) => s.name), page: `http://${config.control.host}:${config.control.port}/` }, 'idolcast is up: open the page, type a message, hear the idol say it (Ctrl-C stops)');

  const stop = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    log.info({ signal }, 'stopping the fleet');
    await supervisor.stop();
    await redis?.stop();
    log.info('fleet stopped');
  };
  process.on('SIGINT', () => void stop('SIGINT'));
  process.on('SIGTERM', () => void stop('SIGTERM'));
}
