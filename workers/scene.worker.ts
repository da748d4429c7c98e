import type { Payload } from '../queues/registry';
import { applyExpression } from '../src/avatar/expressions';
import { isConfigured } from '../src/config/names';
import type { Deps } from '../src/deps';
import { parseState, stateFields } from '../src/scene/state';

/**
 * Apply a desired scene state: it is persisted in Redis (so a restart continues where the
 * picture was), announced to the channel's live listeners (the overlay shows the scene name),
 * and, when `obs.enabled`, applied to OBS over the process's one obs-websocket connection.
 * Idempotent by construction: OBS is told only what differs from what it shows (scene, stream),
 * or set to the same value again (sources, texts, filters). Media restarts are actions. The
 * avatar's expression is the channel's expression state (as `!emote` sets it), for its broadcaster.
 */
export async function handle(s: Payload<'scene'>, deps: Deps) {
  // The schema cannot know the config: a channel that is not configured gets no state key.
  if (!isConfigured(deps.config.channels, s.channel)) {
    deps.log.warn({ channel: s.channel }, 'scene dropped: no such channel');
    return { dropped: 'unknown channel' };
  }
  const expression = s.avatar && ((await applyExpression(deps, s.channel, s.avatar, 'scene')) ?? null);
  // A job that only sets the avatar's expression has nothing for the scene state or OBS.
  if (Object.keys(s).every((k) => k === 'channel' || k === 'avatar')) {
    deps.log.info({ channel: s.channel, expression }, 'scene applied');
    return { expression };
  }
  const key = deps.keys.scene(s.channel);
  await deps.redis.hset(key, { ...stateFields(s), updatedAt: String(Date.now()) });
  const state = parseState(await deps.redis.hgetall(key));
  if (s.scene !== undefined || s.sources !== undefined) await deps.publish(s.channel, { type: 'scene', scene: state.scene ?? null });
  const drivesObs = deps.obs && s.channel === (deps.config.obs.channel ?? deps.config.defaultChannel);
  const obs = drivesObs ? await deps.obs!.apply(s, state) : undefined;
  deps.log.info({ channel: s.channel, scene: state.scene, expression, obs: obs?.obs, sceneDeferredMs: obs?.sceneDeferredMs, problems: obs?.problems.length ? obs.problems : undefined }, 'scene applied');
  return { scene: state.scene ?? null, ...(expression !== undefined && { expression }), ...(obs && { obs: obs.obs, sceneDeferredMs: obs.sceneDeferredMs, problems: obs.problems }) };
}
