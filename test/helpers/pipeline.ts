import type { ChatEvent } from '../../queues/chat-event.schema';
import { IngestPipeline } from '../../src/chat/ingest-pipeline';
import { createLogger } from '../../src/logger';
import { createMetrics } from '../../src/metrics';
import type { TestFleet } from './fleet';

let seq = 0;

/** A chat event as a source would hand it over. */
export function chatEvent(text: string, over: Partial<Omit<ChatEvent, 'user'>> & { user?: Partial<ChatEvent['user']> } = {}): ChatEvent {
  const now = Date.now();
  const { user, ...rest } = over;
  const login = user?.login ?? 'viewer';
  return {
    platform: 'twitch', channel: 'main', room: 'somechannel', id: `m${++seq}-${now}`, kind: 'message', text, emotes: [], timestamp: now, acceptedAt: now,
    user: { id: `id-${login}`, login, displayName: login, roles: [], ...user },
    ...rest,
  };
}

/** An in-process command processor on the fleet's Redis, recording replies and published events. */
export function testPipeline(fleet: TestFleet) {
  const replies: { to: string; text: string }[] = [];
  const published: Record<string, unknown>[] = [];
  const metrics = createMetrics('ingest', 'test');
  const pipeline = new IngestPipeline({
    config: fleet.config, redis: fleet.redis, keys: fleet.keys, queues: fleet.queues, metrics,
    log: createLogger('ingest-test', 'silent'),
    publish: async (_c, e) => void published.push(e),
    reply: async (e, text) => void replies.push({ to: e.user.login, text }),
  });
  return { pipeline, replies, published, metrics };
}
