import type { Payload } from '../queues/registry';
import type { Deps } from '../src/deps';

/**
 * Apply a desired scene state: it is persisted in Redis (so a restart continues where the
 * picture was) and announced to the channel's live listeners. Idempotent by construction.
 */
export async function handle(s: Payload<'scene'>, deps: Deps) {
  const key = deps.keys.scene(s.channel);
  const fields: Record<string, string> = { updatedAt: String(Date.now()) };
  if (s.scene !== undefined) fields.scene = s.scene;
  for (const [source, visible] of Object.entries(s.sources ?? {})) fields[`source.${source}`] = visible ? '1' : '0';
  await deps.redis.hset(key, fields);
  const state = await deps.redis.hgetall(key);
  await deps.publish(s.channel, { type: 'scene', scene: state.scene ?? null });
  deps.log.info({ channel: s.channel, scene: state.scene }, 'scene applied');
  return { scene: state.scene ?? null };
}
