import type { Payload, ProcessOf, QueueKey } from '../queues/catalog';
import type { Deps } from '../src/deps';
import * as audio from './audio.worker';
import * as chat from './chat.worker';
import * as maintenance from './maintenance.worker';
import * as playout from './playout.worker';
import * as reply from './reply.worker';
import * as routine from './routine.worker';
import * as scene from './scene.worker';
import * as tts from './tts.worker';

/** What a handler is given, by the process that runs it (the queue's `process` in the catalog). */
export interface DepsOf {
  worker: Deps;
  ingest: chat.ChatDeps;
  broadcast: playout.PlayoutDeps;
}

export type Handler<K extends QueueKey> = (payload: Payload<K>, deps: DepsOf[ProcessOf<K>]) => Promise<unknown>;

/**
 * Exactly one handler per queue of the catalog: a queue without one, or a handler for another
 * queue's payload or process, fails to compile.
 */
export const handlers: { [K in QueueKey]: Handler<K> } = {
  chat: chat.handle,
  tts: tts.handle,
  audio: audio.handle,
  playout: playout.handle,
  scene: scene.handle,
  routine: routine.handle,
  maintenance: maintenance.handle,
  reply: reply.handle,
};
