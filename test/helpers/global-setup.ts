import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { startRedisServer } from '../../src/supervisor/redis-server';
import { freeLoopbackPort } from '../../src/ports';

/** One real redis-server on a free loopback port for the whole run; each test uses its own prefix. */
export default async function globalSetup(): Promise<void> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'idolcast-redis-'));
  const port = await freeLoopbackPort();
  const redis = await startRedisServer({ port, dir, appendonly: false });
  process.env.TEST_REDIS_URL = redis.url;
  (globalThis as Record<string, unknown>).__idolcastRedis = { stop: redis.stop, dir };
}
