import { registry, type QueueKey } from '../../queues/catalog';
import { handlers, type Handler } from '../../workers';
import * as audio from '../../workers/audio.worker';
import * as chat from '../../workers/chat.worker';

describe('queue handlers', () => {
  it('every queue of the catalog has exactly one handler under workers/, and nothing else does', () => {
    expect(Object.keys(handlers).sort()).toEqual(Object.keys(registry).sort());
    for (const fn of Object.values(handlers)) expect(typeof fn).toBe('function');
  });

  it('a handler of the wrong payload or process, or a queue without one, does not compile', () => {
    // @ts-expect-error the audio queue's handler takes audio payloads, not tts lines
    const wrongPayload: Handler<'tts'> = audio.handle;
    // @ts-expect-error the chat handler runs in the ingest, not in a worker process (its deps differ)
    const wrongProcess: Handler<'scene'> = chat.handle;
    // @ts-expect-error every queue needs its handler: `maintenance` is missing
    const missing: { [K in QueueKey]: Handler<K> } = { chat: handlers.chat, tts: handlers.tts, audio: handlers.audio, playout: handlers.playout, scene: handlers.scene, routine: handlers.routine };
    expect([wrongPayload, wrongProcess, missing]).toHaveLength(3);
  });
});
