import type { Redis } from './redis';
import type { Utterance } from '../queues/utterance.schema';
import { clearedAt } from './channel-state';
import { sharedLevel } from './degradation';
import type { Keyspace } from './redis';

/**
 * Why a line should no longer be spoken: `stale` when it waited past its time-to-live (plain
 * chat spoken minutes late is worse than not at all), `cleared` when a moderator cleared the
 * channel's backlog after it was accepted. Checked at every stage, so a dropped line costs no
 * more synthesis, encoding or air time. From degradation level 2 on, `shortTtlMs` (the config's
 * `degradation.shortTtlMs`) shortens the time-to-live of lines that have one, those already
 * waiting included, at every stage alike.
 */
export async function dropReason(u: Pick<Utterance, 'channel' | 'acceptedAt' | 'expiresAt'>, redis: Redis, keys: Keyspace, shortTtlMs: number, now = Date.now()): Promise<'stale' | 'cleared' | undefined> {
  if (u.expiresAt !== undefined) {
    if (now > u.expiresAt) return 'stale';
    if (now > u.acceptedAt + shortTtlMs && (await sharedLevel(redis, keys, now)) >= 2) return 'stale';
  }
  const cleared = await clearedAt({ redis, keys }, u.channel, now);
  if (cleared && u.acceptedAt <= cleared) return 'cleared';
  return undefined;
}
