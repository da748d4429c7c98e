import { Writable } from 'node:stream';
import type { ChatEvent } from '../../queues/chat-event.schema';
import { TwitchSource } from '../../src/chat/sources/twitch.source';
import { parseConfig } from '../../src/config/load';
import { createLogger } from '../../src/logger';
import { createMetrics } from '../../src/metrics';
import { eventually } from '../helpers/fleet';
import { FakeTwitch } from '../../testkit/fake-twitch';
import { sleep } from '../../src/time';

function source(server: string, extra: Record<string, unknown> = {}) {
  const config = parseConfig(JSON.stringify({ chat: { twitch: { enabled: true, server, channels: ['idolchan'], reconnectBaseMs: 50, reconnectCapMs: 400, ...extra } } }), 'x.yaml');
  const metrics = createMetrics('ingest', 'test');
  const logs: Record<string, unknown>[] = [];
  const log = createLogger('twitch-test', 'info', new Writable({ write: (c, _e, cb) => (logs.push(JSON.parse(String(c)) as Record<string, unknown>), cb()) }));
  return { src: new TwitchSource({ config: config.chat.twitch, channel: 'main', log, metrics }), metrics, logs };
}

describe('Twitch chat source (tmi.js against a loopback Twitch IRC server)', () => {
  let fake: FakeTwitch;
  let src: TwitchSource | undefined;
  const events: ChatEvent[] = [];
  beforeEach(async () => {
    fake = new FakeTwitch();
    await fake.ready;
    events.length = 0;
  });
  afterEach(async () => {
    await src?.stop();
    src = undefined;
    await fake.close();
  });

  it('maps tags to roles, bits, emotes, subs, gifts and raids', async () => {
    ({ src } = source(fake.url));
    await src.start((e) => events.push(e));
    await fake.joined('idolchan');
    fake.broadcast('idolchan', fake.privmsg('idolchan', { login: 'streamer', id: '1', badges: 'broadcaster/1' }, 'hello chat', { id: 'a1' }));
    fake.broadcast('idolchan', fake.privmsg('idolchan', { login: 'modguy', id: '2', badges: 'moderator/1,subscriber/12', mod: true, subscriber: true }, 'Kappa hi', { id: 'a2', emotes: '25:0-4' }));
    fake.broadcast('idolchan', fake.privmsg('idolchan', { login: 'vipfan', id: '3', badges: 'vip/1' }, 'cheer100 great stream', { id: 'a3', bits: 100 }));
    fake.broadcast('idolchan', fake.usernotice('idolchan', 'sub', { login: 'newsub', id: '4' }, { 'msg-param-sub-plan': '1000', 'msg-param-cumulative-months': 1, id: 'a4' }, 'happy to be here'));
    fake.broadcast('idolchan', fake.usernotice('idolchan', 'subgift', { login: 'gifter', id: '5' }, { 'msg-param-recipient-display-name': 'Lucky', 'msg-param-recipient-user-name': 'lucky', 'msg-param-sub-plan': '1000', 'msg-param-months': 1, id: 'a5' }));
    fake.broadcast('idolchan', fake.usernotice('idolchan', 'raid', { login: 'raider', id: '6' }, { 'msg-param-displayName': 'Raider', 'msg-param-login': 'raider', 'msg-param-viewerCount': 42, id: 'a6' }));
    await eventually(async () => (events.length >= 6 ? true : undefined), 'six events');
    const by = (id: string) => events.find((e) => e.id === id)!;
    expect(by('a1')).toMatchObject({ platform: 'twitch', channel: 'main', room: 'idolchan', kind: 'message', text: 'hello chat', user: { login: 'streamer', roles: ['broadcaster'] } });
    expect(by('a2').user.roles.sort()).toEqual(['moderator', 'subscriber']);
    expect(by('a2').emotes).toEqual([{ id: '25', start: 0, end: 4 }]);
    expect(by('a3')).toMatchObject({ kind: 'message', paid: { amount: 100, currency: 'bits' }, user: { roles: ['vip'] } });
    expect(by('a4')).toMatchObject({ kind: 'subscription', text: 'happy to be here', user: { login: 'newsub' } });
    expect(by('a5')).toMatchObject({ kind: 'gift', text: 'gifted a sub to Lucky' });
    expect(by('a6')).toMatchObject({ kind: 'raid', paid: { amount: 42, currency: 'viewers' }, user: { login: 'raider' } });
  });

  it('answers PING, follows RECONNECT and survives a dropped socket: every message sent while connected arrives exactly once', async () => {
    let metrics;
    ({ src, metrics } = source(fake.url));
    await src.start((e) => events.push(e));
    const sent: string[] = [];
    const say = async (n: number) => {
      const client = await fake.joined('idolchan');
      for (let i = 0; i < n; i++) {
        const id = `m${sent.length}`;
        fake.broadcast('idolchan', fake.privmsg('idolchan', { login: `u${i}`, id: `${i}` }, `message ${id}`, { id }));
        sent.push(id);
      }
      return client;
    };
    const first = await say(20);
    fake.broadcast('idolchan', 'PING :tmi.twitch.tv'); // as Twitch sends it: no prefix
    await eventually(async () => (first.sent.some((l) => l.startsWith('PONG')) ? true : undefined), 'a PONG');

    fake.broadcast('idolchan', ':tmi.twitch.tv RECONNECT');
    await eventually(async () => (fake.current('idolchan') && fake.current('idolchan') !== first ? true : undefined), 'a new connection after RECONNECT', 10000);
    const second = await say(20);

    second.socket.terminate();
    await eventually(async () => (fake.current('idolchan') && fake.current('idolchan') !== second ? true : undefined), 'a new connection after the drop', 10000);
    await say(20);

    await eventually(async () => (events.length >= sent.length ? true : undefined), 'every message');
    await sleep(200); // nothing more may arrive
    expect(events.map((e) => e.id).sort()).toEqual([...sent].sort());
    expect(src.status()).toMatchObject({ connected: true, reconnects: 2 });
    expect((await metrics.sourceReconnects.get()).values[0]!.value).toBe(2);
  });

  it('handles each failed connect once: one reconnect scheduled and counted per failure, and per RECONNECT', async () => {
    fake.failConnects('refuse', 'close');
    let metrics, logs: Record<string, unknown>[];
    ({ src, metrics, logs } = source(fake.url));
    await src.start((e) => events.push(e));
    const first = await fake.joined('idolchan');
    expect(fake.failedConnects).toBe(2);
    fake.broadcast('idolchan', ':tmi.twitch.tv RECONNECT');
    await eventually(async () => (fake.current('idolchan') && fake.current('idolchan') !== first ? true : undefined), 'a new connection after RECONNECT', 10000);
    await eventually(async () => (src!.status().connected ? true : undefined), 'connected again');

    const retries = logs.filter((l) => l.msg === 'twitch disconnected: reconnecting');
    expect(retries).toHaveLength(2);
    expect(retries.map((l) => l.wasConnected)).toEqual([false, false]);
    expect(logs.filter((l) => l.msg === 'twitch asked us to reconnect')).toHaveLength(1);
    expect(src.status()).toMatchObject({ connected: true, reconnects: 3 });
    expect((await metrics.sourceReconnects.get()).values[0]!.value).toBe(3);
  });

  it('reads anonymously without a token and cannot reply; with a token it logs in and replies', async () => {
    ({ src } = source(fake.url));
    await src.start((e) => events.push(e));
    const anon = await fake.joined('idolchan');
    expect(anon.nick).toMatch(/^justinfan\d+$/);
    await expect(src.reply('idolchan', 'hi')).rejects.toThrow(/need chat\.twitch\.username and an OAuth token/);
    await src.stop();

    ({ src } = source(fake.url, { username: 'idolbot', oauthToken: 'good-token' }));
    await src.start((e) => events.push(e));
    await eventually(async () => (fake.clients.some((c) => c.nick === 'idolbot' && c.joined.has('idolchan')) ? true : undefined), 'the bot to join');
    const bot = fake.clients.find((c) => c.nick === 'idolbot')!;
    expect(bot.pass).toBe('oauth:good-token');
    await eventually(async () => (src!.status().connected ? true : undefined), 'connected');
    await src.reply('idolchan', 'thanks for watching!');
    await eventually(async () => (bot.sent.includes('PRIVMSG #idolchan :thanks for watching!') ? true : undefined), 'the reply at the server');
  });
});
