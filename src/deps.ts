import type { Redis } from 'ioredis';
import type { Queues } from '../queues/registry';
import type { Config } from './config/schema';
import type { Logger } from './logger';
import type { Metrics } from './metrics';
import type { Keyspace } from './redis';
import type { TtsEngine } from './tts/tts-engine';

/** What a job handler may use; built once per process by its entry, passed in plainly. */
export interface Deps {
  config: Config;
  /** A child logger bound to the job being handled. */
  log: Logger;
  /** A connection for plain commands (not BullMQ's blocking one). */
  redis: Redis;
  keys: Keyspace;
  queues: Queues;
  metrics: Metrics;
  engines: Record<string, TtsEngine>;
  /** Publish an event to a channel's live listeners (page, overlay). */
  publish: (channel: string, event: Record<string, unknown>) => Promise<void>;
}
