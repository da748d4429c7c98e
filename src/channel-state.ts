import type { Redis } from './redis';
import { isConfigured } from './config/names';
import type { Config } from './config/schema';
import type { Keyspace } from './redis';
import type { ControlMessage } from '../queues/live-events';

/**
 * A channel's state that chat commands change and every producer of lines reads: its current
 * voice (set by !voice), when its speech backlog was last cleared (set by !clear) and when its
 * AI lines were last dumped (`!dump` and the operator's dump). Only this module knows the Redis
 * keys they live under.
 */
export interface ChannelStateDeps {
  redis: Redis;
  keys: Keyspace;
  config: Pick<Config, 'voices' | 'defaultVoice'>;
}

/** A stored voice that is still configured (a reloaded config may have dropped it), else the default voice. */
function usable(config: ChannelStateDeps['config'], stored: string | null | undefined): string {
  return stored && isConfigured(config.voices, stored) ? stored : config.defaultVoice;
}

/** The voice a channel speaks in when a line names none: the one !voice set, or the default voice. */
export async function currentVoice(deps: ChannelStateDeps, channel: string): Promise<string> {
  return usable(deps.config, await deps.redis.get(deps.keys.channelVoice(channel)));
}

/** The current voices of several channels in one round trip (a batch of chat names a few). */
export async function currentVoices(deps: ChannelStateDeps, channels: readonly string[]): Promise<Map<string, string>> {
  const unique = [...new Set(channels)];
  if (!unique.length) return new Map();
  const stored = await deps.redis.mget(unique.map((c) => deps.keys.channelVoice(c)));
  return new Map(unique.map((c, n) => [c, usable(deps.config, stored[n])]));
}

/** Make `voice` (a configured name) the channel's current voice. */
export async function setVoice(deps: Pick<ChannelStateDeps, 'redis' | 'keys'>, channel: string, voice: string): Promise<void> {
  await deps.redis.set(deps.keys.channelVoice(channel), voice);
}

/** Mark the channel's speech backlog cleared now: every line accepted until now is dropped. */
export async function markCleared(deps: Pick<ChannelStateDeps, 'redis' | 'keys'>, channel: string, now = Date.now()): Promise<void> {
  await deps.redis.set(deps.keys.clearedAt(channel), String(now));
}

/** ARGV[1]: the new mark (ms), kept only when it is later than the one stored. */
const RAISE_MARK = `if tonumber(redis.call('GET', KEYS[1]) or '0') < tonumber(ARGV[1]) then redis.call('SET', KEYS[1], ARGV[1]) end return 0`;

/**
 * Mark the channel's AI lines dumped now: every AI line accepted until now is dropped at every
 * stage, and a reply still being written stops. The mark only moves forward (a late, older dump
 * never revives lines a newer one dropped). This process sees it at once.
 */
export async function markDumped(deps: Pick<ChannelStateDeps, 'redis' | 'keys'>, channel: string, now = Date.now()): Promise<void> {
  const key = deps.keys.dumpedAt(channel);
  await deps.redis.eval(RAISE_MARK, 1, key, String(now));
  noteMark(key, now);
}

/** A !clear or a dump is read at most this late: every stage checks every line, one GET each is off the hot path. */
const MARK_CACHE_MS = 200;
const markCache = new Map<string, { value: number; at: number }>();

/** A mark this process learnt of otherwise (it set it, or a control message told it): read at once, not after the cache. */
function noteMark(key: string, value: number, now = Date.now()): void {
  const hit = markCache.get(key);
  if (!hit || hit.value < value) markCache.set(key, { value, at: now });
}

async function readMark(redis: Redis, key: string, now: number, maxAgeMs = MARK_CACHE_MS): Promise<number> {
  const hit = markCache.get(key);
  if (hit && now - hit.at < maxAgeMs) return hit.value;
  const value = Number(await redis.get(key)) || 0;
  markCache.set(key, { value, at: now });
  return value;
}

/** When the channel's backlog was last cleared (ms since the epoch; 0: never). */
export async function clearedAt(deps: Pick<ChannelStateDeps, 'redis' | 'keys'>, channel: string, now = Date.now()): Promise<number> {
  return readMark(deps.redis, deps.keys.clearedAt(channel), now);
}

/** A dump this process was told of (the broadcaster's control message): its lines are dropped from now on, whatever the cache held. */
export function noteDumped(deps: Pick<ChannelStateDeps, 'keys'>, channel: string, at: number): void {
  noteMark(deps.keys.dumpedAt(channel), at);
}

/**
 * When the channel's AI lines were last dumped (ms since the epoch; 0: never). `maxAgeMs` 0 reads
 * Redis itself (the reply worker, once per sentence, so a dumped reply stops at its next sentence).
 */
export async function dumpedAt(deps: Pick<ChannelStateDeps, 'redis' | 'keys'>, channel: string, now = Date.now(), maxAgeMs = MARK_CACHE_MS): Promise<number> {
  return readMark(deps.redis, deps.keys.dumpedAt(channel), now, maxAgeMs);
}

/**
 * Show `expression` (a name the channel's pack offers, checked by the caller) on the channel's
 * avatar for `holdMs`: kept in Redis with that expiry, so a broadcaster starting or taking over
 * shows it too, and told to the active broadcaster now.
 */
export async function setEmote(deps: Pick<ChannelStateDeps, 'redis' | 'keys'>, channel: string, expression: string, holdMs: number, by?: string): Promise<void> {
  await rememberEmote(deps, channel, expression, holdMs);
  await deps.redis.publish(deps.keys.control(channel), JSON.stringify({ action: 'emote', expression, holdMs, by } satisfies ControlMessage));
}

/** Keep `expression` as the channel's for `holdMs` (0: back to neutral), without telling the broadcaster (the one that showed it). */
export async function rememberEmote(deps: Pick<ChannelStateDeps, 'redis' | 'keys'>, channel: string, expression: string, holdMs: number): Promise<void> {
  if (holdMs > 0 && expression !== 'neutral') await deps.redis.set(deps.keys.avatarExpression(channel), expression, 'PX', holdMs);
  else await deps.redis.del(deps.keys.avatarExpression(channel));
}

/** The expression the channel's avatar shows now and for how much longer; none: neutral. */
export async function currentEmote(deps: Pick<ChannelStateDeps, 'redis' | 'keys'>, channel: string): Promise<{ expression: string; holdMs: number } | undefined> {
  const key = deps.keys.avatarExpression(channel);
  const [[, expression], [, ttl]] = (await deps.redis.multi().get(key).pttl(key).exec()) as [[unknown, string | null], [unknown, number]];
  return expression && ttl > 0 ? { expression, holdMs: ttl } : undefined;
}
