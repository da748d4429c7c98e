import type { EngineConfig, VoiceConfig } from '../config/schema';
import { parseWavHeader } from '../audio/wav';
import { escapeXml } from './text';
import type { SpeechStream, TtsEngine } from './tts-engine';

/** Every remote engine is asked for raw 16-bit mono PCM at this rate. */
export const REMOTE_SAMPLE_RATE = 24000;

/**
 * A failed synthesis. `transient` failures (timeouts, 5xx, 429) are worth another try; permanent
 * ones (400, 401, 403, 404) and bad audio are not, and say why.
 */
export class TtsError extends Error {
  constructor(
    message: string,
    readonly transient: boolean,
    readonly status?: number,
    readonly retryAfterMs?: number,
  ) {
    super(message);
    this.name = 'TtsError';
  }
}

/** Why engine audio was refused before it could be cached or aired (a metric label). */
export type BadAudioReason = 'container' | 'format' | 'too-short' | 'too-long' | 'silence' | 'truncated' | 'deadline';

/**
 * Audio that is not speech, or no audio in time. Not retried on the same engine (the next voice
 * speaks at once), but counted by its breaker like any failure.
 */
export class BadAudioError extends TtsError {
  constructor(
    message: string,
    readonly reason: BadAudioReason,
  ) {
    super(message, false);
    this.name = 'BadAudioError';
  }
}

function retryAfterMs(header: string | null): number | undefined {
  if (!header) return undefined;
  const seconds = Number(header);
  if (Number.isFinite(seconds)) return Math.max(0, seconds * 1000);
  const date = Date.parse(header);
  return Number.isFinite(date) ? Math.max(0, date - Date.now()) : undefined;
}

/** Compressed audio we never ask for: without a decoder here, it is refused rather than aired as noise. */
const COMPRESSED = /audio\/(?:mpeg|mp3|ogg|opus|aac|flac|webm|mp4)/;
const WAV_TYPE = /audio\/(?:wav|wave|x-wav|vnd\.wave)/;
/** A WAV header longer than this is not one. */
const MAX_WAV_HEADER = 64 * 1024;

/** POST and check the answer: a non-2xx status or a non-audio body becomes a TtsError. */
async function postForAudio(engine: string, url: string, init: RequestInit, signal?: AbortSignal): Promise<Response> {
  let res: Response;
  try {
    res = await fetch(url, { ...init, method: 'POST', signal });
  } catch (err) {
    throw new TtsError(`${engine}: ${(err as Error).name === 'AbortError' || (err as Error).name === 'TimeoutError' ? 'request aborted (timeout)' : `network error: ${(err as Error).message}`}`, true);
  }
  if (!res.ok) {
    const detail = (await res.text().catch(() => '')).slice(0, 200).replace(/\s+/g, ' ');
    const transient = res.status >= 500 || res.status === 429 || res.status === 408;
    throw new TtsError(`${engine}: HTTP ${res.status}${detail ? ` ${detail}` : ''}`, transient, res.status, retryAfterMs(res.headers.get('retry-after')));
  }
  const type = res.headers.get('content-type') ?? '';
  if (/json|text\/|html|xml/.test(type) || COMPRESSED.test(type)) {
    await res.body?.cancel().catch(() => {});
    throw new BadAudioError(`${engine}: answered ${type} instead of PCM audio`, 'container');
  }
  if (!res.body) throw new BadAudioError(`${engine}: empty answer`, 'container');
  return res;
}

/**
 * Read the start of the body to tell a WAV (some servers wrap the PCM asked for in one, whatever
 * the request said) from raw PCM, and return the format and the first samples. A body that says
 * RIFF or audio/wav but has no parseable header is refused, never taken as samples.
 */
async function readHead(engine: string, body: AsyncIterator<Uint8Array>, type: string) {
  let head = Buffer.alloc(0);
  let ended = false;
  const more = async () => {
    const r = await body.next();
    if (r.done) ended = true;
    else head = Buffer.concat([head, Buffer.from(r.value)]);
  };
  while (!ended && head.length < 12) await more();
  if (head.toString('latin1', 0, 4) !== 'RIFF' && !WAV_TYPE.test(type)) {
    return { format: { sampleRate: REMOTE_SAMPLE_RATE, channels: 1 }, head, dataBytes: undefined };
  }
  for (;;) {
    try {
      const { format, dataOffset } = parseWavHeader(head);
      // Streamed WAVs leave the size unknown (0 or 0xFFFFFFFF); a stated one bounds the samples.
      const size = head.readUInt32LE(dataOffset - 4);
      return { format, head: head.subarray(dataOffset), dataBytes: size === 0 || size === 0xffffffff ? undefined : size };
    } catch (err) {
      const incomplete = head.length < 12 || /incomplete/.test((err as Error).message);
      if (!incomplete || ended || head.length > MAX_WAV_HEADER) throw new BadAudioError(`${engine}: broken WAV (${head.length} bytes): ${(err as Error).message}`, 'container');
      await more();
    }
  }
}

/**
 * The rest of the body as chunks of whole samples. A dangling half sample is malformed audio; a
 * WAV that stated its data size must deliver it (anything after it, such as a trailing metadata
 * chunk, is not samples).
 */
async function* pcmChunks(engine: string, head: Buffer, body: AsyncIterator<Uint8Array>, dataBytes?: number): AsyncIterable<Buffer> {
  let carry: Buffer = head;
  let left = dataBytes ?? Infinity;
  while (left > carry.length) {
    const r = await body.next();
    if (r.done) break;
    let chunk = Buffer.concat([carry, Buffer.from(r.value)]);
    carry = Buffer.alloc(0);
    if (chunk.length % 2) {
      carry = chunk.subarray(chunk.length - 1);
      chunk = chunk.subarray(0, chunk.length - 1);
    }
    chunk = chunk.subarray(0, Math.min(chunk.length, left));
    left -= chunk.length;
    if (chunk.length) yield chunk;
  }
  carry = carry.subarray(0, Math.min(carry.length, left));
  left -= carry.length;
  if (dataBytes !== undefined && left > 0) throw new BadAudioError(`${engine}: the WAV stated ${dataBytes} bytes of samples and delivered ${dataBytes - left}`, 'truncated');
  if (carry.length % 2) throw new BadAudioError(`${engine}: malformed audio (odd length)`, 'container');
  if (carry.length) yield carry;
}

async function stream(engine: string, res: Response): Promise<SpeechStream> {
  const body = (res.body as unknown as AsyncIterable<Uint8Array>)[Symbol.asyncIterator]();
  const { format, head, dataBytes } = await readHead(engine, body, res.headers.get('content-type') ?? '');
  return { format, chunks: pcmChunks(engine, head, body, dataBytes) };
}

/** OpenAI-compatible `POST /audio/speech` with `response_format: pcm` (24 kHz 16-bit mono). */
export class OpenAiEngine implements TtsEngine {
  constructor(
    readonly name: string,
    private readonly config: Extract<EngineConfig, { kind: 'openai' }>,
  ) {}

  async synthesize(text: string, voice: VoiceConfig, signal?: AbortSignal): Promise<SpeechStream> {
    const res = await postForAudio(this.name, `${this.config.baseUrl.replace(/\/$/, '')}/audio/speech`, {
      headers: { authorization: `Bearer ${this.config.apiKey}`, 'content-type': 'application/json' },
      body: JSON.stringify({ model: this.config.model, input: text, voice: voice.voice, response_format: 'pcm', ...voice.params }),
    }, signal);
    return await stream(this.name, res);
  }
}

/** ElevenLabs `POST /v1/text-to-speech/{voice_id}/stream` with `output_format=pcm_24000`. */
export class ElevenLabsEngine implements TtsEngine {
  constructor(
    readonly name: string,
    private readonly config: Extract<EngineConfig, { kind: 'elevenlabs' }>,
  ) {}

  async synthesize(text: string, voice: VoiceConfig, signal?: AbortSignal): Promise<SpeechStream> {
    const base = this.config.baseUrl.replace(/\/$/, '');
    const { model_id: modelId, ...settings } = voice.params as Record<string, unknown>;
    const res = await postForAudio(this.name, `${base}/v1/text-to-speech/${encodeURIComponent(voice.voice)}/stream?output_format=pcm_${REMOTE_SAMPLE_RATE}`, {
      headers: { 'xi-api-key': this.config.apiKey, 'content-type': 'application/json', accept: 'audio/pcm' },
      body: JSON.stringify({ text, model_id: modelId ?? this.config.modelId, ...(Object.keys(settings).length ? { voice_settings: settings } : {}) }),
    }, signal);
    return await stream(this.name, res);
  }
}

/** Azure Speech REST: SSML in (the text escaped, so it can never become markup), raw PCM out. */
export class AzureEngine implements TtsEngine {
  constructor(
    readonly name: string,
    private readonly config: Extract<EngineConfig, { kind: 'azure' }>,
  ) {}

  /** The SSML document for a line; prosody values come from the voice's params (config, not chat). */
  ssml(text: string, voice: VoiceConfig): string {
    const { rate, pitch } = voice.params as { rate?: string | number; pitch?: string | number };
    const prosody = [rate !== undefined ? ` rate="${escapeXml(String(rate))}"` : '', pitch !== undefined ? ` pitch="${escapeXml(String(pitch))}"` : ''].join('');
    const body = prosody ? `<prosody${prosody}>${escapeXml(text)}</prosody>` : escapeXml(text);
    return `<speak version="1.0" xmlns="http://www.w3.org/2001/10/synthesis" xml:lang="${escapeXml(this.config.language)}"><voice name="${escapeXml(voice.voice)}">${body}</voice></speak>`;
  }

  async synthesize(text: string, voice: VoiceConfig, signal?: AbortSignal): Promise<SpeechStream> {
    const res = await postForAudio(this.name, `${this.config.baseUrl.replace(/\/$/, '')}/cognitiveservices/v1`, {
      headers: { 'ocp-apim-subscription-key': this.config.apiKey, 'content-type': 'application/ssml+xml', 'x-microsoft-outputformat': 'raw-24khz-16bit-mono-pcm', 'user-agent': 'idolcast' },
      body: this.ssml(text, voice),
    }, signal);
    return await stream(this.name, res);
  }
}

/** Build the configured remote engines by name. */
export function remoteEngines(engines: Record<string, EngineConfig>): Record<string, TtsEngine> {
  return Object.fromEntries(
    Object.entries(engines).map(([name, c]) => [name, c.kind === 'openai' ? new OpenAiEngine(name, c) : c.kind === 'elevenlabs' ? new ElevenLabsEngine(name, c) : new AzureEngine(name, c)]),
  );
}
