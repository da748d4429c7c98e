import CircuitBreaker from 'opossum';
import type { Redis } from 'ioredis';
import type { PcmFormat } from '../../queues/utterance.schema';
import { LOCAL_ENGINE, voiceChain, type Config, type VoiceConfig } from '../config/schema';
import type { Logger } from '../logger';
import type { Metrics } from '../metrics';
import type { Keyspace } from '../redis';
import { TtsError } from './remote-engines';
import { SpeechCache } from './speech-cache';
import { collectSpeech, type TtsEngine } from './tts-engine';

/** One part of a line, voiced. */
export interface VoicedPart {
  pcm: Buffer;
  format: PcmFormat;
  /** The voice and engine that actually spoke (after any fallback). */
  voice: string;
  engine: string;
  cached: boolean;
}

const BREAKER_STATE = { closed: 0, halfOpen: 1, open: 2 } as const;

/**
 * Voices a line through its voice's fallback chain. Each remote engine sits behind an opossum
 * breaker; when one opens, the open state is written to Redis so every replica skips the dead
 * provider at once, until the reset timeout lets a probe through. Transient failures are retried
 * with jittered backoff (honouring Retry-After), permanent ones fall through to the next voice at
 * once. Cached audio skips the provider and its breaker entirely.
 */
export class SpeechService {
  private readonly breakers = new Map<string, CircuitBreaker<[string, VoiceConfig], { pcm: Buffer; format: PcmFormat }>>();
  readonly cache: SpeechCache;

  constructor(
    private readonly deps: { config: Config; redis: Redis; keys: Keyspace; log: Logger; metrics: Metrics; engines: Record<string, TtsEngine> },
  ) {
    this.cache = new SpeechCache(deps.redis, deps.keys);
  }

  private sharedKey(engine: string): string {
    return this.deps.keys.breaker(engine);
  }

  /** The breaker of a remote engine (created on first use). */
  breaker(engineName: string) {
    let b = this.breakers.get(engineName);
    if (b) return b;
    const engine = this.deps.engines[engineName];
    if (!engine) throw new Error(`no engine "${engineName}"`);
    const { breaker: opts } = this.deps.config.tts;
    b = new CircuitBreaker(
      async (text: string, voice: VoiceConfig) => {
        // Our own timeout aborts the request itself, so a hung provider holds no socket.
        const signal = AbortSignal.timeout(opts.timeoutMs);
        const started = performance.now();
        const stream = await engine.synthesize(text, voice, signal);
        let pcm: Buffer;
        try {
          pcm = await collectSpeech(stream);
        } catch (err) {
          if (signal.aborted) throw new TtsError(`${engineName}: timed out after ${opts.timeoutMs} ms`, true);
          throw err;
        }
        const seconds = pcm.length / 2 / stream.format.channels / stream.format.sampleRate;
        if (seconds > 0) this.deps.metrics.realTimeFactor.observe({ engine: engineName }, (performance.now() - started) / 1000 / seconds);
        return { pcm, format: stream.format };
      },
      { timeout: false, errorThresholdPercentage: opts.errorThresholdPercentage, volumeThreshold: opts.volumeThreshold, resetTimeout: opts.resetTimeoutMs, rollingCountTimeout: opts.rollingCountTimeoutMs, name: engineName },
    );
    const gauge = (state: keyof typeof BREAKER_STATE) => this.deps.metrics.breakerState.set({ engine: engineName }, BREAKER_STATE[state]);
    gauge('closed');
    b.on('open', () => {
      gauge('open');
      this.deps.log.warn({ engine: engineName, resetInMs: opts.resetTimeoutMs }, 'breaker opened: the fleet skips this engine');
      void this.deps.redis.set(this.sharedKey(engineName), JSON.stringify({ openedAt: Date.now() }), 'PX', opts.resetTimeoutMs).catch(() => {});
    });
    b.on('halfOpen', () => {
      gauge('halfOpen');
      this.deps.log.info({ engine: engineName }, 'breaker half-open: probing');
    });
    b.on('close', () => {
      gauge('closed');
      this.deps.log.info({ engine: engineName }, 'breaker closed: engine restored');
      void this.deps.redis.del(this.sharedKey(engineName)).catch(() => {});
    });
    this.breakers.set(engineName, b);
    return b;
  }

  /** Engines whose breaker some replica has opened (name → ms left). */
  async openEngines(): Promise<Record<string, number>> {
    const names = Object.keys(this.deps.config.tts.engines);
    const ttls = await Promise.all(names.map((n) => this.deps.redis.pttl(this.sharedKey(n))));
    return Object.fromEntries(names.flatMap((n, i) => (ttls[i]! > 0 ? [[n, ttls[i]!]] : [])));
  }

  private async remote(engineName: string, text: string, voice: VoiceConfig, log: Logger) {
    const { retry } = this.deps.config.tts;
    const breaker = this.breaker(engineName);
    for (let attempt = 1; ; attempt++) {
      try {
        return await breaker.fire(text, voice);
      } catch (err) {
        const e = err as TtsError & { code?: string };
        if (e.code === 'EOPENBREAKER') throw new TtsError(`${engineName}: breaker open`, false);
        const transient = e instanceof TtsError ? e.transient : true;
        if (!transient || attempt >= retry.attempts || breaker.opened) throw err;
        const jittered = Math.min(retry.capMs, retry.baseMs * 2 ** (attempt - 1)) * (0.5 + Math.random() / 2);
        // A Retry-After longer than our cap means: speak with the next voice now, not later.
        if (e.retryAfterMs !== undefined && e.retryAfterMs > retry.capMs) throw err;
        const wait = Math.max(jittered, e.retryAfterMs ?? 0);
        log.info({ engine: engineName, attempt, retryInMs: Math.round(wait), err: e.message }, 'tts retry');
        await new Promise((r) => setTimeout(r, wait));
      }
    }
  }

  /** Voice one part of a line with `voiceName`, falling back along its chain. */
  async speakPart(text: string, voiceName: string, log: Logger): Promise<VoicedPart> {
    const { config, metrics, engines } = this.deps;
    const chain = voiceChain(config.voices, config.voices[voiceName] ? voiceName : config.defaultVoice);
    const reasons: string[] = [];
    for (const name of chain) {
      const voice = config.voices[name]!;
      const hash = SpeechCache.hash(voice.engine, voice, text);
      if (config.tts.cache.enabled) {
        const hit = await this.cache.get(hash);
        if (hit) {
          metrics.ttsCache.inc({ result: 'hit' });
          return { ...hit, voice: name, engine: voice.engine, cached: true };
        }
        metrics.ttsCache.inc({ result: 'miss' });
      }
      try {
        let voiced: { pcm: Buffer; format: PcmFormat };
        if (voice.engine === LOCAL_ENGINE) {
          const started = performance.now();
          const stream = await engines[LOCAL_ENGINE]!.synthesize(text, voice);
          voiced = { pcm: await collectSpeech(stream), format: stream.format };
          const seconds = voiced.pcm.length / 2 / voiced.format.channels / voiced.format.sampleRate;
          if (seconds > 0) metrics.realTimeFactor.observe({ engine: LOCAL_ENGINE }, (performance.now() - started) / 1000 / seconds);
        } else {
          if (!this.breaker(voice.engine).opened && (await this.deps.redis.exists(this.sharedKey(voice.engine)))) {
            throw new TtsError(`${voice.engine}: breaker open on another replica`, false);
          }
          voiced = await this.remote(voice.engine, text, voice, log);
        }
        if (!voiced.pcm.length) throw new TtsError(`${voice.engine}: no audio`, true);
        if (config.tts.cache.enabled) await this.cache.put(hash, voiced.pcm, voiced.format);
        metrics.spoken.inc({ engine: voice.engine, voice: name });
        if (reasons.length) log.info({ voice: name, engine: voice.engine, skipped: reasons }, 'spoken by a fallback voice');
        return { ...voiced, voice: name, engine: voice.engine, cached: false };
      } catch (err) {
        const why = (err as Error).message;
        reasons.push(`${name}: ${why}`);
        metrics.fallbacks.inc({ engine: voice.engine });
        log.warn({ voice: name, engine: voice.engine, err: why }, 'voice failed: trying the next in its chain');
      }
    }
    throw new Error(`every voice in the chain failed: ${reasons.join('; ')}`);
  }

  shutdown(): void {
    for (const b of this.breakers.values()) b.shutdown();
  }
}
