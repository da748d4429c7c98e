import type { Redis } from './redis';
import { isAiLine, type Utterance } from '../queues/utterance.schema';
import { clearedAt, dumpedAt } from './channel-state';
import { sharedLevel } from './degradation';
import type { Keyspace } from './redis';

/**
 * Why a line should no longer be spoken: `stale` when it waited past its time-to-live (plain
 * chat spoken minutes late is worse than not at all), `cleared` when a moderator cleared the
 * channel's backlog after it was accepted, `dumped` when it is an AI line and the channel's AI
 * lines were dumped after it was accepted (a reply's lines all share its start as their accept
 * time, so none of a dumped reply survives). Checked at every stage, so a dropped line costs no
 * more synthesis, encoding or air time. From degradation level 2 on, `shortTtlMs` (the config's
 * `degradation.shortTtlMs`) shortens the time-to-live of lines that have one, those already
 * waiting included, at every stage alike.
 */
export async function dropReason(u: Pick<Utterance, 'channel' | 'acceptedAt' | 'expiresAt' | 'origin'>, redis: Redis, keys: Keyspace, shortTtlMs: number, now = Date.now()): Promise<'stale' | 'cleared' | 'dumped' | undefined> {
  if (u.expiresAt !== undefined) {
    if (now > u.expiresAt) return 'stale';
    if (now > u.acceptedAt + shortTtlMs && (await sharedLevel(redis, keys, now)) >= 2) return 'stale';
  }
  const cleared = await clearedAt({ redis, keys }, u.channel, now);
  if (cleared && u.acceptedAt <= cleared) return 'cleared';
  if (isAiLine(u)) {
    const dumped = await dumpedAt({ redis, keys }, u.channel, now);
    if (dumped && u.acceptedAt <= dumped) return 'dumped';
  }
  return undefined;
}
