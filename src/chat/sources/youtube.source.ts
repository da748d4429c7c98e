import type { Redis } from 'ioredis';
import type { Config } from '../../config/schema';
import type { Logger } from '../../logger';
import type { Metrics } from '../../metrics';
import type { Keyspace } from '../../redis';
import type { ChatEvent, Role } from '../../../queues/chat-event.schema';
import { reconnectDelay, type ChatSink, type ChatSource, type ChatSourceStatus } from '../chat-source';
import { sleep } from '../../time';

type YouTubeConfig = Config['chat']['youtube'];

/** Quota units one liveChatMessages.list call costs. */
export const POLL_COST_UNITS = 5;

/** The slowest poll interval a daily quota can afford, polling all day long. */
export function budgetIntervalMs(dailyQuotaUnits: number): number {
  return Math.ceil(86_400_000 / (dailyQuotaUnits / POLL_COST_UNITS));
}

interface LiveChatItem {
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

/**
 * YouTube live chat through the Data API v3: polls liveChatMessages.list no faster than the
 * server's pollingIntervalMillis nor than the daily quota affords, follows nextPageToken (kept
 * in Redis so a restart resumes without repeats; so is the time of the next poll, so a restarted or
 * crash-looping ingest cannot poll faster than the quota affords), and backs off on quota, rate-limit and
 * server errors. The API key is only ever in the query string, which is never logged.
 */
export class YouTubeSource implements ChatSource {
  readonly platform = 'youtube' as const;
  private sink?: ChatSink;
  private stopping = false;
  /** Aborted by stop(): ends the wait between polls at once. */
  private readonly stopped = new AbortController();
  private liveChatId: string;
  private attempt = 0;
  private reconnects = 0;
  private connected = false;
  private lastError?: string;
  private loop?: Promise<void>;

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
    const { config, log, redis } = this.opts;
    const minInterval = budgetIntervalMs(config.dailyQuotaUnits);
    let pageToken: string | undefined;
    while (!this.stopping) {
      let waitMs: number;
      try {
        if (!this.liveChatId) await this.resolveLiveChatId();
        // The pace outlives the process: a restart waits out the interval its predecessor was given.
        const notYet = await redis.pttl(this.nextPollKey());
        if (notYet > 0) {
          await sleep(notYet, this.stopped.signal);
          if (this.stopping) break;
        }
        pageToken ??= (await redis.get(this.tokenKey())) ?? undefined;
        const body = await this.get('/liveChat/messages', { liveChatId: this.liveChatId, part: 'snippet,authorDetails', maxResults: '2000', ...(pageToken ? { pageToken } : {}) });
        if (!this.connected) this.setConnected(true);
        this.attempt = 0;
        for (const item of (body.items as LiveChatItem[] | undefined) ?? []) {
          try {
            const e = youtubeEvent(item, this.liveChatId, this.opts.channel);
            if (e) this.sink?.(e);
          } catch (err) {
            log.warn({ err: (err as Error).message }, 'youtube item dropped: could not be read');
          }
        }
        if (typeof body.nextPageToken === 'string') {
          pageToken = body.nextPageToken;
          await redis.set(this.tokenKey(), pageToken, 'EX', 7 * 24 * 3600);
        }
        waitMs = Math.max(minInterval, Number(body.pollingIntervalMillis) || 0);
        await redis.set(this.nextPollKey(), '1', 'PX', waitMs);
      } catch (err) {
        this.lastError = (err as Error).message;
        const status = err instanceof ApiError ? err.status : 0;
        const reason = err instanceof ApiError ? err.reason : '';
        if (reason === 'liveChatEnded' || reason === 'liveChatNotFound' || reason === 'liveChatDisabled' || reason === 'noActiveLiveChat' || reason === 'forbidden') {
          // The chat is over or not ours: stop reading it; with a video id, look for a new one slowly.
          this.setConnected(false);
          log.warn({ reason, liveChatId: this.liveChatId }, 'youtube live chat unavailable');
          if (!config.videoId) return;
          if (reason !== 'noActiveLiveChat') await redis.del(this.tokenKey());
          this.liveChatId = '';
          pageToken = undefined;
          waitMs = Math.max(minInterval, config.backoffCapMs);
        } else {
          if (this.connected) this.reconnects++;
          this.opts.metrics?.sourceReconnects.inc({ platform: 'youtube' });
          this.setConnected(false);
          waitMs = reconnectDelay(this.attempt++, config.backoffBaseMs, config.backoffCapMs);
          // Out of quota: nothing succeeds before the budget interval has passed anyway.
          if (reason === 'quotaExceeded' || reason === 'dailyLimitExceeded') waitMs = Math.max(waitMs, minInterval * 10);
          log.warn({ status, reason, retryInMs: waitMs }, 'youtube poll failed: backing off');
        }
      }
      if (!this.stopping) await sleep(waitMs, this.stopped.signal);
    }
  }

  async stop(): Promise<void> {
    this.stopping = true;
    this.stopped.abort();
    await this.loop;
    this.setConnected(false);
  }
}
