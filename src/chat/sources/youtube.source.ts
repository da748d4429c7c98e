import type { Redis } from '../../redis';
import type { Config } from '../../config/schema';
import type { Logger } from '../../logger';
import type { Metrics } from '../../metrics';
import type { Keyspace } from '../../redis';
import type { ChatEvent, Role } from '../../../queues/chat-event.schema';
import { reconnectDelay, type ChatSink, type ChatSource, type ChatSourceStatus } from '../chat-source';
import { sleep } from '../../time';
import { DEFAULT_GRPC_URL, YouTubeStreamClient, grpc, restItem, streamRefused, type StreamEnd, type StreamResponse } from './youtube-stream';

type YouTubeConfig = Config['chat']['youtube'];

/** Quota units one liveChatMessages.list call costs. */
export const POLL_COST_UNITS = 5;

/** The slowest poll interval a daily quota can afford, polling all day long. */
export function budgetIntervalMs(dailyQuotaUnits: number): number {
  return Math.ceil(86_400_000 / (dailyQuotaUnits / POLL_COST_UNITS));
}

/**
 * Stream opens allowed back to back beyond the pace (a drop is resumed at once, not 43 s later).
 * Each StreamList call is counted as a list call (5 units): Google does not publish a separate
 * price, so the budget assumes the same.
 */
export const STREAM_BURST = 3;

/** The pace of stream opens: the burst included, a whole day of reopening stays within the quota. */
export function streamIntervalMs(dailyQuotaUnits: number): number {
  return Math.ceil(86_400_000 / Math.max(1, dailyQuotaUnits / POLL_COST_UNITS - STREAM_BURST));
}

/** Reasons (the REST API's, or a stream's mapped to them) that say the chat is over or not ours. */
const CHAT_OVER = new Set(['liveChatEnded', 'liveChatNotFound', 'liveChatDisabled', 'noActiveLiveChat', 'forbidden']);

/** Streaming failures in a row without a single response after which `auto` polls for a while. */
const STREAM_FAILURES_BEFORE_POLLING = 3;

export interface LiveChatItem {
  id?: string;
  snippet?: {
    type?: string;
    publishedAt?: string;
    displayMessage?: string;
    textMessageDetails?: { messageText?: string };
    superChatDetails?: { amountMicros?: string; currency?: string; userComment?: string };
    superStickerDetails?: { amountMicros?: string; currency?: string };
    membershipGiftingDetails?: { giftMembershipsCount?: number };
  };
  authorDetails?: { channelId?: string; displayName?: string; isChatOwner?: boolean; isChatModerator?: boolean; isChatSponsor?: boolean };
}

class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly reason: string,
  ) {
    super(`YouTube API ${status}${reason ? ` (${reason})` : ''}`);
  }
}

/** Map one liveChatMessages item to a ChatEvent (undefined for kinds idolcast does not use). */
export function youtubeEvent(item: LiveChatItem, liveChatId: string, channel: string): ChatEvent | undefined {
  const s = item.snippet;
  const a = item.authorDetails;
  if (!item.id || !s || !a?.channelId) return undefined;
  const roles: Role[] = [];
  if (a.isChatOwner) roles.push('broadcaster');
  if (a.isChatModerator) roles.push('moderator');
  if (a.isChatSponsor) roles.push('member');
  let kind: ChatEvent['kind'];
  let text = s.displayMessage ?? '';
  let paid: ChatEvent['paid'];
  switch (s.type) {
    case 'textMessageEvent':
      kind = 'message';
      text = s.textMessageDetails?.messageText ?? text;
      break;
    case 'superChatEvent':
      kind = 'superchat';
      text = s.superChatDetails?.userComment ?? '';
      paid = { amount: Number(s.superChatDetails?.amountMicros ?? 0) / 1e6, currency: s.superChatDetails?.currency ?? '' };
      break;
    case 'superStickerEvent':
      kind = 'superchat';
      text = '';
      paid = { amount: Number(s.superStickerDetails?.amountMicros ?? 0) / 1e6, currency: s.superStickerDetails?.currency ?? '' };
      break;
    case 'newSponsorEvent':
    case 'memberMilestoneChatEvent':
      kind = 'subscription';
      break;
    case 'membershipGiftingEvent':
      kind = 'gift';
      paid = { amount: Number(s.membershipGiftingDetails?.giftMembershipsCount ?? 1), currency: 'memberships' };
      break;
    default:
      return undefined;
  }
  const published = Date.parse(s.publishedAt ?? '');
  const name = (a.displayName ?? a.channelId).slice(0, 64);
  return {
    platform: 'youtube', channel, room: liveChatId, id: item.id, kind, text, emotes: [], paid,
    timestamp: Number.isFinite(published) ? published : Date.now(), acceptedAt: Date.now(),
    user: { id: a.channelId, login: name.toLowerCase().replace(/\s+/g, '_'), displayName: name, roles },
  };
}

/** Wait before the next round, or stop reading for good. */
type Round = number | 'stop';

/** The reason, in the REST API's words, for a StreamList call that ended. */
function streamReason(code: grpc.status): string {
  if (code === grpc.status.NOT_FOUND) return 'liveChatNotFound';
  if (code === grpc.status.RESOURCE_EXHAUSTED) return 'quotaExceeded';
  if (code === grpc.status.OK) return 'streamEnded';
  return grpc.status[code] ?? String(code);
}

/** An item too broken to be any chat event (not one of the kinds we merely do not use). */
function malformed(item: unknown): boolean {
  const i = item as LiveChatItem | null;
  return !i || typeof i !== 'object' || typeof i.id !== 'string' || !i.snippet || !i.authorDetails?.channelId;
}

/**
 * YouTube live chat through the Data API v3. Streams liveChatMessages.streamList (gRPC) when it can:
 * messages arrive as they are posted; a drop resumes from the last nextPageToken. Polls
 * liveChatMessages.list otherwise (transport `poll`, or `auto` while streaming is refused), no faster
 * than the server's pollingIntervalMillis nor than the daily quota affords. Both transports spend the
 * same budget (5 units a call), paced through one Redis key so a restarted or crash-looping ingest
 * cannot spend faster; the page token is kept in Redis too, so a restart resumes without repeats.
 * Message ids are YouTube's own on both transports: the ingest dedupe decides each message once.
 * The API key travels in the query string (list) or x-goog-api-key metadata (stream), never logged.
 */
export class YouTubeSource implements ChatSource {
  readonly platform = 'youtube' as const;
  private sink?: ChatSink;
  private stopping = false;
  /** Aborted by stop(): ends the wait between rounds and an open stream at once. */
  private readonly stopped = new AbortController();
  private liveChatId: string;
  private pageToken?: string;
  private attempt = 0;
  private reconnects = 0;
  private connected = false;
  private lastError?: string;
  private loop?: Promise<void>;
  /** auto: poll instead of streaming until then (streaming was refused). */
  private pollUntil = 0;
  private streamFailures = 0;
  private stream?: YouTubeStreamClient;
  private transport?: 'stream' | 'poll';

  constructor(private readonly opts: { config: YouTubeConfig; channel: string; log: Logger; redis: Redis; keys: Keyspace; metrics?: Metrics; fetch?: typeof fetch }) {
    this.liveChatId = opts.config.liveChatId;
  }

  status(): ChatSourceStatus {
    return { platform: 'youtube', rooms: this.liveChatId ? [this.liveChatId] : [], connected: this.connected, reconnects: this.reconnects, lastError: this.lastError };
  }

  private tokenKey(): string {
    return this.opts.keys.youtubePageToken(this.liveChatId);
  }

  private nextPollKey(): string {
    return this.opts.keys.youtubeNextPoll(this.liveChatId);
  }

  async start(sink: ChatSink): Promise<void> {
    this.sink = sink;
    this.loop = this.run();
  }

  private async get(path: string, params: Record<string, string>): Promise<Record<string, unknown>> {
    const url = new URL(this.opts.config.baseUrl.replace(/\/$/, '') + path);
    for (const [k, v] of Object.entries({ ...params, key: this.opts.config.apiKey })) url.searchParams.set(k, v);
    const res = await (this.opts.fetch ?? fetch)(url, { signal: AbortSignal.timeout(15000) });
    const body = (await res.json().catch(() => ({}))) as { error?: { errors?: { reason?: string }[] } } & Record<string, unknown>;
    if (!res.ok) throw new ApiError(res.status, body.error?.errors?.[0]?.reason ?? '');
    return body;
  }

  private setConnected(connected: boolean): void {
    this.connected = connected;
    if (this.liveChatId) this.opts.metrics?.sourceConnected.set({ platform: 'youtube', room: this.liveChatId }, connected ? 1 : 0);
  }

  private async resolveLiveChatId(): Promise<void> {
    const body = await this.get('/videos', { part: 'liveStreamingDetails', id: this.opts.config.videoId });
    const items = body.items as { liveStreamingDetails?: { activeLiveChatId?: string } }[] | undefined;
    const id = items?.[0]?.liveStreamingDetails?.activeLiveChatId;
    if (!id) throw new ApiError(404, 'noActiveLiveChat');
    this.liveChatId = id;
    this.opts.log.info({ videoId: this.opts.config.videoId, liveChatId: id }, 'youtube live chat found');
  }

  private async run(): Promise<void> {
    while (!this.stopping) {
      let waitMs: Round;
      try {
        if (!this.liveChatId) await this.resolveLiveChatId();
        this.pageToken ??= (await this.opts.redis.get(this.tokenKey())) ?? undefined;
        waitMs = this.useStream() ? await this.streamRound() : await this.pollRound();
      } catch (err) {
        waitMs = await this.failed(err);
      }
      if (waitMs === 'stop') return;
      if (!this.stopping && waitMs > 0) await sleep(waitMs, this.stopped.signal);
    }
  }

  private useStream(): boolean {
    const t = this.opts.config.transport;
    const stream = t === 'stream' || (t === 'auto' && Date.now() >= this.pollUntil);
    const now = stream ? 'stream' : 'poll';
    if (now !== this.transport) this.opts.log.info({ transport: now }, 'youtube chat transport');
    this.transport = now;
    return stream;
  }

  /** One list call when the pace allows it; the wait before the next. */
  private async pollRound(): Promise<Round> {
    const { config, redis } = this.opts;
    // The pace outlives the process: a restart waits out the interval its predecessor was given.
    const notYet = await redis.pttl(this.nextPollKey());
    if (notYet > 0) return notYet;
    const body = await this.get('/liveChat/messages', { liveChatId: this.liveChatId, part: 'snippet,authorDetails', maxResults: '2000', ...(this.pageToken ? { pageToken: this.pageToken } : {}) });
    this.reading();
    this.deliver(body.items);
    if (typeof body.nextPageToken === 'string') await this.keepToken(body.nextPageToken);
    const waitMs = Math.max(budgetIntervalMs(config.dailyQuotaUnits), Number(body.pollingIntervalMillis) || 0);
    await redis.set(this.nextPollKey(), '1', 'PX', waitMs);
    return waitMs;
  }

  /**
   * Stream opens share the list pace (the key's time to live is how far ahead of the pace we are),
   * with STREAM_BURST opens of slack so a drop is resumed at once. The wait before opening, or 0
   * once the call is charged.
   */
  private async paceStream(): Promise<number> {
    const interval = streamIntervalMs(this.opts.config.dailyQuotaUnits);
    const ahead = Math.max(0, await this.opts.redis.pttl(this.nextPollKey()));
    if (ahead > STREAM_BURST * interval) return ahead - STREAM_BURST * interval;
    await this.opts.redis.set(this.nextPollKey(), '1', 'PX', ahead + interval);
    return 0;
  }

  /** One StreamList call, read until it ends; then decide: reconnect, fall back to polling, or stop. */
  private async streamRound(): Promise<Round> {
    const { config, log } = this.opts;
    const wait = await this.paceStream();
    if (wait > 0) return wait;
    let offline = false;
    const end = await this.openStream((r) => (offline = this.onStreamResponse(r)));
    if (this.stopping) return 0;
    if (offline) throw new ApiError(0, 'liveChatEnded');
    if (end.responses > 0) this.streamFailures = 0;
    else this.streamFailures++;
    if (config.transport === 'auto' && (streamRefused(end.code) || this.streamFailures >= STREAM_FAILURES_BEFORE_POLLING)) {
      this.pollUntil = Date.now() + config.streamRetryMs;
      this.streamFailures = 0;
      this.lastError = `stream ${grpc.status[end.code]}: ${end.details}`;
      log.warn({ code: grpc.status[end.code], details: end.details, retryStreamInMs: config.streamRetryMs }, 'youtube streaming refused or failing: polling for now');
      return 0;
    }
    throw new ApiError(end.code, streamReason(end.code));
  }

  /** One StreamList call; a client that cannot be built (the .proto missing) counts as streaming refused. */
  private async openStream(onResponse: (r: StreamResponse) => boolean): Promise<StreamEnd> {
    const { config } = this.opts;
    try {
      this.stream ??= new YouTubeStreamClient(config.grpcUrl || DEFAULT_GRPC_URL, config.apiKey);
    } catch (err) {
      return { code: grpc.status.UNIMPLEMENTED, details: (err as Error).message, responses: 0, idle: false };
    }
    return this.stream.open({ liveChatId: this.liveChatId, pageToken: this.pageToken, idleMs: config.streamIdleMs, signal: this.stopped.signal, onResponse });
  }

  /** Deliver one streamed page; true when the broadcast has gone offline (the call is then dropped). */
  private onStreamResponse(r: StreamResponse): boolean {
    this.reading();
    this.deliver(Array.isArray(r.items) ? r.items.map(restItem) : []);
    if (typeof r.nextPageToken === 'string' && r.nextPageToken) {
      this.keepToken(r.nextPageToken).catch((err: Error) => this.opts.log.warn({ err: err.message }, 'youtube page token not kept'));
    }
    return Boolean(r.offlineAt);
  }

  private reading(): void {
    if (!this.connected) this.setConnected(true);
    this.attempt = 0;
  }

  private async keepToken(token: string): Promise<void> {
    this.pageToken = token;
    await this.opts.redis.set(this.tokenKey(), token, 'EX', 7 * 24 * 3600);
  }

  private deliver(items: unknown): void {
    if (!Array.isArray(items)) return;
    for (const item of items) {
      try {
        const e = youtubeEvent(item as LiveChatItem, this.liveChatId, this.opts.channel);
        if (e) this.sink?.(e);
        else if (malformed(item)) this.opts.log.warn({ id: String((item as LiveChatItem | null)?.id ?? '').slice(0, 64) }, 'youtube item skipped: no id, snippet or author');
      } catch (err) {
        this.opts.log.warn({ err: (err as Error).message }, 'youtube item dropped: could not be read');
      }
    }
  }

  private async failed(err: unknown): Promise<Round> {
    const { config, log } = this.opts;
    this.lastError = (err as Error).message;
    const status = err instanceof ApiError ? err.status : 0;
    const reason = err instanceof ApiError ? err.reason : '';
    const minInterval = budgetIntervalMs(config.dailyQuotaUnits);
    if (CHAT_OVER.has(reason)) {
      // The chat is over or not ours: stop reading it; with a video id, look for a new one slowly.
      this.setConnected(false);
      log.warn({ reason, liveChatId: this.liveChatId }, 'youtube live chat unavailable');
      if (!config.videoId) return 'stop';
      if (reason !== 'noActiveLiveChat') await this.opts.redis.del(this.tokenKey());
      this.liveChatId = '';
      this.pageToken = undefined;
      return Math.max(minInterval, config.backoffCapMs);
    }
    if (this.connected) this.reconnects++;
    this.opts.metrics?.sourceReconnects.inc({ platform: 'youtube' });
    this.setConnected(false);
    let waitMs = reconnectDelay(this.attempt++, config.backoffBaseMs, config.backoffCapMs);
    // Out of quota: nothing succeeds before the budget interval has passed anyway.
    if (reason === 'quotaExceeded' || reason === 'dailyLimitExceeded') waitMs = Math.max(waitMs, minInterval * 10);
    log.warn({ status, reason, transport: this.transport, retryInMs: waitMs }, 'youtube chat read failed: backing off');
    return waitMs;
  }

  async stop(): Promise<void> {
    this.stopping = true;
    this.stopped.abort();
    await this.loop;
    this.stream?.close();
    this.setConnected(false);
  }
}
