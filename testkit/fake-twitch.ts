import { WebSocketServer, type WebSocket } from 'ws';

/** One client connection to the fake server, with every line it sent. */
export interface FakeTwitchClient {
  socket: WebSocket;
  nick?: string;
  pass?: string;
  joined: Set<string>;
  sent: string[];
}

/** How the fake fails a connection attempt. */
export type ConnectFailure = 'refuse' | 'close';

const tagValue = (v: string) => v.replace(/\\/g, '\\\\').replace(/;/g, '\\:').replace(/ /g, '\\s').replace(/\r/g, '\\r').replace(/\n/g, '\\n');

/** IRCv3 tags as Twitch writes them. */
export function tagString(tags: Record<string, string | number>): string {
  return '@' + Object.entries(tags).map(([k, v]) => `${k}=${tagValue(String(v))}`).join(';');
}

/**
 * A loopback Twitch chat server speaking IRC over WebSocket as irc-ws.chat.twitch.tv does:
 * CAP negotiation, PASS/NICK with the welcome numerics, JOIN with ROOMSTATE, tagged PRIVMSG and
 * USERNOTICE, PING/PONG, RECONNECT, and abrupt drops.
 */
export class FakeTwitch {
  readonly clients: FakeTwitchClient[] = [];
  private readonly wss: WebSocketServer;
  private readonly joinWaiters: (() => void)[] = [];
  readonly ready: Promise<void>;
  /** How the next connects fail, first first (see `failConnects`). */
  private readonly failing: ConnectFailure[] = [];
  /** Connection attempts the server failed on purpose. */
  failedConnects = 0;

  constructor() {
    this.wss = new WebSocketServer({
      host: '127.0.0.1',
      port: 0,
      // A refused handshake, as a load balancer answers while Twitch's edge is down.
      verifyClient: (_info, done) => {
        if (this.failing[0] !== 'refuse') return done(true);
        this.failing.shift();
        this.failedConnects++;
        done(false, 503, 'Service Unavailable');
      },
    });
    this.ready = new Promise((resolve) => this.wss.once('listening', () => resolve()));
    this.wss.on('connection', (socket) => {
      if (this.failing[0] === 'close') {
        // Accepted, then closed before the welcome: the connection dies during login.
        this.failing.shift();
        this.failedConnects++;
        socket.terminate();
        return;
      }
      const client: FakeTwitchClient = { socket, joined: new Set(), sent: [] };
      this.clients.push(client);
      socket.on('message', (data) => {
        for (const line of data.toString().split('\r\n').filter(Boolean)) this.handle(client, line);
      });
    });
  }

  /**
   * Fail the next connects, one per entry: `refuse` answers the WebSocket handshake with 503
   * (the client sees an error and a close), `close` accepts it and drops the socket before login.
   */
  failConnects(...how: ConnectFailure[]): void {
    this.failing.push(...how);
  }

  get url(): string {
    const addr = this.wss.address();
    return `ws://127.0.0.1:${typeof addr === 'object' && addr ? addr.port : 0}`;
  }

  private send(client: FakeTwitchClient, line: string): void {
    if (client.socket.readyState === client.socket.OPEN) client.socket.send(`${line}\r\n`);
  }

  private handle(client: FakeTwitchClient, line: string): void {
    client.sent.push(line);
    const [command = '', ...rest] = line.split(' ');
    const arg = rest.join(' ');
    switch (command) {
      case 'CAP':
        this.send(client, `:tmi.twitch.tv CAP * ACK :${arg.replace(/^REQ :/, '')}`);
        break;
      case 'PASS':
        client.pass = arg;
        break;
      case 'NICK': {
        client.nick = arg;
        if (client.pass?.startsWith('oauth:') && client.pass !== 'oauth:good-token') {
          this.send(client, ':tmi.twitch.tv NOTICE * :Login authentication failed');
          break;
        }
        for (const [code, text] of [['001', 'Welcome, GLHF!'], ['002', 'Your host is tmi.twitch.tv'], ['003', 'This server is rather new'], ['004', '-'], ['375', '-'], ['372', 'You are in a maze of twisty passages, all alike.'], ['376', '>']] as const) {
          this.send(client, `:tmi.twitch.tv ${code} ${arg} :${text}`);
        }
        if (client.pass?.startsWith('oauth:')) this.send(client, `${tagString({ 'badge-info': '', badges: '', color: '#FF69B4', 'display-name': arg, 'emote-sets': '0', 'user-id': '999', 'user-type': '' })} :tmi.twitch.tv GLOBALUSERSTATE`);
        break;
      }
      case 'JOIN':
        for (const ch of arg.split(',')) {
          client.joined.add(ch.replace(/^#/, ''));
          this.send(client, `:${client.nick}!${client.nick}@${client.nick}.tmi.twitch.tv JOIN ${ch}`);
          this.send(client, `${tagString({ 'emote-only': 0, 'followers-only': -1, r9k: 0, 'room-id': 1234, slow: 0, 'subs-only': 0 })} :tmi.twitch.tv ROOMSTATE ${ch}`);
          this.send(client, `${tagString({ 'badge-info': '', badges: '', color: '', 'display-name': client.nick ?? '', 'emote-sets': '0', mod: 0, subscriber: 0, 'user-type': '' })} :tmi.twitch.tv USERSTATE ${ch}`);
        }
        for (const w of this.joinWaiters.splice(0)) w();
        break;
      case 'PING':
        // As Twitch answers a client's PING: no prefix (tmi.js ignores a prefixed PONG, times out
        // after 10 s and reconnects, losing what was sent meanwhile).
        this.send(client, `PONG :${arg.replace(/^:/, '') || 'tmi.twitch.tv'}`);
        break;
      default:
        break;
    }
  }

  /** The newest client that has joined `channel`. */
  current(channel: string): FakeTwitchClient | undefined {
    return [...this.clients].reverse().find((c) => c.joined.has(channel) && c.socket.readyState === c.socket.OPEN);
  }

  /** Resolves when some open client has joined `channel` (bounded). */
  async joined(channel: string, timeoutMs = 10000): Promise<FakeTwitchClient> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const c = this.current(channel);
      if (c) return c;
      if (Date.now() > deadline) throw new Error(`no client joined #${channel} within ${timeoutMs} ms`);
      await new Promise<void>((r) => {
        this.joinWaiters.push(r);
        setTimeout(r, 100);
      });
    }
  }

  /** Send a raw line to every client that joined `channel`; returns how many received it. */
  broadcast(channel: string, line: string): number {
    let n = 0;
    for (const c of this.clients) {
      if (c.joined.has(channel) && c.socket.readyState === c.socket.OPEN) {
        this.send(c, line);
        n++;
      }
    }
    return n;
  }

  /** A chat message with Twitch's tags. */
  privmsg(channel: string, user: { login: string; id: string; badges?: string; mod?: boolean; subscriber?: boolean }, text: string, extra: Record<string, string | number> = {}): string {
    const tags = {
      'badge-info': '', badges: user.badges ?? '', color: '#1E90FF', 'display-name': user.login.toUpperCase(), emotes: '', 'first-msg': 0, flags: '',
      id: extra.id ?? `msg-${Math.random().toString(36).slice(2)}`, mod: user.mod ? 1 : 0, 'returning-chatter': 0, 'room-id': 1234, subscriber: user.subscriber ? 1 : 0,
      'tmi-sent-ts': Date.now(), turbo: 0, 'user-id': user.id, 'user-type': user.mod ? 'mod' : '', ...extra,
    };
    return `${tagString(tags)} :${user.login}!${user.login}@${user.login}.tmi.twitch.tv PRIVMSG #${channel} :${text}`;
  }

  /** A USERNOTICE (sub, resub, subgift, raid) with Twitch's tags. */
  usernotice(channel: string, msgId: string, user: { login: string; id: string }, tags: Record<string, string | number>, text?: string): string {
    const all = {
      'badge-info': '', badges: '', color: '', 'display-name': user.login, emotes: '', flags: '', id: `un-${Math.random().toString(36).slice(2)}`, login: user.login, mod: 0,
      'msg-id': msgId, 'room-id': 1234, subscriber: 0, 'system-msg': `${user.login} did ${msgId}`, 'tmi-sent-ts': Date.now(), 'user-id': user.id, 'user-type': '', ...tags,
    };
    return `${tagString(all)} :tmi.twitch.tv USERNOTICE #${channel}${text ? ` :${text}` : ''}`;
  }

  /** Close every open connection without a goodbye, as a network failure would. */
  dropAll(): void {
    for (const c of this.clients) if (c.socket.readyState === c.socket.OPEN) c.socket.terminate();
  }

  async close(): Promise<void> {
    this.dropAll();
    await new Promise<void>((r) => this.wss.close(() => r()));
  }
}
