/**
 * What every part of `npm run bench` shares: the bench's own loopback redis-server, its config and
 * fleet processes (`Bench`), the sizes of a throughput round, and the chat and speech it offers.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import YAML from 'yaml';
import type { Payload } from '../queues/registry';
import type { ChatEvent } from '../queues/chat-event.schema';
import { parseConfig } from '../src/config/load';
import { CLI_ENTRY } from '../src/paths';
import { createRedis, type Redis } from '../src/redis';
import { startRedisServer } from '../src/supervisor/redis-server';

export const N = 20_000;
export const BATCH = 500;
export const log = (...a: unknown[]) => console.error('[bench]', ...a);

export function percentile(values: number[], p: number): number {
  if (!values.length) return NaN;
  const s = [...values].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))]!;
}
export const round1 = (x: number) => Math.round(x * 10) / 10;

const WORDS = 'hello idol what a lovely stream today can you sing the song again please thank you so much for the music'.split(' ');
export function sentence(i: number): string {
  const n = 6 + (i % 7);
  return Array.from({ length: n }, (_, k) => WORDS[(i * 7 + k * 3) % WORDS.length]).join(' ');
}

export function ttsPayload(i: number, run: string): Payload<'tts'> {
  return { utteranceId: `${run}-${i}`, channel: 'main', text: sentence(i), voice: 'default', priority: 2, acceptedAt: Date.now(), origin: { platform: 'bench', user: `u${i % 500}` } };
}

export function chatEvent(i: number, run: string): ChatEvent {
  const now = Date.now();
  return { platform: 'local', channel: 'main', id: `${run}-${i}`, kind: 'message', text: sentence(i), emotes: [], timestamp: now, acceptedAt: now, user: { id: `u${i % 5000}`, login: `u${i % 5000}`, displayName: `U${i % 5000}`, roles: [] } };
}

export class Bench {
  readonly prefix = `bench${randomBytes(3).toString('hex')}`;
  readonly dir = fs.mkdtempSync(path.join(os.tmpdir(), 'idolcast-bench-'));
  readonly configPath = path.join(this.dir, 'config.yaml');
  private readonly children: ChildProcess[] = [];
  redis!: Redis;
  url!: string;
  stopRedis!: () => Promise<void>;

  async start(): Promise<void> {
    const port = 20000 + Math.floor(Math.random() * 20000);
    const r = await startRedisServer({ port, dir: path.join(this.dir, 'redis'), appendonly: false });
    this.url = r.url;
    this.stopRedis = r.stop;
    this.redis = createRedis(this.url);
    // Generous chat limits: the bench measures the path, not the filter's rejections.
    fs.writeFileSync(
      this.configPath,
      YAML.stringify({
        redis: { prefix: this.prefix },
        chat: { filter: { rateLimit: { capacity: 1000, perSecond: 1000 }, repeatWindowMs: 0 }, load: { shedDepth: 1_000_000, plainTtlMs: 600_000 } },
        // Every line synthesised for real: the speech cache would serve the bench's repeated sentences.
        tts: { cache: { enabled: false } },
        log: { level: 'warn' },
      }),
    );
  }

  config() {
    return parseConfig(fs.readFileSync(this.configPath, 'utf8'), this.configPath, { REDIS_URL: this.url });
  }

  spawn(args: string[], env: NodeJS.ProcessEnv = {}): ChildProcess {
    const child = spawn(process.execPath, [CLI_ENTRY, ...args], { env: { ...process.env, IDOLCAST_CONFIG: this.configPath, REDIS_URL: this.url, ...env }, stdio: ['ignore', 'ignore', 'inherit'] });
    this.children.push(child);
    return child;
  }

  async stopChildren(): Promise<void> {
    await Promise.all(
      this.children.splice(0).map(
        (c) =>
          new Promise<void>((resolve) => {
            if (c.exitCode !== null || c.signalCode !== null) return resolve();
            const kill = setTimeout(() => c.kill('SIGKILL'), 10_000);
            c.once('exit', () => (clearTimeout(kill), resolve()));
            c.kill('SIGTERM');
          }),
      ),
    );
  }

  async flush(): Promise<void> {
    await this.redis.flushdb();
  }

  async close(): Promise<void> {
    await this.stopChildren();
    this.redis?.disconnect();
    await this.stopRedis?.();
    fs.rmSync(this.dir, { recursive: true, force: true });
  }
}
