import type { Payload } from '../queues/registry';
import { registry, type QueueKey } from '../queues/registry';
import type { Deps } from '../src/deps';
import { listFleet } from '../src/fleet';

/** Housekeeping that keeps Redis flat on a 24/7 run. */
export async function handle(m: Payload<'maintenance'>, deps: Deps) {
  const { config, redis, keys, queues } = deps;
  // Listing the fleet drops members whose heartbeats stopped (a SIGKILLed process never says goodbye).
  const live = await listFleet(redis, keys, config.workers.heartbeatMs);
  let cleaned = 0;
  const names = (Object.keys(registry) as QueueKey[]).flatMap((k) =>
    registry[k].perChannel ? Object.keys(config.channels).map((c) => queues.queue(k, c)) : [queues.queue(k)],
  );
  for (const q of names) {
    // Retention options bound each queue already; this catches jobs left by older settings.
    cleaned += (await q.clean(24 * 3600 * 1000, 1000, 'completed')).length;
    cleaned += (await q.clean(7 * 24 * 3600 * 1000, 1000, 'failed')).length;
  }
  // The speech cache stays under its bound: least recently used entries go first.
  const evicted = await deps.speech.cache.evict(config.tts.cache.maxBytes);
  deps.log.info({ task: m.task, liveMembers: live.length, cleaned, evicted }, 'maintenance done');
  return { liveMembers: live.length, cleaned, evicted };
}
