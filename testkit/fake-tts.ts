import http from 'node:http';
import { sleep } from '../src/time';

export type Provider = 'openai' | 'elevenlabs' | 'azure';
export type Fault = 'ok' | '500' | 'hang' | 'slow' | '429' | 'malformed' | '401' | BadAudioFault | 'trickle' | 'wav';
/**
 * 200 answers that are not speech: 24 bytes of text labelled audio/wav, a valid WAV header over
 * all-zero samples, a WAV whose body breaks off before its declared length, an HTML page.
 */
export type BadAudioFault = 'junk-wav' | 'silent-wav' | 'truncated' | 'html';

export interface TtsRequest {
  provider: Provider;
  at: number;
  text: string;
  voice: string;
  body: string;
}

export const FAKE_KEY = 'test-key';

/**
 * Loopback TTS providers of our own, each speaking its real API: OpenAI `POST /v1/audio/speech`
 * (response_format pcm), ElevenLabs `POST /v1/text-to-speech/{voice}/stream?output_format=pcm_24000`
 * and Azure `POST /cognitiveservices/v1` (SSML in, raw-24khz-16bit-mono-pcm out). Audio is a
 * tone of `msPerChar` per character, streamed in 100 ms chunks. Faults per provider: 500, hanging,
 * streaming slowly, trickling a byte a second, 429 with Retry-After, malformed audio, 401, and
 * the bad 200 answers of BadAudioFault; `wav` answers good audio as a WAV.
 */
export class FakeTts {
  readonly requests: TtsRequest[] = [];
  readonly faults: Record<Provider, Fault> = { openai: 'ok', elevenlabs: 'ok', azure: 'ok' };
  retryAfterSeconds = 1;
  /** Extra delay before answering each request (ms). */
  delayMs = 0;
  slowChunkMs = 400;
  msPerChar = 40;
  private readonly server: http.Server;
  /** Answers left hanging or trickling whose connection the client has not closed yet. */
  readonly stalled = new Set<http.ServerResponse>();
  private readonly open = new Set<http.ServerResponse>();
  readonly ready: Promise<void>;

  constructor() {
    this.server = http.createServer((req, res) => {
      // A body the fake cannot read (not JSON) gets a 400, as the real services answer it.
      this.handle(req, res).catch((err: Error) => (res.headersSent ? res.destroy() : this.json(res, 400, { error: { message: err.message } })));
    });
    this.ready = new Promise((resolve) => this.server.listen(0, '127.0.0.1', () => resolve()));
  }

  get url(): string {
    const addr = this.server.address();
    return `http://127.0.0.1:${typeof addr === 'object' && addr ? addr.port : 0}`;
  }

  count(provider: Provider): number {
    return this.requests.filter((r) => r.provider === provider).length;
  }

  private async handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const body = Buffer.concat(chunks).toString();
    const url = new URL(req.url ?? '/', 'http://x');
    let provider: Provider;
    let text: string;
    let voice: string;
    let authorised: boolean;
    if (url.pathname === '/v1/audio/speech') {
      provider = 'openai';
      const json = JSON.parse(body) as { input?: string; voice?: string; response_format?: string };
      text = json.input ?? '';
      voice = json.voice ?? '';
      authorised = req.headers.authorization === `Bearer ${FAKE_KEY}`;
      if (json.response_format !== 'pcm') return this.json(res, 400, { error: { message: 'response_format must be pcm in this fake', type: 'invalid_request_error' } });
    } else if (/^\/v1\/text-to-speech\/[^/]+\/stream$/.test(url.pathname)) {
      provider = 'elevenlabs';
      const json = JSON.parse(body) as { text?: string };
      text = json.text ?? '';
      voice = decodeURIComponent(url.pathname.split('/')[3] ?? '');
      authorised = req.headers['xi-api-key'] === FAKE_KEY && url.searchParams.get('output_format') === 'pcm_24000';
    } else if (url.pathname === '/cognitiveservices/v1') {
      provider = 'azure';
      // Exactly one <voice> element may exist; its text content is what gets spoken.
      const voices = [...body.matchAll(/<voice name="([^"]*)">([\s\S]*?)<\/voice>/g)];
      if (voices.length !== 1 || req.headers['content-type'] !== 'application/ssml+xml') return this.json(res, 400, { error: 'bad SSML' });
      voice = voices[0]![1]!;
      text = voices[0]![2]!.replace(/<[^>]+>/g, '').replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&quot;/g, '"').replace(/&apos;/g, "'").replace(/&amp;/g, '&');
      authorised = req.headers['ocp-apim-subscription-key'] === FAKE_KEY && req.headers['x-microsoft-outputformat'] === 'raw-24khz-16bit-mono-pcm';
    } else {
      return this.json(res, 404, { error: 'not found' });
    }
    this.requests.push({ provider, at: Date.now(), text, voice, body });
    if (this.delayMs) await sleep(this.delayMs);
    const fault = this.faults[provider];
    if (!authorised || fault === '401') return this.json(res, 401, { error: { message: 'Incorrect API key provided', code: 'invalid_api_key' } });
    if (fault === '500') return this.json(res, 500, { error: { message: 'The server had an error while processing your request.' } });
    if (fault === '429') {
      res.setHeader('retry-after', String(this.retryAfterSeconds));
      return this.json(res, 429, { error: { message: 'Rate limit reached', type: 'requests' } });
    }
    if (fault === 'hang' || fault === 'trickle') return this.stall(res, fault);
    if (fault === 'junk-wav' || fault === 'silent-wav' || fault === 'truncated' || fault === 'html') return this.badAudio(res, fault, text);
    if (fault === 'wav') {
      // Good audio, wrapped in a WAV as some servers do whatever was asked, with a metadata chunk after the samples.
      const pcm = tone(Math.max(300, text.length * this.msPerChar));
      const list = Buffer.concat([Buffer.from('LIST'), Buffer.from([8, 0, 0, 0]), Buffer.from('INFOjunk')]);
      res.writeHead(200, { 'content-type': 'audio/wav' });
      return void res.end(Buffer.concat([wavHeader(pcm.length), pcm, list]));
    }
    if (fault === 'malformed') {
      res.writeHead(200, { 'content-type': 'audio/pcm' });
      return void res.end(Buffer.from([1, 2, 3])); // 3 bytes: not whole 16-bit samples
    }
    res.writeHead(200, { 'content-type': provider === 'elevenlabs' ? 'audio/pcm' : 'application/octet-stream', 'transfer-encoding': 'chunked' });
    this.open.add(res);
    const pcm = tone(Math.max(300, text.length * this.msPerChar));
    for (let off = 0; off < pcm.length; off += 4800) {
      if (res.destroyed) break;
      res.write(pcm.subarray(off, off + 4800));
      if (fault === 'slow') await sleep(this.slowChunkMs);
    }
    res.end();
    this.open.delete(res);
  }

  /** Never answer, or answer 200 and then send one byte a second: only the client can end it. */
  private stall(res: http.ServerResponse, fault: 'hang' | 'trickle'): void {
    this.open.add(res);
    this.stalled.add(res);
    res.on('close', () => this.stalled.delete(res));
    if (fault === 'hang') return;
    res.writeHead(200, { 'content-type': 'application/octet-stream', 'transfer-encoding': 'chunked' });
    const timer = setInterval(() => (res.destroyed ? clearInterval(timer) : res.write(Buffer.from([0x10]))), 1000);
    res.on('close', () => clearInterval(timer));
  }

  private badAudio(res: http.ServerResponse, fault: BadAudioFault, text: string): void {
    if (fault === 'html') {
      res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
      return void res.end('<!doctype html><html><body><h1>Service temporarily unavailable</h1></body></html>');
    }
    if (fault === 'junk-wav') {
      res.writeHead(200, { 'content-type': 'audio/wav' });
      return void res.end(Buffer.from('{"status":"queued","x":1}').subarray(0, 24));
    }
    const audio = tone(Math.max(300, text.length * this.msPerChar));
    const pcm = fault === 'silent-wav' ? Buffer.alloc(audio.length) : audio;
    const wav = Buffer.concat([wavHeader(pcm.length), pcm]);
    res.writeHead(200, { 'content-type': 'audio/wav', 'content-length': String(wav.length) });
    if (fault === 'silent-wav') return void res.end(wav);
    // Half the declared length, then the connection drops.
    res.write(wav.subarray(0, wav.length >> 1), () => res.destroy());
  }

  private json(res: http.ServerResponse, status: number, body: unknown): void {
    res.writeHead(status, { 'content-type': 'application/json' });
    res.end(JSON.stringify(body));
  }

  async close(): Promise<void> {
    for (const r of this.open) r.destroy();
    this.server.closeAllConnections();
    await new Promise<void>((r) => this.server.close(() => r()));
  }
}

/** The 44-byte header of a 24 kHz 16-bit mono WAV holding `dataBytes` of samples. */
export function wavHeader(dataBytes: number): Buffer {
  const h = Buffer.alloc(44);
  h.write('RIFF', 0, 'ascii');
  h.writeUInt32LE(36 + dataBytes, 4);
  h.write('WAVEfmt ', 8, 'ascii');
  h.writeUInt32LE(16, 16);
  h.writeUInt16LE(1, 20);
  h.writeUInt16LE(1, 22);
  h.writeUInt32LE(24000, 24);
  h.writeUInt32LE(48000, 28);
  h.writeUInt16LE(2, 32);
  h.writeUInt16LE(16, 34);
  h.write('data', 36, 'ascii');
  h.writeUInt32LE(dataBytes, 40);
  return h;
}

/** A 440 Hz tone, 24 kHz 16-bit mono. */
export function tone(ms: number): Buffer {
  const n = Math.round((24000 * ms) / 1000);
  const b = Buffer.alloc(n * 2);
  for (let i = 0; i < n; i++) b.writeInt16LE(Math.round(Math.sin((2 * Math.PI * 440 * i) / 24000) * 8000), i * 2);
  return b;
}
