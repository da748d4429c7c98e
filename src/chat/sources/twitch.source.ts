import tmi from 'tmi.js';
import type { Config } from '../../config/schema';
import type { Logger } from '../../logger';
import type { Metrics } from '../../metrics';
import type { ChatEvent, Role } from '../../../queues/chat-event.schema';
import { reconnectDelay, type ChatSink, type ChatSource, type ChatSourceStatus } from '../chat-source';

type TwitchConfig = Config['chat']['twitch'];
/** IRCv3 tags as tmi.js parses them (badges and emotes as objects). */
type Tags = Record<string, unknown>;

/** Roles from Twitch's IRCv3 tags and badges. */
export function twitchRoles(tags: Tags): Role[] {
  const badges = (tags.badges ?? {}) as Record<string, string | undefined>;
  const roles = new Set<Role>();
  if (badges.broadcaster) roles.add('broadcaster');
  if (tags.mod || badges.moderator) roles.add('moderator');
  if (badges.vip || tags.vip) roles.add('vip');
  if (tags.subscriber || badges.subscriber || badges.founder) roles.add('subscriber');
  return [...roles];
}

/** Emote positions from tmi.js's parsed `emotes` tag ({ id: ['0-4', …] }). */
export function twitchEmotes(emotes: unknown): ChatEvent['emotes'] {
  if (!emotes || typeof emotes !== 'object') return [];
  return Object.entries(emotes as Record<string, string[]>).flatMap(([id, ranges]) =>
    (ranges ?? []).map((r) => {
      const [start = 0, end = 0] = r.split('-').map(Number);
      return { id, start, end };
    }),
  );
}

/** Split `wss://host:port` (or ws://) into tmi.js's connection settings. */
export function twitchServer(url: string): { server: string; port: number; secure: boolean } {
  const u = new URL(url);
  const secure = u.protocol === 'wss:';
  return { server: u.hostname, port: Number(u.port || (secure ? 443 : 80)), secure };
}

/**
 * Twitch chat over IRC-over-WebSocket with tmi.js. Reads anonymously (justinfan) without a
 * token; with username and OAuth token it can also reply. tmi.js's own reconnect is off: ours
 * backs off exponentially with jitter and a cap, while a server `RECONNECT` is honoured at once
 * (tmi.js reconnects for it). PING is answered by tmi.js.
 */
export class TwitchSource implements ChatSource {
  readonly platform = 'twitch' as const;
  private client?: tmi.Client;
  private sink?: ChatSink;
  private stopping = false;
  private attempt = 0;
  private reconnects = 0;
  private connected = false;
  private serverAskedReconnect = false;
  /**
   * Whether the current connection attempt may still schedule a reconnect. tmi.js reports one
   * failed connect twice (its socket's `error` and then its `close` each emit `disconnected`):
   * the first report of an attempt is handled, later ones are echoes of the same failure.
   */
  private awaitingOutcome = false;
  private lastError?: string;
  private timer?: NodeJS.Timeout;
  private readonly rooms: string[];

  constructor(
    private readonly opts: { config: TwitchConfig; channel: string; log: Logger; metrics?: Metrics },
  ) {
    this.rooms = opts.config.channels.map((c) => c.replace(/^#/, '').toLowerCase());
  }

  get authenticated(): boolean {
    return Boolean(this.opts.config.username && this.opts.config.oauthToken);
  }

  status(): ChatSourceStatus {
    return { platform: 'twitch', rooms: this.rooms, connected: this.connected, reconnects: this.reconnects, lastError: this.lastError };
  }

  async start(sink: ChatSink): Promise<void> {
    this.sink = sink;
    const { config } = this.opts;
    const client = new tmi.Client({
      options: { skipUpdatingEmotesets: true, skipMembership: true },
      connection: { ...twitchServer(config.server), reconnect: false, reconnectInterval: 500, maxReconnectInterval: 2000, timeout: 10000 },
      identity: this.authenticated ? { username: config.username, password: config.oauthToken.startsWith('oauth:') ? config.oauthToken : `oauth:${config.oauthToken}` } : undefined,
      channels: [...this.rooms],
      logger: { info: () => {}, warn: (m: string) => this.opts.log.debug({ tmi: m }, 'tmi'), error: (m: string) => this.opts.log.debug({ tmi: m }, 'tmi') },
    });
    this.client = client;
    this.wire(client);
    this.connect();
  }

  private connect(): void {
    this.awaitingOutcome = true;
    this.client?.connect().catch((err: unknown) => {
      this.lastError = String(err);
    });
  }

  private setConnected(connected: boolean): void {
    this.connected = connected;
    for (const room of this.rooms) this.opts.metrics?.sourceConnected.set({ platform: 'twitch', room }, connected ? 1 : 0);
  }

  private wire(client: tmi.Client): void {
    const { log } = this.opts;
    client.on('connected', () => {
      this.attempt = 0;
      this.setConnected(true);
      log.info({ rooms: this.rooms, anonymous: !this.authenticated }, 'twitch connected');
    });
    client.on('raw_message', (_clone: unknown, message: { command?: string }) => {
      if (message.command === 'RECONNECT') this.serverAskedReconnect = true;
    });
    client.on('notice', (_channel: string, msgid: string, message: string) => log.warn({ msgid, message }, 'twitch notice'));
    client.on('disconnected', (reason: string) => {
      const wasConnected = this.connected;
      this.setConnected(false);
      this.lastError = reason;
      if (this.stopping || !this.awaitingOutcome) return;
      this.awaitingOutcome = false;
      this.reconnects++;
      this.opts.metrics?.sourceReconnects.inc({ platform: 'twitch' });
      if (this.serverAskedReconnect) {
        // tmi.js reconnects by itself for a server RECONNECT, within a second or two.
        this.serverAskedReconnect = false;
        this.awaitingOutcome = true; // tmi.js's own connect is the next attempt
        log.info({ reason }, 'twitch asked us to reconnect');
        return;
      }
      const delay = reconnectDelay(this.attempt++, this.opts.config.reconnectBaseMs, this.opts.config.reconnectCapMs);
      log.warn({ reason, wasConnected, reconnectInMs: delay }, 'twitch disconnected: reconnecting');
      clearTimeout(this.timer);
      this.timer = setTimeout(() => !this.stopping && this.connect(), delay);
    });

    const guard = <A extends unknown[]>(what: string, fn: (...args: A) => ChatEvent | undefined) => (...args: A) => {
      try {
        const event = fn(...args);
        if (event) this.sink?.(event);
      } catch (err) {
        log.warn({ what, err: (err as Error).message }, 'twitch event dropped: could not be read');
      }
    };
    client.on('message', guard('message', (channel: string, tags: Tags, text: string, self: boolean) => (self ? undefined : this.event(channel, tags, 'message', text))));
    client.on('cheer', guard('cheer', (channel: string, tags: Tags, text: string) => this.event(channel, tags, 'message', text, { amount: Number(tags.bits ?? 0), currency: 'bits' })));
    client.on('subscription', guard('subscription', (channel: string, _u: string, _m: unknown, text: string, tags: Tags) => this.event(channel, tags, 'subscription', text ?? '')));
    client.on('resub', guard('resub', (channel: string, _u: string, _months: number, text: string, tags: Tags) => this.event(channel, tags, 'subscription', text ?? '')));
    client.on('subgift', guard('subgift', (channel: string, _u: string, _s: number, recipient: string, _m: unknown, tags: Tags) => this.event(channel, tags, 'gift', `gifted a sub to ${recipient}`, { amount: 1, currency: 'subs' })));
    client.on('submysterygift', guard('submysterygift', (channel: string, _u: string, count: number, _m: unknown, tags: Tags) => this.event(channel, tags, 'gift', `gifted ${count} subs`, { amount: Number(count), currency: 'subs' })));
    client.on('raided', guard('raided', (channel: string, username: string, viewers: number, tags?: Tags) =>
      this.event(channel, tags ?? ({ username, 'display-name': username, id: `raid-${username}-${Date.now()}` }), 'raid', `raided with ${viewers} viewers`, { amount: Number(viewers), currency: 'viewers' }),
    ));
  }

  private event(channel: string, tags: Tags, kind: ChatEvent['kind'], text: string, paid?: ChatEvent['paid']): ChatEvent | undefined {
    const id = tags.id as string | undefined;
    const login = String(tags.login ?? tags.username ?? '').toLowerCase();
    if (!id || !login) {
      this.opts.log.warn({ kind, hasId: Boolean(id) }, 'twitch event without id or user: dropped');
      return undefined;
    }
    const sent = Number(tags['tmi-sent-ts']);
    return {
      platform: 'twitch',
      channel: this.opts.channel,
      room: channel.replace(/^#/, '').toLowerCase(),
      id: String(id),
      kind,
      text: text ?? '',
      emotes: twitchEmotes(tags.emotes),
      paid,
      timestamp: Number.isFinite(sent) && sent > 0 ? sent : Date.now(),
      acceptedAt: Date.now(),
      user: { id: String(tags['user-id'] ?? login), login: login.slice(0, 64), displayName: String(tags['display-name'] || login).slice(0, 64), roles: twitchRoles(tags) },
    };
  }

  async reply(room: string, text: string): Promise<void> {
    if (!this.authenticated) throw new Error('twitch replies need chat.twitch.username and an OAuth token (TWITCH_OAUTH_TOKEN); reading anonymously');
    if (!this.client || !this.connected) throw new Error('twitch is not connected');
    await this.client.say(room, text.slice(0, 480));
  }

  async stop(): Promise<void> {
    this.stopping = true;
    clearTimeout(this.timer);
    if (this.client && this.connected) await this.client.disconnect().catch(() => {});
    this.client?.removeAllListeners();
    this.setConnected(false);
  }
}
