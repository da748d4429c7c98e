import { createHash } from 'node:crypto';
import type { Redis } from '../redis';
import type { PcmFormat } from '../../queues/utterance.schema';
import type { VoiceConfig } from '../config/schema';
import type { Keyspace } from '../redis';

/**
 * Engine audio in Redis, keyed by a hash of (engine, voice, parameters, text): routine lines and
 * repeated phrases are served without touching a provider or its breaker. Size is bounded by
 * `evict`, run by the maintenance worker, which drops the least recently used entries.
 */
export class SpeechCache {
  constructor(
    private readonly redis: Redis,
    private readonly keys: Keyspace,
  ) {}

  private entry(hash: string): string {
    return this.keys.ttsCache(hash);
  }
  private get lru(): string {
    return this.keys.ttsCacheLru;
  }
  private get bytes(): string {
    return this.keys.ttsCacheBytes;
  }

  static hash(engine: string, voice: VoiceConfig, text: string): string {
    return createHash('sha256').update(JSON.stringify([engine, voice.voice, voice.speed, voice.pitch, voice.params, text])).digest('base64url');
  }

  async get(hash: string): Promise<{ pcm: Buffer; format: PcmFormat } | undefined> {
    const [pcm, rate, channels] = await this.redis.hmgetBuffer(this.entry(hash), 'pcm', 'rate', 'channels');
    if (!pcm || !rate || !channels) return undefined;
    await this.redis.zadd(this.lru, Date.now(), hash);
    return { pcm, format: { sampleRate: Number(rate.toString()), channels: Number(channels.toString()) } };
  }

  async put(hash: string, pcm: Buffer, format: PcmFormat): Promise<void> {
    // Count bytes only for a new entry, so a race between two workers does not inflate the total.
    const added = await this.redis.hsetnx(this.entry(hash), 'pcm', pcm);
    if (!added) return;
    await this.redis.multi().hset(this.entry(hash), 'rate', format.sampleRate, 'channels', format.channels).zadd(this.lru, Date.now(), hash).incrby(this.bytes, pcm.length).exec();
  }

  /** Drop one entry (audio that no longer passes the checks). */
  async remove(hash: string): Promise<void> {
    const len = await this.redis.hstrlen(this.entry(hash), 'pcm');
    const [[, deleted] = []] = (await this.redis.multi().del(this.entry(hash)).zrem(this.lru, hash).exec()) ?? [];
    if (deleted) await this.redis.decrby(this.bytes, len);
  }

  /** Bytes held now. */
  async size(): Promise<number> {
    return Number(await this.redis.get(this.bytes)) || 0;
  }

  /** Drop least recently used entries until the cache holds at most `maxBytes`; returns how many went. */
  async evict(maxBytes: number): Promise<number> {
    let removed = 0;
    while ((await this.size()) > maxBytes) {
      const oldest = await this.redis.zpopmin(this.lru, 20);
      if (!oldest.length) {
        await this.redis.set(this.bytes, 0); // the index is empty: the counter can only be stale
        break;
      }
      for (let i = 0; i < oldest.length; i += 2) {
        const key = this.entry(oldest[i]!);
        const len = await this.redis.hstrlen(key, 'pcm');
        await this.redis.multi().del(key).decrby(this.bytes, len).exec();
        removed++;
      }
    }
    return removed;
  }
}
