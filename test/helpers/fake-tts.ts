import http from 'node:http';

export type Provider = 'openai' | 'elevenlabs' | 'azure';
export type Fault = 'ok' | '500' | 'hang' | 'slow' | '429' | 'malformed' | '401';

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
 * tone of 40 ms per character, streamed in 100 ms chunks. Faults per provider: 500, hanging,
 * streaming slowly, 429 with Retry-After, malformed audio, 401.
 */
export class FakeTts {
  readonly requests: TtsRequest[] = [];
  readonly faults: Record<Provider, Fault> = { openai: 'ok', elevenlabs: 'ok', azure: 'ok' };
  retryAfterSeconds = 1;
  /** Extra delay before answering each request (ms). */
  delayMs = 0;
  slowChunkMs = 400;
  private readonly server: http.Server;
  private readonly open = new Set<http.ServerResponse>();
  readonly ready: Promise<void>;

  constructor() {
    this.server = http.createServer((req, res) => void this.handle(req, res));
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
    let text = '';
    let voice = '';
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
    if (this.delayMs) await new Promise((r) => setTimeout(r, this.delayMs));
    const fault = this.faults[provider];
    if (!authorised || fault === '401') return this.json(res, 401, { error: { message: 'Incorrect API key provided', code: 'invalid_api_key' } });
    if (fault === '500') return this.json(res, 500, { error: { message: 'The server had an error while processing your request.' } });
    if (fault === '429') {
      res.setHeader('retry-after', String(this.retryAfterSeconds));
      return this.json(res, 429, { error: { message: 'Rate limit reached', type: 'requests' } });
    }
    if (fault === 'hang') {
      this.open.add(res);
      return; // never answers; the client's timeout must end it
    }
    if (fault === 'malformed') {
      res.writeHead(200, { 'content-type': 'audio/pcm' });
      return void res.end(Buffer.from([1, 2, 3])); // 3 bytes: not whole 16-bit samples
    }
    res.writeHead(200, { 'content-type': provider === 'elevenlabs' ? 'audio/pcm' : 'application/octet-stream', 'transfer-encoding': 'chunked' });
    this.open.add(res);
    const pcm = tone(Math.max(300, text.length * 40));
    for (let off = 0; off < pcm.length; off += 4800) {
      if (res.destroyed) break;
      res.write(pcm.subarray(off, off + 4800));
      if (fault === 'slow') await new Promise((r) => setTimeout(r, this.slowChunkMs));
    }
    res.end();
    this.open.delete(res);
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

/** A 440 Hz tone, 24 kHz 16-bit mono. */
export function tone(ms: number): Buffer {
  const n = Math.round((24000 * ms) / 1000);
  const b = Buffer.alloc(n * 2);
  for (let i = 0; i < n; i++) b.writeInt16LE(Math.round(Math.sin((2 * Math.PI * 440 * i) / 24000) * 8000), i * 2);
  return b;
}
