import { EventEmitter } from 'node:events';
import type { ChatEvent } from '../../queues/chat-event.schema';
import { SIGNER_RATE_LIMIT_BACKOFF_MS, TikTokSource, type TikTokConnectorLike } from '../../src/chat/sources/tiktok.source';
import { parseConfig } from '../../src/config/load';
import { createLogger } from '../../src/logger';

/** Stands in for TikTokLiveConnection: the same event names and payload shapes, driven by the test. */
class FakeConnection extends EventEmitter implements TikTokConnectorLike {
  connectResult: () => Promise<unknown> = async () => ({ isConnected: true, roomId: '123' });
  disconnected = false;
  connect() {
    return this.connectResult();
  }
  async disconnect() {
    this.disconnected = true;
  }
}

const user = (uniqueId: string, extra = {}) => ({ userId: `id-${uniqueId}`, uniqueId, nickname: uniqueId.toUpperCase(), ...extra });
const common = (msgId: string) => ({ method: 'WebcastChatMessage', msgId, roomId: '123', createTime: '1700000000000' });

describe('TikTok source (through the connector event interface)', () => {
  const config = parseConfig('chat: { tiktok: { enabled: true, uniqueId: idolstreamer, reconnectBaseMs: 15000, reconnectCapMs: 300000 } }', 'x.yaml').chat.tiktok;
  let conns: FakeConnection[];
  let events: ChatEvent[];
  let src: TikTokSource;
  beforeEach(() => {
    jest.useFakeTimers();
    conns = [];
    events = [];
    src = new TikTokSource({ config, channel: 'main', log: createLogger('tt', 'silent'), factory: () => { const c = new FakeConnection(); conns.push(c); return c; } });
  });
  afterEach(async () => {
    await src.stop();
    jest.useRealTimers();
    jest.restoreAllMocks();
  });

  it('maps chat, follows and gifts; a gift streak counts once, at its end; likes are counted, not spoken', async () => {
    await src.start((e) => events.push(e));
    await jest.advanceTimersByTimeAsync(0);
    const c = conns[0]!;
    c.emit('chat', { common: common('c1'), user: user('fan1', { userAttr: { isAdmin: true } }), comment: 'hello from tiktok', userIdentity: { isModeratorOfAnchor: true, isSubscriberOfAnchor: true } });
    c.emit('follow', { common: common('f1'), user: user('fan2'), action: '1', displayType: 'pm_mt_msg_viewer_follow' });
    const rose = { giftName: 'Rose', diamondCount: 1, giftType: 1 };
    c.emit('gift', { common: common('g1'), user: user('fan3'), giftId: 5655, repeatCount: 1, repeatEnd: 0, giftDetails: rose });
    c.emit('gift', { common: common('g2'), user: user('fan3'), giftId: 5655, repeatCount: 7, repeatEnd: 1, giftDetails: rose });
    c.emit('gift', { common: common('g3'), user: user('fan4'), giftId: 6, repeatCount: 1, repeatEnd: 0, giftDetails: { giftName: 'Universe', diamondCount: 34999, giftType: 2 } });
    c.emit('like', { common: common('l1'), user: user('fan5'), likeCount: 15, totalLikeCount: 15 });
    c.emit('chat', { comment: 'no user, no id' });
    expect(events.map((e) => e.id)).toEqual(['c1', 'f1', 'g2', 'g3']);
    expect(events[0]).toMatchObject({ platform: 'tiktok', room: 'idolstreamer', kind: 'message', text: 'hello from tiktok', user: { login: 'fan1', displayName: 'FAN1', roles: ['moderator', 'subscriber'] } });
    expect(events[1]).toMatchObject({ kind: 'follow' });
    expect(events[2]).toMatchObject({ kind: 'gift', paid: { amount: 7, currency: 'diamonds' }, text: 'sent 7 Rose' });
    expect(events[3]).toMatchObject({ kind: 'gift', paid: { amount: 34999, currency: 'diamonds' } });
    expect(src.status()).toMatchObject({ connected: true, likes: 15 });
  });

  it('reconnects slowly when the LIVE ends or the socket drops, the backoff growing while attempts fail', async () => {
    jest.spyOn(Math, 'random').mockReturnValue(1); // each wait its full ceiling: 15 s, 30 s, 60 s
    let failing = false;
    src = new TikTokSource({
      config, channel: 'main', log: createLogger('tt', 'silent'),
      factory: () => {
        const c = new FakeConnection();
        if (failing) c.connectResult = async () => { throw new Error('socket hang up'); };
        conns.push(c);
        return c;
      },
    });
    await src.start((e) => events.push(e));
    await jest.advanceTimersByTimeAsync(0);
    failing = true;
    conns[0]!.emit('streamEnd', { action: 3 });
    expect(conns[0]!.disconnected).toBe(true);
    expect(src.status().connected).toBe(false);
    await jest.advanceTimersByTimeAsync(7400);
    expect(conns).toHaveLength(1); // at least half the 15 s base
    await jest.advanceTimersByTimeAsync(7700);
    expect(conns).toHaveLength(2); // by 15 s; it fails
    await jest.advanceTimersByTimeAsync(14_900);
    expect(conns).toHaveLength(2); // next waits 15–30 s
    await jest.advanceTimersByTimeAsync(15_200);
    expect(conns).toHaveLength(3);
    failing = false;
    await jest.advanceTimersByTimeAsync(60_100);
    expect(conns).toHaveLength(4);
    expect(src.status()).toMatchObject({ connected: true, reconnects: 1 });
    conns[3]!.emit('disconnected', { code: 1006, reason: 'abnormal' });
    expect(src.status()).toMatchObject({ connected: false, reconnects: 2, lastError: 'abnormal' });
  });

  it('a rate-limited signer (429) is left alone for at least a minute', async () => {
    let first = true;
    src = new TikTokSource({
      config, channel: 'main', log: createLogger('tt', 'silent'),
      factory: () => {
        const c = new FakeConnection();
        if (first) c.connectResult = async () => { throw new Error('Request failed with status code 429 (Too Many Requests)'); };
        first = false;
        conns.push(c);
        return c;
      },
    });
    await src.start((e) => events.push(e));
    await jest.advanceTimersByTimeAsync(SIGNER_RATE_LIMIT_BACKOFF_MS - 100);
    expect(conns).toHaveLength(1);
    expect(src.status().lastError).toMatch(/429/);
    await jest.advanceTimersByTimeAsync(200);
    expect(conns).toHaveLength(2);
  });

  it('a connector that cannot be built (the package fails to load) leaves tiktok off with the reason; nothing rejects unhandled', async () => {
    jest.useRealTimers(); // Node reports an unhandled rejection after a real turn of the event loop
    const unhandled: unknown[] = [];
    const onUnhandled = (reason: unknown) => unhandled.push(reason);
    process.on('unhandledRejection', onUnhandled);
    try {
      src = new TikTokSource({ config, channel: 'main', log: createLogger('tt', 'silent'), factory: () => { throw new Error("Cannot find module 'tiktok-live-connector'"); } });
      await src.start((e) => events.push(e));
      for (let i = 0; i < 3; i++) await new Promise((r) => setImmediate(r));
      expect(src.status()).toMatchObject({ connected: false, lastError: expect.stringMatching(/Cannot find module/) as unknown });
      expect(unhandled).toEqual([]);
    } finally {
      process.off('unhandledRejection', onUnhandled);
    }
  });
});
