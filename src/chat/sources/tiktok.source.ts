import type { Config } from '../../config/schema';
import type { Logger } from '../../logger';
import type { Metrics } from '../../metrics';
import type { ChatEvent, Role } from '../../../queues/chat-event.schema';
import { reconnectDelay, type ChatSink, type ChatSource, type ChatSourceStatus } from '../chat-source';

type TikTokConfig = Config['chat']['tiktok'];

/** The part of tiktok-live-connector's TikTokLiveConnection this source uses (injected in tests). */
export interface TikTokConnectorLike {
  connect(): Promise<unknown>;
  disconnect(): Promise<unknown>;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- each event has its own payload; every handler names the one it reads
  on(event: string, listener: (...args: any[]) => void): unknown;
  removeAllListeners(): unknown;
}
export type TikTokConnectorFactory = (uniqueId: string, options: { signApiKey?: string }) => TikTokConnectorLike;

/** TikTok's user as the connector decodes it (the fields idolcast reads). */
interface TikTokUser {
  userId?: string;
  uniqueId?: string;
  nickname?: string;
  userAttr?: { isAdmin?: boolean; isSuperAdmin?: boolean };
}
interface Identity {
  isModeratorOfAnchor?: boolean;
  isSubscriberOfAnchor?: boolean;
  isAnchor?: boolean;
}
interface Common {
  msgId?: string;
  createTime?: string;
}

/** The signing service allows a few connections a minute: a 429 waits at least this long. */
export const SIGNER_RATE_LIMIT_BACKOFF_MS = 60_000;

function roles(identity?: Identity, user?: TikTokUser): Role[] {
  const out: Role[] = [];
  if (identity?.isAnchor) out.push('broadcaster');
  if (identity?.isModeratorOfAnchor || user?.userAttr?.isAdmin || user?.userAttr?.isSuperAdmin) out.push('moderator');
  if (identity?.isSubscriberOfAnchor) out.push('subscriber');
  return out;
}

const defaultFactory: TikTokConnectorFactory = (uniqueId, options) => {
  // Loaded only when TikTok is enabled: the connector brings its own HTTP and protobuf stack.
  // eslint-disable-next-line @typescript-eslint/no-require-imports -- a lazy load, which a static import cannot be
  const { TikTokLiveConnection } = require('tiktok-live-connector') as { TikTokLiveConnection: new (id: string, o: object) => TikTokConnectorLike };
  return new TikTokLiveConnection(uniqueId, { signApiKey: options.signApiKey || undefined, processInitialData: false, enableExtendedGiftInfo: true });
};

/**
 * TikTok LIVE through tiktok-live-connector: chat, gifts (a streak counts once, when it ends)
 * and follows become ChatEvents. Likes arrive by the hundred per second on a busy
 * stream: they are counted (status, metrics), not turned into events. When the room ends or the
 * socket drops it reconnects slowly (the signing service allows a few connections a minute),
 * and a rate-limited signer backs off at least a minute instead of hammering.
 */
export class TikTokSource implements ChatSource {
  readonly platform = 'tiktok' as const;
  private sink?: ChatSink;
  private conn?: TikTokConnectorLike;
  private stopping = false;
  private connected = false;
  private attempt = 0;
  private reconnects = 0;
  private likes = 0;
  private lastError?: string;
  private timer?: NodeJS.Timeout;

  constructor(private readonly opts: { config: TikTokConfig; channel: string; log: Logger; metrics?: Metrics; factory?: TikTokConnectorFactory }) {}

  status(): ChatSourceStatus & { likes: number } {
    return { platform: 'tiktok', rooms: [this.opts.config.uniqueId], connected: this.connected, reconnects: this.reconnects, lastError: this.lastError, likes: this.likes };
  }

  async start(sink: ChatSink): Promise<void> {
    this.sink = sink;
    this.reconnect();
  }

  private setConnected(connected: boolean): void {
    this.connected = connected;
    this.opts.metrics?.sourceConnected.set({ platform: 'tiktok', room: this.opts.config.uniqueId }, connected ? 1 : 0);
  }

  /** Connect without ever rejecting: a connector that cannot even be built is logged, not a crash of the ingest. */
  private reconnect(): void {
    this.connect().catch((err: Error) => {
      this.lastError = err.message;
      this.opts.log.error({ err: err.message }, 'tiktok connector could not be created: tiktok chat stays off');
    });
  }

  private async connect(): Promise<void> {
    if (this.stopping) return;
    const { config, log } = this.opts;
    const conn = (this.opts.factory ?? defaultFactory)(config.uniqueId, { signApiKey: config.signApiKey });
    this.conn = conn;
    this.wire(conn);
    try {
      await conn.connect();
      this.attempt = 0;
      this.setConnected(true);
      log.info({ uniqueId: config.uniqueId }, 'tiktok connected');
    } catch (err) {
      this.dropped(conn, (err as Error)?.message ?? String(err));
    }
  }

  /** The connection is gone (failed, dropped, room ended): schedule the next attempt once. */
  private dropped(conn: TikTokConnectorLike, why: string): void {
    if (conn !== this.conn || this.stopping) return;
    this.conn = undefined;
    conn.removeAllListeners();
    void conn.disconnect().catch(() => {});
    if (this.connected) this.reconnects++;
    this.setConnected(false);
    this.lastError = why;
    this.opts.metrics?.sourceReconnects.inc({ platform: 'tiktok' });
    let delay = reconnectDelay(this.attempt++, this.opts.config.reconnectBaseMs, this.opts.config.reconnectCapMs);
    if (/\b429\b|rate.?limit|too many requests/i.test(why)) delay = Math.max(delay, SIGNER_RATE_LIMIT_BACKOFF_MS);
    this.opts.log.warn({ why: why.slice(0, 200), reconnectInMs: delay }, 'tiktok disconnected: reconnecting');
    clearTimeout(this.timer);
    this.timer = setTimeout(() => this.reconnect(), delay);
  }

  private wire(conn: TikTokConnectorLike): void {
    const on = (event: string, fn: (data: Record<string, unknown>) => ChatEvent | undefined) =>
      conn.on(event, (data: Record<string, unknown>) => {
        try {
          const e = fn(data ?? {});
          if (e) this.sink?.(e);
        } catch (err) {
          this.opts.log.warn({ event, err: (err as Error).message }, 'tiktok event dropped: could not be read');
        }
      });
    on('chat', (d) => this.event(d, 'message', String(d.comment ?? '')));
    on('gift', (d) => {
      const details = (d.giftDetails ?? {}) as { diamondCount?: number; giftName?: string; giftType?: number; type?: number };
      const streakable = (details.giftType ?? details.type) === 1;
      // A streak sends an update per tap; only its end carries the final count.
      if (streakable && !d.repeatEnd) return undefined;
      const count = Number(d.repeatCount ?? 1) || 1;
      return this.event(d, 'gift', `sent ${count} ${details.giftName ?? 'gift'}`, { amount: (details.diamondCount ?? 0) * count, currency: 'diamonds' });
    });
    on('follow', (d) => this.event(d, 'follow', 'followed'));
    on('like', (d) => {
      this.likes += Number(d.likeCount ?? 0) || 0;
      return undefined;
    });
    conn.on('streamEnd', () => this.dropped(conn, 'the LIVE ended'));
    conn.on('disconnected', (info?: { reason?: string }) => this.dropped(conn, info?.reason ?? 'socket closed'));
    conn.on('error', (err: unknown) => {
      this.lastError = String((err as Error)?.message ?? err);
      this.opts.log.warn({ err: this.lastError.slice(0, 200) }, 'tiktok error');
    });
  }

  private event(d: Record<string, unknown>, kind: ChatEvent['kind'], text: string, paid?: ChatEvent['paid']): ChatEvent | undefined {
    const user = (d.user ?? {}) as TikTokUser;
    const common = (d.common ?? {}) as Common;
    const login = user.uniqueId || user.userId;
    if (!login || !common.msgId) {
      this.opts.log.warn({ kind }, 'tiktok event without user or id: dropped');
      return undefined;
    }
    const created = Number(common.createTime);
    return {
      platform: 'tiktok', channel: this.opts.channel, room: this.opts.config.uniqueId, id: String(common.msgId), kind, text, emotes: [], paid,
      timestamp: Number.isFinite(created) && created > 0 ? created : Date.now(), acceptedAt: Date.now(),
      user: { id: String(user.userId ?? login), login: String(login).slice(0, 64), displayName: String(user.nickname || login).slice(0, 64), roles: roles(d.userIdentity as Identity | undefined, user) },
    };
  }

  async stop(): Promise<void> {
    this.stopping = true;
    clearTimeout(this.timer);
    const conn = this.conn;
    this.conn = undefined;
    conn?.removeAllListeners();
    await conn?.disconnect().catch(() => {});
    this.setConnected(false);
  }
}
