import type { Logger } from './logger';
import type { ProcessContext } from './process';
import type { TtsEngine } from './tts/tts-engine';

/**
 * What a job handler may use: the process's shared parts (config, Redis, the queue registry,
 * metrics, publish), a logger bound to the job, and the TTS engines. Built by the worker
 * runtime and passed in plainly, so tests can hand in real or loopback parts.
 */
export interface Deps extends Pick<ProcessContext, 'config' | 'redis' | 'keys' | 'queues' | 'metrics' | 'publish'> {
  /** A child logger bound to the job being handled. */
  log: Logger;
  engines: Record<string, TtsEngine>;
}
