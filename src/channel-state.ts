import type { Redis } from 'ioredis';
import { isConfigured } from './config/names';
import type { Config } from './config/schema';
import type { Keyspace } from './redis';
import type { ControlMessage } from '../queues/live-events';

/**
 * A channel's state that chat commands change and every producer of lines reads: its current
 * voice (set by !voice) and when its speech backlog was last cleared (set by !clear). Only this
 * module knows the Redis keys they live under.
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

/** A !clear is read at most this late: every stage checks every line, one GET each is off the hot path. */
const CLEARED_CACHE_MS = 200;
const clearedCache = new Map<string, { value: number; at: number }>();

/** When the channel's backlog was last cleared (ms since the epoch; 0: never). */
export async function clearedAt(deps: Pick<ChannelStateDeps, 'redis' | 'keys'>, channel: string, now = Date.now()): Promise<number> {
  const key = deps.keys.clearedAt(channel);
  const hit = clearedCache.get(key);
  if (hit && now - hit.at < CLEARED_CACHE_MS) return hit.value;
  const value = Number(await deps.redis.get(key)) || 0;
  clearedCache.set(key, { value, at: now });
  return value;
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
