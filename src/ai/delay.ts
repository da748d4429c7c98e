import type { Redis } from '../redis';
import type { ControlMessage } from '../../queues/live-events';
import type { Queues } from '../../queues/registry';
import { markDumped } from '../channel-state';
import type { Config } from '../config/schema';
import type { Logger } from '../logger';
import type { Keyspace } from '../redis';
import { SpeechStore } from '../speech-store';
import { aiKeys } from './keys';

/*
 * The broadcast delay. An AI line, once voiced, goes into its channel's playout queue as a
 * delayed BullMQ job (due `ai.safety.delayMs` later): the job lives in Redis with its due time, so
 * a broadcaster restarted or taken over in between neither airs it early nor loses it. Beside the
 * queue, a small sorted set per channel (line id → due time) is the delay's own ledger: it bounds
 * how many lines a channel holds, tells the status how many wait, and tells a dump which jobs to
 * take back. Lines of other origins never pass through here.
 */

/**
 * ARGV: line id, now, due, most lines, ledger lifetime. Forgets lines already due; a line held
 * before (a retry of the audio job) keeps its first due time; a full ledger refuses (-1).
 */
const HOLD = `
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ARGV[2])
local due = redis.call('ZSCORE', KEYS[1], ARGV[1])
if due then return tonumber(due) end
if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[4]) then return -1 end
redis.call('ZADD', KEYS[1], ARGV[3], ARGV[1])
redis.call('PEXPIRE', KEYS[1], ARGV[5])
return tonumber(ARGV[3])`;

/**
 * Put a voiced AI line in the channel's delay: how long it still waits (ms; 0 when the delay is
 * off), or `full` when the channel already holds `delayMaxLines`.
 */
export async function holdLine(deps: { config: Pick<Config, 'ai' | 'redis'>; redis: Redis }, channel: string, utteranceId: string, now = Date.now()): Promise<number | 'full'> {
  const { delayMs, delayMaxLines } = deps.config.ai.safety;
  if (delayMs === 0) return 0;
  const key = aiKeys(deps.config.redis.prefix).delay(channel);
  // Every entry is due within delayMs, so the ledger outlives what it holds by a second at most.
  const due = (await deps.redis.eval(HOLD, 1, key, utteranceId, String(now), String(now + delayMs), String(delayMaxLines), String(delayMs + 1000))) as number;
  return due < 0 ? 'full' : Math.max(0, due - now);
}

/** How many AI lines of a channel wait in the broadcast delay now (for `idolcast status` and the live page). */
export async function delayDepth(redis: Redis, prefix: string, channel: string, now = Date.now()): Promise<number> {
  return redis.zcount(aiKeys(prefix).delay(channel), `(${now}`, '+inf');
}

export interface DumpDeps {
  config: Config;
  redis: Redis;
  keys: Keyspace;
  queues: Queues;
  log: Logger;
}

/** Take back every line the channel's delay holds: their jobs leave the playout queue and their audio is deleted. */
async function dropHeld(deps: DumpDeps, channel: string): Promise<number> {
  const key = aiKeys(deps.config.redis.prefix).delay(channel);
  const [[, ids]] = (await deps.redis.multi().zrange(key, '0', '-1').del(key).exec()) as [[unknown, string[]], unknown];
  const queue = deps.queues.queue('playout', channel);
  const store = new SpeechStore(deps.redis, deps.keys, deps.config);
  let dropped = 0;
  for (const id of ids) {
    const job = await queue.getJob(id);
    // A job the broadcaster already took cannot be removed: the dumped mark drops it there.
    if (!job || (await queue.remove(id)) !== 1) continue;
    await store.dropPlayout(id, (job.data as { parts: number }).parts);
    dropped++;
  }
  return dropped;
}

/**
 * Dump a channel's AI lines (`!dump`, `idolcast dump`, `POST /api/dump`, the live page): the
 * dumped mark first (from now on every stage drops AI lines accepted until now, and a reply still
 * being written stops), then the delay's lines are taken back, then the broadcaster is told to
 * cut the line on air if it is an AI line, and the page and the reply workers are told (an
 * `ai-dumped` live event). Logged with who dumped; the broadcaster counts it.
 */
export async function dumpAi(deps: DumpDeps, channel: string, by: string): Promise<{ held: number }> {
  const at = Date.now();
  await markDumped(deps, channel, at);
  const held = await dropHeld(deps, channel);
  const who = by.slice(0, 200);
  await deps.redis.publish(deps.keys.control(channel), JSON.stringify({ action: 'dump', by: who, at } satisfies ControlMessage));
  // For the page, and for a reply worker waiting for its lines to be voiced (they never will be).
  await deps.redis.publish(deps.keys.events(channel), JSON.stringify({ type: 'ai-dumped', by: who, held, at: Date.now() }));
  deps.log.warn({ channel, by: who, held }, 'AI lines dumped');
  return { held };
}
