import type { Redis } from '../redis';
import type { Queues } from '../../queues/registry';
import type { AiConfig } from '../config/ai.schema';
import { requireChannel } from '../config/names';
import type { Config } from '../config/schema';
import type { Logger } from '../logger';
import { inQuietHours, localTime } from '../schedule/clock';
import { previewSchedule } from '../schedule/preview';
import { aiKeys, type AiKeys } from './keys';

type IdleConfig = AiConfig['idle'];
export type IdleSource = IdleConfig['sources'][number];

const HOUR = 3_600_000;
/** How far ahead the programme is looked at for a topic. */
const SCHEDULE_LOOKAHEAD_HOURS = 3;
/** Idle state lives a week past the last line; channels come from config, so the count is bounded anyway. */
const STATE_TTL_MS = 7 * 24 * HOUR;

export interface IdleInput {
  now: number;
  /** Last chat message in the channel (ms), if any since the state began. */
  lastChatAt?: number;
  /** Last idle line started (ms). */
  lastIdleAt?: number;
  /** Idle lines started in the last hour. */
  linesLastHour: number;
}

export type IdleDecision = { start: true } | { start: false; reason: 'disabled' | 'chat active' | 'quiet hours' | 'budget'; retryAt?: number };

/** The quiet hours and time zone idle talk obeys: its own, else the schedule's. */
export function idleQuietHours(config: Config): { quiet?: { start: string; end: string }; tz: string } {
  const idle = config.ai.idle;
  return { quiet: idle.quietHours ?? config.schedule.quietHours, tz: idle.timezone ?? config.schedule.timezone };
}

/**
 * Whether to start a topic now: chat (and the idol's own idle talk) has been quiet for
 * `afterMs`, it is outside quiet hours, and fewer than `maxPerHour` idle lines went out in the
 * last hour. `retryAt` says when asking again can change the answer (absent: next tick).
 */
export function decideIdle(config: Config, input: IdleInput): IdleDecision {
  const cfg = config.ai.idle;
  if (!cfg.enabled || cfg.maxPerHour === 0) return { start: false, reason: 'disabled' };
  const quietSince = Math.max(input.lastChatAt ?? 0, input.lastIdleAt ?? 0);
  if (input.now - quietSince < cfg.afterMs) return { start: false, reason: 'chat active', retryAt: quietSince + cfg.afterMs };
  const { quiet, tz } = idleQuietHours(config);
  if (inQuietHours(input.now, quiet, tz)) return { start: false, reason: 'quiet hours' };
  if (input.linesLastHour >= cfg.maxPerHour) return { start: false, reason: 'budget' };
  return { start: true };
}

/** The channel's next programme entry in the coming hours, as a topic ("coming up at …"), if any. */
export function scheduleTopic(config: Config, channel: string, now: number): string | undefined {
  const next = previewSchedule(config, now, SCHEDULE_LOOKAHEAD_HOURS, 50).firings.find((f) => f.channel === channel && !f.quiet);
  if (!next) return undefined;
  const at = localTime(next.at, config.schedule.timezone).slice(11, 16);
  return `what is coming up on the stream at ${at}: ${next.routine.replace(/[-_]+/g, ' ')} (${next.action})`;
}

// Start an idle line only if no other replica started one since this one read the state
// (compare-and-set on lastIdleAt); record it for the hourly budget.
const CLAIM = `
local last = redis.call('HGET', KEYS[1], 'lastIdleAt') or ''
if last ~= ARGV[1] then return 0 end
local now = tonumber(ARGV[2])
redis.call('HSET', KEYS[1], 'lastIdleAt', now)
redis.call('ZADD', KEYS[2], now, now)
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', now - ${HOUR})
redis.call('PEXPIRE', KEYS[1], ${STATE_TTL_MS})
redis.call('PEXPIRE', KEYS[2], ${HOUR})
return 1`;

/** The job scheduler that ticks idle talk on the reply queue. */
export const IDLE_SCHEDULER = 'ai-idle';

/** How often idle talk is looked at: a quarter of `afterMs`, between 1 and 15 s. */
export function idleTickMs(afterMs: number): number {
  return Math.min(15_000, Math.max(1_000, Math.round(afterMs / 4)));
}

/**
 * Idle talk's clock: one BullMQ job scheduler for the fleet (one firing per tick however many
 * replicas), removed when idle talk is disabled. The reply worker runs each tick.
 */
export async function scheduleIdleTalk(queues: Queues, config: Config): Promise<void> {
  const { enabled, afterMs } = config.ai.idle;
  if (enabled) await queues.schedule('reply', IDLE_SCHEDULER, { every: idleTickMs(afterMs) }, { task: 'idle' });
  else await queues.queue('reply').removeJobScheduler(IDLE_SCHEDULER);
}

/** A topic to start on, and where it came from. */
export interface IdleTopic {
  source: IdleSource;
  topic: string;
}

/**
 * Idle talk of each channel: the decision above over a little Redis state shared by the fleet
 * (last chat, last idle line, idle lines of the last hour, the topic-source cursor and the
 * topics not yet used), so one replica at a time starts a topic. Topics come from the sources
 * in turn (`ai.idle.sources`): the configured list (each once before any repeats), the
 * programme's next entry, or what a viewer told the idol (a remembered summary: `memoryTopic`).
 * The caller checks the kill switch and generates the line (situation `idle`, the topic in the prompt).
 */
export class IdleTalk {
  readonly keys: AiKeys;

  constructor(private readonly deps: { config: Config; redis: Redis; log: Logger; now?: () => number; random?: () => number }) {
    this.keys = aiKeys(deps.config.redis.prefix);
  }

  private now(): number {
    return (this.deps.now ?? Date.now)();
  }

  /** A chat message arrived in the channel (resets the quiet time). */
  async noteChat(channel: string, at = this.now()): Promise<void> {
    requireChannel(this.deps.config, channel);
    await this.deps.redis.multi().hset(this.keys.idle(channel), 'lastChatAt', at).pexpire(this.keys.idle(channel), STATE_TTL_MS).exec();
  }

  /**
   * Quiet time counts from now in a channel that has no idle state yet (a fresh fleet, or a week
   * without a word): the idol does not open with an idle line the moment it starts.
   */
  async beginQuiet(channel: string, at = this.now()): Promise<void> {
    requireChannel(this.deps.config, channel);
    const key = this.keys.idle(channel);
    await this.deps.redis.multi().hsetnx(key, 'lastChatAt', at).pexpire(key, STATE_TTL_MS).exec();
  }

  /**
   * If it is time, claim the channel's next idle line and pick its topic; undefined when not
   * (the decision's reason is logged at debug) or when another replica claimed it first.
   * `memoryTopic` gives a remembered viewer's summary (Memory.randomSummary) for that source.
   */
  async tryStart(channel: string, memoryTopic?: () => Promise<string | undefined>): Promise<IdleTopic | undefined> {
    requireChannel(this.deps.config, channel);
    const now = this.now();
    const [state, lines] = await Promise.all([this.deps.redis.hgetall(this.keys.idle(channel)), this.deps.redis.zcount(this.keys.idleTimes(channel), now - HOUR, '+inf')]);
    const num = (v: string | undefined) => (v ? Number(v) : undefined);
    const decision = decideIdle(this.deps.config, { now, lastChatAt: num(state.lastChatAt), lastIdleAt: num(state.lastIdleAt), linesLastHour: lines });
    if (!decision.start) {
      this.deps.log.debug({ channel, reason: decision.reason }, 'no idle talk now');
      return undefined;
    }
    const claimed = await this.deps.redis.eval(CLAIM, 2, this.keys.idle(channel), this.keys.idleTimes(channel), state.lastIdleAt ?? '', now);
    if (Number(claimed) !== 1) return undefined;
    // Only the replica that claimed the line picks its topic, so no topic is used up by a loser.
    const picked = await this.pickTopic(channel, Number(state.cursor ?? 0), now, memoryTopic);
    await this.deps.redis.hset(this.keys.idle(channel), 'cursor', picked.cursor % this.deps.config.ai.idle.sources.length);
    this.deps.log.info({ channel, source: picked.topic?.source }, 'idle talk: starting a topic');
    // No source had a topic: the idle line goes out without one (the canned idle lines or the model's own idea).
    return picked.topic ?? { source: 'topics', topic: '' };
  }

  /** The first source, from the cursor on, that has a topic; the cursor moves past it so sources take turns. */
  private async pickTopic(channel: string, cursor: number, now: number, memoryTopic?: () => Promise<string | undefined>): Promise<{ topic?: IdleTopic; cursor: number }> {
    const sources = this.deps.config.ai.idle.sources;
    for (let i = 0; i < sources.length; i++) {
      const at = (cursor + i) % sources.length;
      const source = sources[at]!;
      const topic = source === 'topics' ? await this.listTopic(channel) : source === 'schedule' ? scheduleTopic(this.deps.config, channel, now) : await memoryTopic?.();
      if (topic) return { topic: { source, topic }, cursor: at + 1 };
    }
    return { cursor: cursor + 1 };
  }

  /** The next configured topic: each once per round, in a random order (a Redis set of the indices left). */
  private async listTopic(channel: string): Promise<string | undefined> {
    const topics = this.deps.config.ai.idle.topics;
    if (!topics.length) return undefined;
    const key = this.keys.idleTopics(channel);
    for (let attempt = 0; attempt < 2; attempt++) {
      const index = await this.deps.redis.spop(key);
      // An index past the list (the config changed) is dropped; an empty set starts a new round.
      if (index !== null && Number(index) < topics.length) return topics[Number(index)];
      if (index === null) await this.deps.redis.multi().sadd(key, ...topics.map((_, i) => i)).pexpire(key, STATE_TTL_MS).exec();
    }
    return undefined;
  }
}
