import type { AiParts } from './ai/reply-parts';
import type { Logger } from './logger';
import type { ProcessContext } from './process';
import type { ObsDriver } from './scene/obs';
import type { SpeechService } from './tts/speech-service';

/**
 * What a job handler may use: the process's shared parts (config, Redis, the queue registry,
 * metrics, publish), a logger bound to the job, and the speech service. Built by the worker
 * runtime and passed in plainly, so tests can hand in real or loopback parts.
 */
export interface Deps extends Pick<ProcessContext, 'config' | 'redis' | 'keys' | 'queues' | 'metrics' | 'publish'> {
  /** A child logger bound to the job being handled. */
  log: Logger;
  /** 1 on a job's first run; more when it is retried or taken over from a dead worker (handlers then skip work already done). */
  attempt: number;
  /** The job being handled: its id and when it was meant to run (ms; a scheduler firing's tick time). */
  job: { id: string; scheduledFor: number };
  /** Voices lines through fallback chains, breakers and the cache (tts worker). */
  speech: SpeechService;
  /** The process's one connection to OBS (scene worker, when `obs.enabled`). */
  obs?: ObsDriver;
  /** The reply policy, kill switch, memory and model chain (reply worker). */
  ai?: AiParts;
}
