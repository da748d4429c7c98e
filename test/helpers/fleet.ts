import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import readline from 'node:readline';
import YAML from 'yaml';
import { Queues } from '../../queues/registry';
import { DEFAULT_CONFIG_PATH, parseConfig } from '../../src/config/load';
import type { Config } from '../../src/config/schema';
import { CLI_ENTRY } from '../../src/paths';
import { createRedis, keyspace, type Redis } from '../../src/redis';
import { killProcessesUsing } from '../../testkit/procfs';
import { sleep } from '../../src/time';

/** The redis-server the global set-up started. */
export function redisUrl(): string {
  const url = process.env.TEST_REDIS_URL;
  if (!url) throw new Error('TEST_REDIS_URL is not set: run the tests through jest (globalSetup starts Redis)');
  return url;
}

type DeepPartial<T> = { [K in keyof T]?: T[K] extends object ? DeepPartial<T[K]> : T[K] };

function merge(base: Record<string, unknown>, over: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = { ...base };
  for (const [k, v] of Object.entries(over)) {
    const b = out[k];
    out[k] = v && typeof v === 'object' && !Array.isArray(v) && b && typeof b === 'object' ? merge(b as Record<string, unknown>, v as Record<string, unknown>) : v;
  }
  return out;
}

/**
 * A test's own world: a temp directory, a config file with a unique Redis prefix (so tests
 * never see each other's keys), and the processes it starts, all cleaned up by `close`.
 */
export class TestFleet {
  readonly dir = fs.mkdtempSync(path.join(os.tmpdir(), 'idolcast-test-'));
  readonly prefix = `t${randomBytes(4).toString('hex')}`;
  readonly configPath = path.join(this.dir, 'config.yaml');
  config: Config;
  private raw: Record<string, unknown>;
  readonly redis: Redis;
  readonly queues: Queues;
  readonly keys;
  private readonly children = new Set<ChildProcess>();
  /** The Redis of this fleet: the shared test server, or one the test started (e.g. to restart it). */
  readonly redisUrl: string;

  constructor(overrides: DeepPartial<Config> | Record<string, unknown> = {}, opts: { redisUrl?: string } = {}) {
    this.redisUrl = opts.redisUrl ?? redisUrl();
    const base = {
      redis: { prefix: this.prefix },
      channels: { main: { live: { dir: path.join(this.dir, 'live'), listSize: 30 } } },
      // Silence between lines, so tests can tell speech from the gaps (the bed has tests of its own).
      playout: { bed: { source: 'none' } },
      workers: { heartbeatMs: 500, lockDurationMs: 2000, stalledIntervalMs: 500, shutdownTimeoutMs: 10000 },
      // A loaded test machine's event-loop lag reads as a slow Redis and would shed the chat a test
      // expects spoken; the degradation tests set their own thresholds.
      degradation: { redisRttMs: { shed: 5000, ttl: 10000, voice: 20000 } },
      log: { level: 'info' },
    };
    // The shipped defaults, then the test's isolation, then what the test changes.
    const shipped = YAML.parse(fs.readFileSync(DEFAULT_CONFIG_PATH, 'utf8')) as Record<string, unknown>;
    // The shipped programme would speak into tests that expect their own lines: tests start with
    // none (test/unit/schedule.test.ts previews the shipped one).
    delete (shipped.schedule as { routines?: unknown } | undefined)?.routines;
    this.raw = merge(merge(shipped, base), overrides);
    this.config = this.write();
    this.redis = createRedis(this.redisUrl);
    this.keys = keyspace(this.prefix);
    this.queues = new Queues(this.redis, this.prefix);
  }

  /** Change the config file (for processes started after this). */
  configure(overrides: DeepPartial<Config> | Record<string, unknown>): void {
    this.raw = merge(this.raw, overrides);
    this.config = this.write();
  }

  private write(): Config {
    fs.writeFileSync(this.configPath, YAML.stringify(this.raw));
    return parseConfig(fs.readFileSync(this.configPath, 'utf8'), this.configPath, { REDIS_URL: this.redisUrl });
  }

  env(extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
    return { ...process.env, IDOLCAST_CONFIG: this.configPath, REDIS_URL: this.redisUrl, ...extra };
  }

  /** Start `idolcast <args>`; its JSON log lines are collected for `waitForLog`. */
  start(args: string[], extraEnv: NodeJS.ProcessEnv = {}): RunningProcess {
    const child = spawn(process.execPath, [CLI_ENTRY, ...args], { env: this.env(extraEnv), stdio: ['ignore', 'pipe', 'pipe'] });
    this.children.add(child);
    child.on('exit', () => this.children.delete(child));
    return new RunningProcess(child);
  }

  async close(): Promise<void> {
    for (const child of this.children) child.kill('SIGKILL');
    await Promise.all([...this.children].map((c) => new Promise((r) => (c.exitCode !== null || c.signalCode !== null ? r(null) : c.once('exit', r)))));
    await this.queues.close();
    const keys = await this.redis.keys(`${this.prefix}:*`);
    for (let i = 0; i < keys.length; i += 500) await this.redis.del(...keys.slice(i, i + 500));
    await this.redis.quit();
    // An ffmpeg whose broadcaster a test SIGKILLed (or paused) may still be writing segments here:
    // it ends on its own once its input closes, but a loaded machine must not fail the clean-up.
    killProcessesUsing(this.dir);
    fs.rmSync(this.dir, { recursive: true, force: true, maxRetries: 10, retryDelay: 100 });
  }
}

/** A CLI process started by a test, with its log lines and exit. */
export class RunningProcess {
  readonly lines: Record<string, unknown>[] = [];
  readonly stderr: string[] = [];
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  private readonly waiters: { match: (l: Record<string, unknown>) => boolean; resolve: (l: Record<string, unknown>) => void }[] = [];

  constructor(readonly child: ChildProcess) {
    this.exited = new Promise((resolve) => child.on('exit', (code, signal) => resolve({ code, signal })));
    readline.createInterface({ input: child.stdout! }).on('line', (line) => {
      let parsed: Record<string, unknown>;
      try {
        parsed = JSON.parse(line) as Record<string, unknown>;
      } catch {
        parsed = { msg: line };
      }
      this.lines.push(parsed);
      for (const w of [...this.waiters]) {
        if (!w.match(parsed)) continue;
        this.waiters.splice(this.waiters.indexOf(w), 1);
        w.resolve(parsed);
      }
    });
    readline.createInterface({ input: child.stderr! }).on('line', (line) => this.stderr.push(line));
  }

  /** Resolve with the first log line (past or future) whose `msg` is `msg` and that matches `where`. */
  waitForLog(msg: string, where: Record<string, unknown> = {}, timeoutMs = 20000): Promise<Record<string, unknown>> {
    const match = (l: Record<string, unknown>) => l.msg === msg && Object.entries(where).every(([k, v]) => l[k] === v);
    const seen = this.lines.find(match);
    if (seen) return Promise.resolve(seen);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no log "${msg}" within ${timeoutMs} ms; stderr: ${this.stderr.join('\n').slice(-2000)}; last lines: ${JSON.stringify(this.lines.slice(-5))}`)), timeoutMs);
      this.waiters.push({ match, resolve: (l) => (clearTimeout(timer), resolve(l)) });
    });
  }

  kill(signal: NodeJS.Signals): void {
    this.child.kill(signal);
  }
}

/** Run `idolcast <args>` to completion. */
export function runCli(args: string[], env: NodeJS.ProcessEnv, timeoutMs = 30000): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CLI_ENTRY, ...args], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => (child.kill('SIGKILL'), reject(new Error(`idolcast ${args.join(' ')} did not finish in ${timeoutMs} ms`))), timeoutMs);
    child.on('exit', (code) => (clearTimeout(timer), resolve({ code, stdout, stderr })));
  });
}

/** Poll `probe` until it returns a value other than undefined (bounded). */
export async function eventually<T>(probe: () => Promise<T | undefined>, what: string, timeoutMs = 20000, everyMs = 50): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await probe();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(everyMs);
  }
}

