import type { Redis } from 'ioredis';
import type { Utterance } from '../queues/utterance.schema';
import type { Keyspace } from './redis';

/**
 * Why a line should no longer be spoken: `stale` when it waited past its time-to-live (plain
 * chat spoken minutes late is worse than not at all), `cleared` when a moderator cleared the
 * channel's backlog after it was accepted. Checked at every stage, so a dropped line costs no
 * more synthesis, encoding or air time.
 */
export async function dropReason(u: Pick<Utterance, 'channel' | 'acceptedAt' | 'expiresAt'>, redis: Redis, keys: Keyspace, now = Date.now()): Promise<'stale' | 'cleared' | undefined> {
  if (u.expiresAt !== undefined && now > u.expiresAt) return 'stale';
  const cleared = Number(await redis.get(keys.clearedAt(u.channel)));
  if (cleared && u.acceptedAt <= cleared) return 'cleared';
  return undefined;
}
