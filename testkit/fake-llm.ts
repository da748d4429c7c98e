import http from 'node:http';
import { sleep } from '../src/time';

export type LlmProvider = 'openai' | 'anthropic';
/**
 * `hang`: never answers; `trickle`: tokens at `trickleMs` each; `malformed`: a 200 stream of
 * events that are not JSON; `break`: the first `breakAfter` tokens, then the connection drops;
 * `cut`: the first `breakAfter` tokens, then a clean end without the protocol's finish.
 */
export type LlmFault = 'ok' | '500' | '429' | 'hang' | 'trickle' | 'malformed' | 'break' | 'cut';
export type ModerationFault = 'ok' | 'down' | 'hang' | 'nonsense';

export interface LlmRequest {
  provider: LlmProvider | 'moderation';
  body: Record<string, unknown>;
  /** When it arrived (wall ms): the bench tells the model's time from the rest of a reply's. */
  at: number;
  /** When each answer token was written (wall ms): the model's own time, timer drift included. */
  wrote: number[];
}

export const FAKE_LLM_KEY = 'test-llm-key';

/**
 * Loopback model providers speaking their real streamed protocols: OpenAI chat completions
 * (`POST /v1/chat/completions`, SSE `data: {choices:[{delta:{content}}]}` chunks, a usage chunk,
 * `data: [DONE]`), Anthropic Messages (`POST /v1/messages`, SSE message_start,
 * content_block_delta text_delta, message_delta usage, message_stop) and OpenAI moderations
 * (`POST /v1/moderations`, flagging `flagWords`). Replies are `reply[provider]` cut into word
 * tokens. Every request is recorded, so tests count what a dead provider was sent.
 */
export class FakeLlm {
  readonly requests: LlmRequest[] = [];
  readonly faults: Record<LlmProvider, LlmFault> = { openai: 'ok', anthropic: 'ok' };
  readonly reply: Record<LlmProvider, string> = { openai: 'Hello from the cloud. How are you today?', anthropic: 'Hello from Claude. Nice to meet you.' };
  moderationFault: ModerationFault = 'ok';
  flagWords: string[] = [];
  retryAfterSeconds = 2;
  trickleMs = 30;
  breakAfter = 3;
  /** When set, a stream stops after this many tokens until `release()`: the model provably has not finished. */
  holdAfter: number | undefined;
  private held?: { promise: Promise<void>; resolve: () => void };
  /** Answers finished, per provider: for asserting the order of events. */
  readonly finished: Record<LlmProvider, number> = { openai: 0, anthropic: 0 };
  private readonly server: http.Server;
  private readonly open = new Set<http.ServerResponse>();
  /** Requests left hanging whose connection the client has not closed yet. */
  readonly stalled = new Set<http.ServerResponse>();
  readonly ready: Promise<void>;

  constructor() {
    this.server = http.createServer((req, res) => void this.handle(req, res).catch(() => res.destroy()));
    this.ready = new Promise((resolve) => this.server.listen(0, '127.0.0.1', () => resolve()));
  }

  get url(): string {
    const addr = this.server.address();
    return `http://127.0.0.1:${typeof addr === 'object' && addr ? addr.port : 0}`;
  }

  count(provider: LlmRequest['provider']): number {
    return this.requests.filter((r) => r.provider === provider).length;
  }

  private async handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const body = JSON.parse(Buffer.concat(chunks).toString() || '{}') as Record<string, unknown>;
    this.open.add(res);
    res.on('close', () => this.open.delete(res));
    const path = new URL(req.url ?? '/', 'http://x').pathname;
    if (path === '/v1/moderations') return this.moderate(req, res, body);
    const provider: LlmProvider | undefined = path === '/v1/chat/completions' ? 'openai' : path === '/v1/messages' ? 'anthropic' : undefined;
    if (!provider) return json(res, 404, { error: 'not found' });
    const request: LlmRequest = { provider, body, at: Date.now(), wrote: [] };
    this.requests.push(request);
    // Anthropic takes its key as x-api-key or (as its SDK 1.x sends it) a bearer token.
    const bearer = req.headers.authorization === `Bearer ${FAKE_LLM_KEY}`;
    const authorised = provider === 'openai' ? bearer : bearer || req.headers['x-api-key'] === FAKE_LLM_KEY;
    if (!authorised) return json(res, 401, { error: { type: 'authentication_error', message: 'invalid x-api-key' } });
    if (body.stream !== true) return json(res, 400, { error: { message: 'this fake only streams' } });
    const fault = this.faults[provider];
    if (fault === 'hang') return this.stall(res);
    if (fault === '500') return json(res, 500, { error: { type: 'api_error', message: 'Internal server error' } });
    if (fault === '429') {
      res.setHeader('retry-after', String(this.retryAfterSeconds));
      return json(res, 429, { error: { type: 'rate_limit_error', message: 'Rate limit reached' } });
    }
    res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
    if (fault === 'malformed') return void res.end(provider === 'openai' ? 'data: {"choices":[{"delta":{"content"\n\n' : 'event: message_start\ndata: {not json\n\n');
    await this.stream(provider, res, JSON.stringify(body).length, fault, request.wrote);
  }

  /** The reply as SSE events in the provider's protocol, token by token. */
  private async stream(provider: LlmProvider, res: http.ServerResponse, promptChars: number, fault: LlmFault, wrote: number[]): Promise<void> {
    const tokens = this.reply[provider].match(/\S+\s*/g) ?? [];
    const input = Math.ceil(promptChars / 4);
    const proto = provider === 'openai' ? openAiEvents : anthropicEvents;
    res.write(proto.start(input));
    for (const [i, token] of tokens.entries()) {
      if (i === this.holdAfter) await this.hold().promise;
      if (res.destroyed) return;
      if (fault === 'break' && i === this.breakAfter) return void res.destroy();
      if (fault === 'cut' && i === this.breakAfter) return void res.end();
      res.write(proto.delta(token));
      wrote.push(Date.now());
      await sleep(fault === 'trickle' ? this.trickleMs : 0);
    }
    if (res.destroyed) return;
    res.end(proto.end(input, tokens.length));
    this.finished[provider]++;
  }

  private hold() {
    if (!this.held) {
      let resolve!: () => void;
      const promise = new Promise<void>((r) => (resolve = r));
      this.held = { promise, resolve };
    }
    return this.held;
  }

  /** Let held streams go on. */
  release(): void {
    this.hold().resolve();
  }

  private moderate(req: http.IncomingMessage, res: http.ServerResponse, body: Record<string, unknown>): void {
    this.requests.push({ provider: 'moderation', body, at: Date.now(), wrote: [] });
    if (req.headers.authorization !== `Bearer ${FAKE_LLM_KEY}`) return json(res, 401, { error: { message: 'Incorrect API key provided' } });
    if (this.moderationFault === 'hang') return this.stall(res);
    if (this.moderationFault === 'down') return json(res, 503, { error: { message: 'The server is overloaded or not ready yet.' } });
    if (this.moderationFault === 'nonsense') return json(res, 200, { status: 'ok', results: 'maybe' });
    const text = String(body.input ?? '').toLowerCase();
    const flagged = this.flagWords.some((w) => text.includes(w.toLowerCase()));
    json(res, 200, { id: 'modr-1', model: String(body.model ?? ''), results: [{ flagged, categories: { harassment: flagged, violence: false }, category_scores: { harassment: flagged ? 0.97 : 0.01, violence: 0.0 } }] });
  }

  /** Never answer: only the client can end it. */
  private stall(res: http.ServerResponse): void {
    this.stalled.add(res);
    res.on('close', () => this.stalled.delete(res));
  }

  async close(): Promise<void> {
    this.release();
    for (const r of this.open) r.destroy();
    this.server.closeAllConnections();
    await new Promise<void>((r) => this.server.close(() => r()));
  }
}

function json(res: http.ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { 'content-type': 'application/json' });
  res.end(JSON.stringify(body));
}

const sse = (data: unknown, event?: string) => `${event ? `event: ${event}\n` : ''}data: ${JSON.stringify(data)}\n\n`;

const openAiChunk = (delta: Record<string, unknown>, finish: string | null = null) => ({ id: 'chatcmpl-1', object: 'chat.completion.chunk', created: 0, model: 'fake', choices: [{ index: 0, delta, finish_reason: finish }] });

const openAiEvents = {
  start: () => sse(openAiChunk({ role: 'assistant', content: '' })),
  delta: (text: string) => sse(openAiChunk({ content: text })),
  end: (input: number, output: number) =>
    sse(openAiChunk({}, 'stop')) + sse({ id: 'chatcmpl-1', object: 'chat.completion.chunk', created: 0, model: 'fake', choices: [], usage: { prompt_tokens: input, completion_tokens: output, total_tokens: input + output } }) + 'data: [DONE]\n\n',
};

const anthropicEvents = {
  start: (input: number) =>
    sse({ type: 'message_start', message: { id: 'msg_1', type: 'message', role: 'assistant', content: [], model: 'fake', stop_reason: null, stop_sequence: null, usage: { input_tokens: input, output_tokens: 1 } } }, 'message_start') +
    sse({ type: 'content_block_start', index: 0, content_block: { type: 'text', text: '' } }, 'content_block_start') +
    sse({ type: 'ping' }, 'ping'),
  delta: (text: string) => sse({ type: 'content_block_delta', index: 0, delta: { type: 'text_delta', text } }, 'content_block_delta'),
  end: (_input: number, output: number) =>
    sse({ type: 'content_block_stop', index: 0 }, 'content_block_stop') +
    sse({ type: 'message_delta', delta: { stop_reason: 'end_turn', stop_sequence: null }, usage: { output_tokens: output } }, 'message_delta') +
    sse({ type: 'message_stop' }, 'message_stop'),
};
