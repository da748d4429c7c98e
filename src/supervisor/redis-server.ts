import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { Redis } from 'ioredis';
import { sleep } from '../time';

/** A redis-server child started by idolcast (the local default, or a test's own). */
export interface LocalRedis {
  url: string;
  port: number;
  /** Shut it down cleanly (an AOF server fsyncs first). */
  stop: () => Promise<void>;
  child?: ChildProcess;
}

/** A Redis (or sentinel) at `url` answers PING right now. */
export async function answersPing(url: string): Promise<boolean> {
  const probe = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null, connectTimeout: 500 });
  probe.on('error', () => {});
  try {
    await probe.connect();
    return (await probe.ping()) === 'PONG';
  } catch {
    return false;
  } finally {
    probe.disconnect();
  }
}

/**
 * Start redis-server on 127.0.0.1:`port` with idolcast's settings: `noeviction` (BullMQ needs
 * every key it wrote) and, when `appendonly`, AOF fsynced every second under `dir`.
 * When a server already answers on that port (left from a run that was not stopped cleanly)
 * it is reused rather than fought over.
 */
export async function startRedisServer(opts: { port: number; dir: string; appendonly: boolean; binary?: string; reuse?: boolean }): Promise<LocalRedis> {
  const url = `redis://127.0.0.1:${opts.port}`;
  if (opts.reuse && (await answersPing(url))) return { url, port: opts.port, stop: async () => {} };
  fs.mkdirSync(opts.dir, { recursive: true });
  const args = [
    '--bind', '127.0.0.1', '--port', String(opts.port), '--dir', path.resolve(opts.dir),
    '--maxmemory-policy', 'noeviction', '--save', '', '--protected-mode', 'yes', '--daemonize', 'no',
    '--appendonly', opts.appendonly ? 'yes' : 'no', '--appendfsync', 'everysec',
  ];
  const child = spawn(opts.binary ?? 'redis-server', args, { stdio: ['ignore', 'pipe', 'pipe'], detached: true });
  const output: string[] = [];
  const keep = (d: Buffer) => output.length < 50 && output.push(d.toString());
  child.stdout?.on('data', keep);
  child.stderr?.on('data', keep);
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  const failed = new Promise<never>((_, reject) => {
    child.on('error', (err) => reject(new Error(`cannot start redis-server: ${err.message} (install it: apt-get install redis-server)`)));
    void exited.then((code) => reject(new Error(`redis-server exited (${code}) at start:\n${output.join('').slice(-2000)}`)));
  });
  const deadline = Date.now() + 15000;
  const ready = (async () => {
    while (Date.now() < deadline) {
      if (await answersPing(url)) return;
      await sleep(50);
    }
    throw new Error(`redis-server did not answer on ${url} within 15 s`);
  })();
  // The loser of the race must not reject unhandled later: the poll's timeout after the child failed
  // would crash the caller 15 s on; later exits are the supervisor's business.
  ready.catch(() => {});
  failed.catch(() => {});
  await Promise.race([ready, failed]);
  const stop = async () => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), 10000);
    await exited;
    clearTimeout(timer);
    child.stdout?.destroy();
    child.stderr?.destroy();
  };
  return { url, port: opts.port, stop, child };
}
