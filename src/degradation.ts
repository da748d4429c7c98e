import type { Redis } from './redis';
import type { Queues } from '../queues/registry';
import type { Config } from './config/schema';
import { isConfigured } from './config/names';
import type { Logger } from './logger';
import type { Metrics } from './metrics';
import type { Keyspace } from './redis';
import { degradationDepths } from './config/degradation.schema';
import { voiceChain } from './config/tts.schema';

/**
 * How far the fleet has degraded, in the stated order; each level keeps what the ones below do:
 * 0 normal, 1 plain chat speech shed, 2 plain chat on a short time-to-live, 3 cheaper voices for
 * chat lines. Paid, moderator, operator and routine lines are never touched.
 */
export type Level = 0 | 1 | 2 | 3;
export const LEVEL_NAMES = ['normal', 'shed plain chat', 'short time-to-live', 'cheaper voices'] as const;
/** What raised the level: the speech backlog, or Redis's round trip. */
export type Cause = 'backlog' | 'redis_rtt';

export interface Thresholds {
  /** Backlog depths at which levels 1, 2 and 3 start. */
  backlog: readonly [number, number, number];
  /** Redis round trips (ms) at which levels 1, 2 and 3 start. */
  rttMs: readonly [number, number, number];
  /** A level is left only once every input is below this share of its threshold… */
  recoverRatio: number;
  /** …and it has held this long. */
  holdMs: number;
}

export function thresholdsFrom(config: Pick<Config, 'chat' | 'degradation'>): Thresholds {
  const { redisRttMs, recoverRatio, holdMs } = config.degradation;
  return { backlog: degradationDepths(config), rttMs: [redisRttMs.shed, redisRttMs.ttl, redisRttMs.voice], recoverRatio, holdMs };
}

/** The level one input alone calls for: how many thresholds it has reached (each scaled by `scale`). */
export function levelFor(value: number, thresholds: readonly [number, number, number], scale = 1): Level {
  let level = 0;
  for (const t of thresholds) if (value >= t * scale) level++;
  return level as Level;
}

export interface Reading {
  level: Level;
  cause?: Cause;
  /** When the level last changed (ms). */
  since: number;
  backlog: number;
  rttMs: number;
}

/**
 * The level with hysteresis: it rises at once when an input reaches a threshold (load must be
 * met now), and falls one level at a time, only once every input is below `recoverRatio` of the
 * current level's threshold and the level has held for `holdMs`, so it does not flap.
 */
export class DegradationState {
  private reading: Reading = { level: 0, since: 0, backlog: 0, rttMs: 0 };

  constructor(private readonly t: Thresholds) {}

  get current(): Reading {
    return this.reading;
  }

  /** Feed one sample; returns the previous level when it changed. */
  update(backlog: number, rttMs: number, now = Date.now()): { from: Level } | undefined {
    const byBacklog = levelFor(backlog, this.t.backlog);
    const byRtt = levelFor(rttMs, this.t.rttMs);
    const up = Math.max(byBacklog, byRtt) as Level;
    const from = this.reading.level;
    let level = from;
    let cause = this.reading.cause;
    if (up > from) {
      level = up;
      cause = byBacklog >= byRtt ? 'backlog' : 'redis_rtt';
    } else if (from > 0 && now - this.reading.since >= this.t.holdMs) {
      // Below the recovery share of this level's thresholds on every input: one step down.
      const stay = Math.max(levelFor(backlog, this.t.backlog, this.t.recoverRatio), levelFor(rttMs, this.t.rttMs, this.t.recoverRatio));
      if (stay < from) level = (from - 1) as Level;
      if (level === 0) cause = undefined;
    }
    const changed = level !== from;
    this.reading = { level, cause, since: changed ? now : this.reading.since, backlog, rttMs };
    return changed ? { from } : undefined;
  }
}

/** The median of the last few round trips: one slow ping is noise, two in three is a slow Redis. */
class RoundTrips {
  private readonly last: number[] = [];
  add(ms: number): number {
    this.last.push(ms);
    if (this.last.length > 3) this.last.shift();
    const sorted = [...this.last].sort((a, b) => a - b);
    return sorted[Math.floor((sorted.length - 1) / 2)]!;
  }
}

type MonitorDeps = { config: Config; redis: Redis; keys: Keyspace; queues: Queues; log: Logger; metrics: Metrics };

/** A sample is reused this long: a flood must not count queues for every batch. */
const SAMPLE_CACHE_MS = 250;

/**
 * Measures the speech backlog (lines waiting for synthesis, encoding or air) and Redis's round
 * trip, keeps the level, and shares it through Redis (`keys.degradation`, expiring unless renewed,
 * so a fleet whose ingest is gone falls back to normal). Every change is logged and the level is
 * a gauge. Runs in the ingest process: the command processor sheds by it, the tts workers read it.
 */
export class DegradationMonitor {
  readonly state: DegradationState;
  private readonly rtts = new RoundTrips();
  private rttMs = 0;
  private sampledAt = 0;
  private inFlight?: Promise<Reading>;
  private timer?: NodeJS.Timeout;
  private stopped = false;

  constructor(private readonly deps: MonitorDeps) {
    this.state = new DegradationState(thresholdsFrom(deps.config));
  }

  get level(): Level {
    return this.state.current.level;
  }

  /** Measure now (or reuse a sample younger than 250 ms) and update the level. */
  sample(): Promise<Reading> {
    if (Date.now() - this.sampledAt < SAMPLE_CACHE_MS) return Promise.resolve(this.state.current);
    this.inFlight ??= this.measure().finally(() => (this.inFlight = undefined));
    return this.inFlight;
  }

  private async measure(): Promise<Reading> {
    const started = performance.now();
    await this.deps.redis.ping();
    this.rttMs = this.rtts.add(performance.now() - started);
    const backlog = await speechBacklog(this.deps.queues, this.deps.config);
    this.sampledAt = Date.now();
    this.observe(backlog);
    this.deps.metrics.redisRoundTrip.set(this.rttMs / 1000);
    return this.state.current;
  }

  /** A backlog the caller counted itself (the command processor adds its own batch's lines as it plans them). */
  observe(backlog: number): void {
    const changed = this.state.update(backlog, this.rttMs);
    if (!changed) return;
    const r = this.state.current;
    this.deps.metrics.degradationLevel.set(r.level);
    // `degradationLevel`, not `level`: pino writes its own `level` (the log level) in every line.
    const fields = { degradationLevel: r.level, fromLevel: changed.from, name: LEVEL_NAMES[r.level], cause: r.cause, backlog: r.backlog, redisRttMs: Math.round(r.rttMs * 10) / 10 };
    if (r.level > changed.from) this.deps.log.warn(fields, 'degradation level raised');
    else this.deps.log.info(fields, 'degradation level lowered');
    void this.share();
  }

  /** Publish the level for the tts workers; renewed every sample, so it lapses when ingest is gone. */
  private async share(): Promise<void> {
    const r = this.state.current;
    const ttl = Math.max(3 * this.deps.config.degradation.sampleMs, 2000);
    await this.deps.redis.set(this.deps.keys.degradation, JSON.stringify({ level: r.level, cause: r.cause, since: r.since }), 'PX', ttl).catch((err: Error) => this.deps.log.warn({ err: err.message }, 'could not share the degradation level'));
  }

  /** Sample every `degradation.sampleMs`, so the level also falls while chat is quiet. */
  start(): void {
    const tick = async () => {
      try {
        await this.sample();
        await this.share();
      } catch (err) {
        this.deps.log.warn({ err: (err as Error).message }, 'degradation sample failed');
      }
      if (!this.stopped) this.timer = setTimeout(() => void tick(), this.deps.config.degradation.sampleMs);
    };
    this.deps.metrics.degradationLevel.set(this.level);
    void tick();
  }

  stop(): void {
    this.stopped = true;
    clearTimeout(this.timer);
  }
}

/** Lines waiting for synthesis, encoding or air, over every channel. */
export async function speechBacklog(queues: Queues, config: Config): Promise<number> {
  const states = ['waiting', 'prioritized', 'active', 'delayed'] as const;
  const all = [queues.queue('tts'), queues.queue('audio'), ...Object.keys(config.channels).map((c) => queues.queue('playout', c))];
  const counts = await Promise.all(all.map((q) => q.getJobCounts(...states)));
  return counts.reduce((sum, c) => sum + states.reduce((s, st) => s + (c[st] ?? 0), 0), 0);
}

/** The shared level is read at most this late by a worker: one GET per line is off the hot path. */
const SHARED_CACHE_MS = 250;
const sharedCache = new Map<string, { level: Level; at: number }>();

/** The fleet's level as the ingest process shares it (0 when nobody measures). */
export async function sharedLevel(redis: Redis, keys: Keyspace, now = Date.now()): Promise<Level> {
  const hit = sharedCache.get(keys.degradation);
  if (hit && now - hit.at < SHARED_CACHE_MS) return hit.level;
  let level: Level = 0;
  try {
    const raw = await redis.get(keys.degradation);
    const n = raw ? Number((JSON.parse(raw) as { level?: unknown }).level) : 0;
    if (n === 1 || n === 2 || n === 3) level = n;
  } catch {
    // Unreadable: speak normally rather than fail the line.
  }
  sharedCache.set(keys.degradation, { level, at: now });
  return level;
}

/** The voice that speaks a chat line at level 3: the voice's `cheaper`, else the last (local) voice of its chain. */
export function cheaperVoice(config: Pick<Config, 'voices' | 'defaultVoice'>, voice: string): string {
  const name = isConfigured(config.voices, voice) ? voice : config.defaultVoice;
  const named = config.voices[name]!.cheaper;
  if (named && isConfigured(config.voices, named)) return named;
  const chain = voiceChain(config.voices, name);
  return chain[chain.length - 1]!;
}
