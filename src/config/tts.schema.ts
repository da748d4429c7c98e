import { z } from 'zod';
import { durationMs } from './fields';

/** The built-in local engine: always there, the last fallback of every chain. */
export const LOCAL_ENGINE = 'espeak-ng';

/** One named voice: its engine, the engine's voice id and parameters, and where it falls back. */
export const voiceSchema = z.strictObject({
  /** Engine that speaks this voice: `espeak-ng` (local) or the name of an engine in `tts.engines`. */
  engine: z.string().min(1).default(LOCAL_ENGINE),
  /** The engine's own voice id (espeak-ng: `espeak-ng --voices`; OpenAI: alloy…; ElevenLabs: a voice id; Azure: en-US-JennyNeural…). */
  voice: z.string().regex(/^[A-Za-z0-9_.+-]+$/, 'an engine voice id').default('en-us'),
  /** espeak-ng: words per minute. */
  speed: z.number().int().min(80).max(450).default(165),
  /** espeak-ng: 0–99. */
  pitch: z.number().int().min(0).max(99).default(50),
  /** Engine parameters sent with each request (OpenAI: speed, instructions; ElevenLabs: stability…; Azure: rate, pitch). */
  params: z.record(z.string(), z.union([z.string().max(500), z.number(), z.boolean()])).default({}),
  /** Voices to try, in order, when this one's engine fails; the chain must end in a local voice. */
  fallback: z.array(z.string()).default([]),
  /** Voice that speaks chat lines instead at degradation level 3 (default: the last voice of the fallback chain, a local one). */
  cheaper: z.string().optional(),
});

const remoteEngineBase = {
  /** API key (env OPENAI_API_KEY, ELEVENLABS_API_KEY or AZURE_SPEECH_KEY by kind); never logged. */
  apiKey: z.string().default(''),
};
const engineSchema = z.discriminatedUnion('kind', [
  /** OpenAI's POST /v1/audio/speech, and the self-hosted servers that speak the same API (env OPENAI_BASE_URL). */
  z.strictObject({ kind: z.literal('openai'), ...remoteEngineBase, baseUrl: z.string().default('https://api.openai.com/v1'), model: z.string().default('gpt-4o-mini-tts') }),
  /** ElevenLabs streaming text-to-speech (env ELEVENLABS_BASE_URL). */
  z.strictObject({ kind: z.literal('elevenlabs'), ...remoteEngineBase, baseUrl: z.string().default('https://api.elevenlabs.io'), modelId: z.string().default('eleven_flash_v2_5') }),
  /** Azure Speech REST with SSML: `region` (env AZURE_SPEECH_REGION) or a full `baseUrl` (env AZURE_SPEECH_URL). */
  z.strictObject({ kind: z.literal('azure'), ...remoteEngineBase, region: z.string().default(''), baseUrl: z.string().default(''), language: z.string().default('en-US') }),
]);
export type EngineConfig = z.infer<typeof engineSchema>;

/** Text-to-speech: the local engine, remote engines with their breakers and retries, the audio cache. */
export const ttsSchema = z
  .strictObject({
    espeak: z
      .strictObject({
        /** espeak-ng binary (a path, or a name on PATH). */
        binary: z.string().default('espeak-ng'),
        /** A synthesis taking longer is killed and retried. */
        timeoutMs: durationMs(15000),
      })
      .prefault({}),
    /** Longer text is cut at a word boundary before synthesis. */
    maxTextLength: z.number().int().min(1).max(5000).default(400),
    /** Longest a line may speak (seconds): longer text is cut at a sentence boundary before synthesis, and its audio cut at this length. */
    maxLineSeconds: z.number().min(1).max(600).default(30),
    /**
     * A remote engine that has not delivered its first audio this long after a part was asked
     * for is abandoned (the request aborted) and the next voice in the chain speaks.
     */
    firstAudioDeadlineMs: z.number().int().min(100).default(2500),
    /** Remote engines by name; voices refer to them. */
    engines: z.record(z.string().regex(/^[a-z0-9_-]{1,32}$/, 'an engine name: a-z 0-9 _ -'), engineSchema).default({}),
    /** Circuit breaker of each remote engine (opossum); an open breaker is shared by the whole fleet through Redis. */
    breaker: z
      .strictObject({
        /** A whole answer slower than this fails (and is aborted); the first audio is bounded sooner by firstAudioDeadlineMs. */
        timeoutMs: durationMs(8000),
        /** Failure share in the rolling window that opens the breaker… */
        errorThresholdPercentage: z.number().min(1).max(100).default(50),
        /** …once at least this many requests were made in it. */
        volumeThreshold: z.number().int().min(1).default(3),
        rollingCountTimeoutMs: durationMs(30000),
        /** An open breaker lets one probe through after this long. */
        resetTimeoutMs: durationMs(30000),
      })
      .prefault({}),
    /** Transient failures (timeouts, 5xx, 429) are retried with jittered backoff while the first-audio deadline allows; 429's Retry-After is honoured. Bad audio is not retried. */
    retry: z.strictObject({ attempts: z.number().int().min(1).max(10).default(2), baseMs: durationMs(200), capMs: durationMs(3000) }).prefault({}),
    cache: z
      .strictObject({
        enabled: z.boolean().default(true),
        /** Cached engine audio is kept under this many bytes (least recently used evicted by the maintenance worker). */
        maxBytes: z.number().int().min(1024).default(256 * 1024 * 1024),
      })
      .prefault({}),
    /** Words replaced before synthesis, for names engines say wrong (whole words, case-insensitive). */
    lexicon: z.record(z.string().min(1).max(100), z.string().max(200)).default({}),
    /** The first part of a long line is kept this short, so its audio starts early. */
    firstPartMaxChars: z.number().int().min(20).max(2000).default(120),
  })
  .prefault({});
export type VoiceConfig = z.infer<typeof voiceSchema>;

/** A voice and the voices it falls back to, in order, each once (following fallbacks of fallbacks). */
export function voiceChain(voices: Record<string, { fallback: string[] }>, name: string): string[] {
  const out: string[] = [];
  const visit = (n: string) => {
    if (out.includes(n) || !Object.hasOwn(voices, n)) return;
    out.push(n);
    for (const f of voices[n]!.fallback) visit(f);
  };
  visit(name);
  return out;
}
