import client from 'prom-client';
import type { Redis } from '../redis';
import type { PcmFormat } from '../../queues/utterance.schema';
import { LOCAL_ENGINE, type Config, type VoiceConfig } from '../config/schema';
import type { Logger } from '../logger';
import type { Metrics } from '../metrics';
import type { Keyspace } from '../redis';
import type { Guarded, SharedBreakers } from '../shared-breaker';
import { checkSpeech, pcmSeconds } from './audio-check';
import { openElsewhere, ttsBreakers } from './breaker-state';
import { BadAudioError, TtsError } from './remote-engines';
import { SpeechCache } from './speech-cache';
import { stripEngineMarkup } from './text';
import { collectSpeech, type TtsEngine } from './tts-engine';
import { voiceChain } from '../config/tts.schema';
import { sleep } from '../time';

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

/** Audio an engine must have delivered by the first-audio deadline: enough to start airing. */
const FIRST_AUDIO_SECONDS = 0.25;

type Voiced = { pcm: Buffer; format: PcmFormat };

/** Counter of refused engine audio by reason, registered once per metrics registry. */
function rejectedCounter(metrics: Metrics): client.Counter<'engine' | 'reason'> {
  const name = 'idolcast_tts_rejected_audio_total';
  const known = metrics.registry.getSingleMetric(name) as client.Counter<'engine' | 'reason'> | undefined;
  return known ?? new client.Counter({ name, help: 'Engine answers refused before caching or airing (broken container, silence, implausible duration, no audio by the first-audio deadline), by engine and reason', labelNames: ['engine', 'reason'], registers: [metrics.registry] });
}

/**
 * Voices a line through its voice's fallback chain. Each remote engine sits behind an opossum
 * breaker; when one opens, the open state is written to Redis so every replica skips the dead
 * provider at once, until the reset timeout lets a probe through. Transient failures are retried
 * with jittered backoff (honouring Retry-After) while the first-audio deadline allows; permanent
 * ones, bad audio and a missed deadline fall through to the next voice at once. Remote audio is
 * checked (container, format, duration, silence) before it is cached or aired. Cached audio skips
 * the provider and its breaker entirely.
 */
export class SpeechService {
  private readonly breakers: SharedBreakers;
  private readonly rejected: client.Counter<'engine' | 'reason'>;
  readonly cache: SpeechCache;

  constructor(
    private readonly deps: { config: Config; redis: Redis; keys: Keyspace; log: Logger; metrics: Metrics; engines: Record<string, TtsEngine> },
  ) {
    this.cache = new SpeechCache(deps.redis, deps.keys);
    this.rejected = rejectedCounter(deps.metrics);
    this.breakers = ttsBreakers({ ...deps, onState: (engine, state) => deps.metrics.breakerState.set({ engine }, BREAKER_STATE[state]) });
  }

  /**
   * One request to a remote engine. It is aborted (socket closed, worker slot freed) when the
   * first audio has not arrived by `deadlineAt`, or the whole answer by `breaker.timeoutMs`.
   */
  private async synthesizeRemote(engineName: string, text: string, voice: VoiceConfig, deadlineAt: number): Promise<Voiced> {
    const engine = this.deps.engines[engineName]!;
    const { timeoutMs } = this.deps.config.tts.breaker;
    const abort = new AbortController();
    const total = setTimeout(() => abort.abort(new TtsError(`${engineName}: timed out after ${timeoutMs} ms`, true)), timeoutMs);
    const waitMs = Math.max(0, deadlineAt - Date.now());
    const firstAudio = setTimeout(() => abort.abort(new BadAudioError(`${engineName}: no audio by the first-audio deadline (${this.deps.config.tts.firstAudioDeadlineMs} ms)`, 'deadline')), waitMs);
    const started = performance.now();
    try {
      const stream = await engine.synthesize(text, voice, abort.signal);
      const enough = FIRST_AUDIO_SECONDS * stream.format.sampleRate * 2 * stream.format.channels;
      const chunks: Buffer[] = [];
      let bytes = 0;
      for await (const chunk of stream.chunks) {
        chunks.push(chunk);
        bytes += chunk.length;
        if (bytes >= enough) clearTimeout(firstAudio);
      }
      const voiced = { pcm: Buffer.concat(chunks), format: stream.format };
      checkSpeech(engineName, voiced.pcm, voiced.format, text);
      this.deps.metrics.realTimeFactor.observe({ engine: engineName }, (performance.now() - started) / 1000 / pcmSeconds(voiced.pcm, voiced.format));
      return voiced;
    } catch (err) {
      if (abort.signal.aborted) throw abort.signal.reason;
      if (err instanceof TtsError) throw err;
      throw new BadAudioError(`${engineName}: the answer broke off: ${(err as Error).message}`, 'truncated');
    } finally {
      clearTimeout(total);
      clearTimeout(firstAudio);
      abort.abort(); // a no-op after a full answer; closes the socket of one that threw mid-body
    }
  }

  /** The breaker of a remote engine (created on first use). */
  breaker(engineName: string): Guarded {
    if (!this.deps.engines[engineName]) throw new Error(`no engine "${engineName}"`);
    return this.breakers.get(engineName);
  }

  /** Ask a remote engine, retrying transient failures only while its first-audio deadline leaves time. */
  private async remote(engineName: string, text: string, voice: VoiceConfig, log: Logger) {
    const { retry, firstAudioDeadlineMs } = this.deps.config.tts;
    const deadlineAt = Date.now() + firstAudioDeadlineMs;
    const breaker = this.breaker(engineName);
    for (let attempt = 1; ; attempt++) {
      try {
        return (await breaker.fire(() => this.synthesizeRemote(engineName, text, voice, deadlineAt))) as Voiced;
      } catch (err) {
        const e = err as TtsError & { code?: string };
        if (e.code === 'EOPENBREAKER') throw new TtsError(`${engineName}: breaker open`, false);
        if (e instanceof BadAudioError) this.rejected.inc({ engine: engineName, reason: e.reason });
        const transient = e instanceof TtsError ? e.transient : true;
        if (!transient || attempt >= retry.attempts || breaker.opened) throw err;
        const jittered = Math.min(retry.capMs, retry.baseMs * 2 ** (attempt - 1)) * (0.5 + Math.random() / 2);
        // A Retry-After longer than our cap, or a wait past the deadline, means: the next voice speaks now.
        if (e.retryAfterMs !== undefined && e.retryAfterMs > retry.capMs) throw err;
        const wait = Math.max(jittered, e.retryAfterMs ?? 0);
        if (Date.now() + wait >= deadlineAt) throw err;
        log.info({ engine: engineName, attempt, retryInMs: Math.round(wait), err: e.message }, 'tts retry');
        await sleep(wait);
      }
    }
  }

  /** Cached audio of a voice, if any. Remote audio cached before it was checked is dropped if it fails now. */
  private async fromCache(hash: string, voice: VoiceConfig, text: string, log: Logger): Promise<Voiced | undefined> {
    const hit = await this.cache.get(hash);
    if (hit && voice.engine !== LOCAL_ENGINE) {
      try {
        checkSpeech(voice.engine, hit.pcm, hit.format, text);
      } catch (err) {
        log.warn({ engine: voice.engine, err: (err as Error).message }, 'cached audio refused: removed from the cache');
        await this.cache.remove(hash);
        return undefined;
      }
    }
    return hit;
  }

  private async synthesize(voice: VoiceConfig, text: string, log: Logger): Promise<Voiced> {
    const { metrics, engines } = this.deps;
    if (voice.engine !== LOCAL_ENGINE) {
      if (!this.breaker(voice.engine).opened && (await openElsewhere(this.deps.redis, this.deps.keys, voice.engine))) {
        throw new TtsError(`${voice.engine}: breaker open on another replica`, false);
      }
      return this.remote(voice.engine, text, voice, log);
    }
    const started = performance.now();
    const stream = await engines[LOCAL_ENGINE]!.synthesize(text, voice);
    const voiced = { pcm: await collectSpeech(stream), format: stream.format };
    const seconds = pcmSeconds(voiced.pcm, voiced.format);
    if (seconds > 0) metrics.realTimeFactor.observe({ engine: LOCAL_ENGINE }, (performance.now() - started) / 1000 / seconds);
    return voiced;
  }

  /** Voice one part of a line with `voiceName`, falling back along its chain. */
  async speakPart(raw: string, voiceName: string, log: Logger): Promise<VoicedPart> {
    const { config, metrics } = this.deps;
    // The boundary of every engine: no phoneme brackets or SSML-like tags from any caller.
    const text = stripEngineMarkup(raw);
    const chain = voiceChain(config.voices, Object.hasOwn(config.voices, voiceName) ? voiceName : config.defaultVoice);
    const reasons: string[] = [];
    for (const name of chain) {
      const voice = config.voices[name]!;
      const hash = SpeechCache.hash(voice.engine, voice, text);
      if (config.tts.cache.enabled) {
        const hit = await this.fromCache(hash, voice, text, log);
        metrics.ttsCache.inc({ result: hit ? 'hit' : 'miss' });
        if (hit) return { ...hit, voice: name, engine: voice.engine, cached: true };
      }
      try {
        const voiced = await this.synthesize(voice, text, log);
        if (!voiced.pcm.length) throw new TtsError(`${voice.engine}: no audio`, true);
        if (config.tts.cache.enabled) await this.cache.put(hash, voiced.pcm, voiced.format);
        metrics.spoken.inc({ engine: voice.engine, voice: name });
        if (reasons.length) log.info({ voice: name, engine: voice.engine, skipped: reasons }, 'spoken by a fallback voice');
        return { ...voiced, voice: name, engine: voice.engine, cached: false };
      } catch (err) {
        const why = (err as Error).message;
        reasons.push(`${name}: ${why}`);
        metrics.fallbacks.inc({ engine: voice.engine });
        const reason = err instanceof BadAudioError ? err.reason : undefined;
        log.warn({ voice: name, engine: voice.engine, err: why, ...(reason ? { reason } : {}) }, 'voice failed: trying the next in its chain');
      }
    }
    throw new Error(`every voice in the chain failed: ${reasons.join('; ')}`);
  }

  shutdown(): void {
    this.breakers.shutdown();
  }
}
