import type { Config } from './config/schema';
import type { Keyspace, Redis } from './redis';
import { sleep } from './time';

/** How often a wait for a part not yet encoded looks again. */
const POLL_MS = 15;

/**
 * Where a line's audio lives between the workers and the broadcaster, part by part: raw engine
 * PCM (`speechRaw`, written by the tts worker, read by the audio worker) and playout-ready PCM
 * (`speechPcm`, written by the audio worker, read by the broadcaster). Both expire after
 * `playout.audioTtlMs`, so a line nobody airs never stays in Redis. The only user of those keys.
 */
export class SpeechStore {
  private readonly ttlMs: number;

  constructor(
    private readonly redis: Redis,
    private readonly keys: Keyspace,
    config: Pick<Config, 'playout'>,
  ) {
    this.ttlMs = config.playout.audioTtlMs;
  }

  /** A part as the engine voiced it, for the audio worker. */
  async putRaw(utteranceId: string, part: number, pcm: Buffer): Promise<void> {
    await this.redis.set(this.keys.speechRaw(utteranceId, part), pcm, 'PX', this.ttlMs);
  }

  async readRaw(utteranceId: string, part: number): Promise<Buffer | null> {
    return this.redis.getBuffer(this.keys.speechRaw(utteranceId, part));
  }

  /** The encoded part replaces the raw one (in one step: a retry finds one or the other). */
  async putPlayout(utteranceId: string, part: number, pcm: Buffer): Promise<void> {
    await this.redis.multi().set(this.keys.speechPcm(utteranceId, part), pcm, 'PX', this.ttlMs).del(this.keys.speechRaw(utteranceId, part)).exec();
  }

  /** Bytes of the encoded part (0: none). */
  async playoutBytes(utteranceId: string, part: number): Promise<number> {
    return this.redis.strlen(this.keys.speechPcm(utteranceId, part));
  }

  /** Bytes of the part already handed over by an earlier attempt, encoded or not (0: none). */
  async handedOverBytes(utteranceId: string, part: number): Promise<number> {
    const [pcm, raw] = await Promise.all([this.playoutBytes(utteranceId, part), this.redis.strlen(this.keys.speechRaw(utteranceId, part))]);
    return pcm || raw;
  }

  /** An encoded part as soon as the audio worker has it, waiting at most `waitMs` (0: look once). */
  async waitForPlayout(utteranceId: string, part: number, waitMs: number): Promise<Buffer | null> {
    const key = this.keys.speechPcm(utteranceId, part);
    const deadline = Date.now() + waitMs;
    for (;;) {
      const pcm = await this.redis.getBuffer(key);
      if (pcm || Date.now() >= deadline) return pcm;
      await sleep(POLL_MS);
    }
  }

  async dropRaw(utteranceId: string, part: number): Promise<void> {
    await this.redis.del(this.keys.speechRaw(utteranceId, part));
  }

  /** Every encoded part of a line (aired, or dropped before air). */
  async dropPlayout(utteranceId: string, parts: number): Promise<void> {
    await this.redis.del(...Array.from({ length: parts }, (_, i) => this.keys.speechPcm(utteranceId, i)));
  }
}
