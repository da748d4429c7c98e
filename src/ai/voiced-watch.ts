import { duplicate, type Redis } from '../redis';
import { channelEventSchema } from '../../queues/live-events';
import type { Logger } from '../logger';
import { parsePubSub } from '../pubsub';
import type { Keyspace } from '../redis';

/** One reply's view of its channel's `speech-ready` events. */
export interface VoicedWait {
  /**
   * Resolves `voiced` once every id is voiced and waiting for air, `dumped` once the channel's AI
   * lines were dumped (lines not yet voiced never will be), `late` after `boundMs`.
   */
  until(ids: string[], boundMs: number): Promise<'voiced' | 'dumped' | 'late'>;
  stop(): Promise<void>;
}

/** The subscriber: one `message` listener per reply being watched, as many as the reply worker's concurrency (16 by default), past Node's warning at 10. */
function watcher(redis: Redis): Redis {
  const sub = duplicate(redis);
  sub.setMaxListeners(0);
  return sub;
}

/**
 * Which of a reply's lines are voiced (the audio worker's `speech-ready` live events), on one
 * subscriber connection per process. The reply worker holds its slot until its lines are all in
 * the playout queue: a reply started later (with later accept-order numbers) then cannot air
 * between them.
 */
export class VoicedWatch {
  private sub?: Redis;
  private readonly users = new Map<string, number>();

  constructor(private readonly deps: { redis: Redis; keys: Keyspace; log: Logger }) {}

  async watch(channel: string): Promise<VoicedWait> {
    const sub = (this.sub ??= watcher(this.deps.redis));
    const key = this.deps.keys.events(channel);
    const ready = new Set<string>();
    let dumped = false;
    let wake = () => {};
    const onMessage = (ch: string, raw: string) => {
      if (ch !== key) return;
      const e = parsePubSub(channelEventSchema, raw, this.deps.log, ch);
      if (e?.type === 'ai-dumped') dumped = true;
      else if (e?.type !== 'speech-ready' || !e.utteranceId) return;
      else ready.add(e.utteranceId);
      wake();
    };
    sub.on('message', onMessage);
    this.users.set(key, (this.users.get(key) ?? 0) + 1);
    await sub.subscribe(key);
    return {
      async until(ids, boundMs) {
        const deadline = Date.now() + boundMs;
        while (!ids.every((id) => ready.has(id))) {
          if (dumped) return 'dumped';
          const left = deadline - Date.now();
          if (left <= 0) return 'late';
          await new Promise<void>((resolve) => {
            const timer = setTimeout(resolve, left);
            wake = () => (clearTimeout(timer), resolve());
          });
        }
        return 'voiced';
      },
      stop: async () => {
        sub.off('message', onMessage);
        const left = (this.users.get(key) ?? 1) - 1;
        if (left > 0) this.users.set(key, left);
        else {
          this.users.delete(key);
          await sub.unsubscribe(key);
        }
      },
    };
  }

  close(): void {
    this.sub?.disconnect();
  }
}
