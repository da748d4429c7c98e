import type { Payload } from '../queues/registry';
import type { WorkerKind } from '../queues/catalog';
import type { Deps } from '../src/deps';
import * as audio from './audio.worker';
import * as maintenance from './maintenance.worker';
import * as routine from './routine.worker';
import * as scene from './scene.worker';
import * as tts from './tts.worker';

type Handler<K extends WorkerKind> = (payload: Payload<K>, deps: Deps) => Promise<unknown>;

/** One handler per worker kind; a kind without a handler fails to compile. */
export const handlers: { [K in WorkerKind]: Handler<K> } = {
  tts: tts.handle,
  audio: audio.handle,
  scene: scene.handle,
  routine: routine.handle,
  maintenance: maintenance.handle,
};
