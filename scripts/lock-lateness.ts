import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Command } from 'commander';
import { GeneratedBed } from '../src/broadcast/bed';
import { Leadership } from '../src/broadcast/leadership';
import { RealtimePump } from '../src/broadcast/realtime-pump';
import { createLogger } from '../src/logger';
import { freeLoopbackPort } from '../src/ports';
import { createRedis } from '../src/redis';
import { startRedisServer } from '../src/supervisor/redis-server';
import { sleep } from '../src/time';
import { runMain } from './run-main';

/**
 * How late the broadcast lock's renewal comes on a loaded machine: the real `Leadership` renewing
 * a lock on a local redis-server while the broadcaster's own hot loop (the real-time pump mixing
 * the bed, 48 kHz) runs, and `--busy` processes spin (`node -e 'for(;;){}'`). Per run: the median,
 * 99th percentile and maximum of how late the renewal timer fired plus the round trip (how stale
 * the lease got), and how many times the lease lapsed. Used to choose `playout.leaderLockMs`.
 */
const opts = new Command()
  .option('--runs <n>', 'runs', Number, 5)
  .option('--seconds <s>', 'seconds per run', Number, 20)
  .option('--busy <n>', 'busy-loop processes', Number, 2)
  .option('--ttl <ms>', 'lock TTL', Number, 1000)
  .parse()
  .opts<{ runs: number; seconds: number; busy: number; ttl: number }>();

const quantile = (xs: number[], q: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(q * s.length))] ?? 0;
};

async function run(url: string, n: number) {
  const redis = createRedis(url);
  const lead = new Leadership(redis, { lock: `lateness:${n}:lock`, fence: `lateness:${n}:fence` }, `bench-${n}`, opts.ttl, createLogger('lateness', 'warn'));
  const stale: number[] = [];
  let lapses = 0;
  let lost = 0;
  lead.on('renewed', ({ lateMs, rttMs }) => stale.push(lateMs + rttMs));
  lead.on('regained', () => lapses++);
  lead.on('lost', () => lost++);
  const pump = new RealtimePump(48_000, 250, () => {}, 20, { bed: new GeneratedBed(48_000), level: 0.1, duckLevel: 0.05 });
  pump.start();
  await lead.acquire(() => false);
  lead.keep();
  await sleep(opts.seconds * 1000);
  pump.stop();
  await lead.release();
  redis.disconnect();
  return { run: n, renewals: stale.length, medianMs: quantile(stale, 0.5), p99Ms: quantile(stale, 0.99), maxMs: Math.max(...stale), lapses, lost };
}

async function main(): Promise<void> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'idolcast-lateness-'));
  const port = await freeLoopbackPort();
  const server = await startRedisServer({ port, dir, appendonly: false });
  const busy: ChildProcess[] = Array.from({ length: opts.busy }, () => spawn(process.execPath, ['-e', 'for(;;){}'], { stdio: 'ignore' }));
  try {
    const runs = [];
    for (let n = 0; n < opts.runs; n++) {
      const r = await run(server.url, n);
      console.log(JSON.stringify(r));
      runs.push(r);
    }
    const medians = runs.map((r) => r.medianMs);
    const maxes = runs.map((r) => r.maxMs);
    console.log(JSON.stringify({ ttlMs: opts.ttl, busy: opts.busy, cores: os.cpus().length, medianOfMedians: quantile(medians, 0.5), medians: `${Math.min(...medians)}–${Math.max(...medians)}`, maxOfMax: Math.max(...maxes), medianOfMax: quantile(maxes, 0.5), lapses: runs.reduce((s, r) => s + r.lapses, 0) }));
  } finally {
    for (const b of busy) b.kill('SIGKILL');
    await server.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

runMain(main);
