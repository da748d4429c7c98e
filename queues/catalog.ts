import type { z } from 'zod';
import { audioQueue } from './audio.queue';
import { chatQueue } from './chat.queue';
import { maintenanceQueue } from './maintenance.queue';
import { playoutQueue } from './playout.queue';
import { replyQueue } from './reply.queue';
import { routineQueue } from './routine.queue';
import { sceneQueue } from './scene.queue';
import { ttsQueue } from './tts.queue';

/** The job catalog: the only place queue names, payload schemas, job defaults and consuming processes live. */
export const registry = {
  chat: chatQueue,
  tts: ttsQueue,
  audio: audioQueue,
  playout: playoutQueue,
  scene: sceneQueue,
  routine: routineQueue,
  maintenance: maintenanceQueue,
  reply: replyQueue,
} as const;

export type QueueKey = keyof typeof registry;
export type Payload<K extends QueueKey> = z.infer<(typeof registry)[K]['schema']>;
/** The process that runs queue K's handler. */
export type ProcessOf<K extends QueueKey> = (typeof registry)[K]['process'];

/** The queues run by a process of their own (`idolcast worker <kind>`), in catalog order. */
export type WorkerKind = { [K in QueueKey]: ProcessOf<K> extends 'worker' ? K : never }[QueueKey];
export const WORKER_KINDS = (Object.keys(registry) as QueueKey[]).filter((k): k is WorkerKind => registry[k].process === 'worker');

/**
 * The fleet members one deployment needs, by heartbeat kind: each process that runs a queue
 * (`ingest`, `broadcast`, and `worker-<kind>` for each worker kind).
 */
export const MEMBER_KINDS: string[] = [
  ...new Set((Object.keys(registry) as QueueKey[]).filter((k) => registry[k].process !== 'worker').map((k) => registry[k].process)),
  ...WORKER_KINDS.map((k) => `worker-${k}`),
];
