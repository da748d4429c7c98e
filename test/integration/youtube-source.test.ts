import type { ChatEvent } from '../../queues/chat-event.schema';
import { YouTubeSource, budgetIntervalMs } from '../../src/chat/sources/youtube.source';
import { createLogger } from '../../src/logger';
import { TestFleet, eventually } from '../helpers/fleet';
import { FakeYouTube } from '../../testkit/fake-youtube';
import { sleep } from '../../src/time';

describe('YouTube live chat source (against a loopback Data API v3)', () => {
  let fleet: TestFleet;
  let fake: FakeYouTube;
  let src: YouTubeSource | undefined;
  const events: ChatEvent[] = [];
  beforeEach(async () => {
    fake = new FakeYouTube();
    fleet = new TestFleet();
    await fake.ready;
    events.length = 0;
  });
  afterEach(async () => {
    await src?.stop();
    src = undefined;
    await fake.close();
    await fleet?.close();
  });

  function start(over: Record<string, unknown> = {}) {
    const config = { ...fleet.config.chat.youtube, enabled: true, transport: 'poll' as const, baseUrl: fake.url, apiKey: 'secret-key', videoId: fake.videoId, backoffBaseMs: 300, backoffCapMs: 2000, dailyQuotaUnits: 5_000_000, ...over };
    src = new YouTubeSource({ config, channel: 'main', log: createLogger('yt-test', 'silent'), redis: fleet.redis, keys: fleet.keys });
    void src.start((e) => events.push(e));
    return src;
  }

  it('resolves the live chat from the video, follows pages and honours pollingIntervalMillis; roles and Super Chat mapped', async () => {
    fake.addPage(['a', 'b', { id: 'c', text: 'from the owner', author: { channelId: 'UCowner', displayName: 'Idol Owner', isChatOwner: true } }]);
    fake.addPage([{ id: 'd', type: 'superChatEvent', text: 'love it', superChat: { amountMicros: '5000000', currency: 'USD' }, author: { channelId: 'UCfan', displayName: 'Big Fan', isChatSponsor: true, isChatModerator: true } }]);
    fake.addPage(['e', 'f']);
    fake.pollingIntervalMillis = 150;
    start();
    await eventually(async () => (events.length >= 6 ? true : undefined), 'six messages');
    await eventually(async () => (fake.polls().length >= 5 ? true : undefined), 'a few more polls');
    expect(events.map((e) => e.id)).toEqual(['a', 'b', 'c', 'd', 'e', 'f']);
    expect(events[2]).toMatchObject({ platform: 'youtube', room: 'LIVECHAT123', user: { displayName: 'Idol Owner', roles: ['broadcaster'] } });
    expect(events[3]).toMatchObject({ kind: 'superchat', text: 'love it', paid: { amount: 5, currency: 'USD' } });
    expect(events[3]!.user.roles.sort()).toEqual(['member', 'moderator']);
    const polls = fake.polls();
    expect(polls.map((p) => p.pageToken ?? '-').slice(0, 4)).toEqual(['-', 'p1', 'p2', 'p3']);
    for (let i = 1; i < polls.length; i++) expect(polls[i]!.at - polls[i - 1]!.at).toBeGreaterThanOrEqual(140);
    expect(polls.every((p) => p.hasKey)).toBe(true);
  });

  it('a restarted source waits out the poll interval its predecessor was given (the pace is kept in Redis)', async () => {
    fake.addPage(['a']);
    fake.pollingIntervalMillis = 1500;
    start();
    await eventually(async () => (fake.polls().length >= 1 && (await fleet.redis.pttl(fleet.keys.youtubeNextPoll(fake.liveChatId))) > 0 ? true : undefined), 'the first poll', 5000);
    await src!.stop();
    // A new process (an ingest restart) must not poll again before the 1.5 s are over.
    start();
    await eventually(async () => (fake.polls().length >= 2 ? true : undefined), 'the poll after the restart', 5000);
    const polls = fake.polls();
    expect(polls[1]!.at - polls[0]!.at).toBeGreaterThanOrEqual(1400);
    expect(polls[1]!.pageToken).toBe('p1');
  });

  it('never polls faster than the daily quota affords', async () => {
    fake.addPage(['a']);
    fake.pollingIntervalMillis = 10;
    const units = 5 * 86_400_000 / 400; // a budget that affords one poll every 400 ms
    expect(budgetIntervalMs(units)).toBe(400);
    start({ dailyQuotaUnits: units });
    await eventually(async () => (fake.polls().length >= 3 ? true : undefined), 'three polls', 5000);
    const polls = fake.polls();
    for (let i = 1; i < polls.length; i++) expect(polls[i]!.at - polls[i - 1]!.at).toBeGreaterThanOrEqual(390);
  });

  it('backs off on 403 quotaExceeded and 500, then carries on without losing messages', async () => {
    fake.addPage(['a']);
    fake.addPage(['b']);
    fake.failures.push('quotaExceeded', 'server');
    start({ dailyQuotaUnits: 5 * 86_400_000 / 50 });
    await eventually(async () => (events.length >= 2 ? true : undefined), 'both messages', 15000);
    const polls = fake.polls();
    // Poll 1 fails (quota): the next comes only after a long wait (≥ 10 budget intervals = 500 ms); poll 2 fails (500): backoff ≥ 150 ms.
    expect(polls[1]!.at - polls[0]!.at).toBeGreaterThanOrEqual(490);
    expect(polls[2]!.at - polls[1]!.at).toBeGreaterThanOrEqual(140);
    expect(events.map((e) => e.id)).toEqual(['a', 'b']);
    expect(src!.status().lastError).toMatch(/500/);
  });

  it('a restart resumes from the stored page token: no message twice', async () => {
    fake.addPage(['a', 'b']);
    fake.addPage(['c']);
    start();
    await eventually(async () => (events.length >= 3 ? true : undefined), 'three messages');
    await src!.stop();
    const before = fake.polls().length;
    fake.addPage(['d']);
    start();
    await eventually(async () => (events.length >= 4 ? true : undefined), 'the new message');
    await eventually(async () => (fake.polls().length >= before + 3 ? true : undefined), 'a few polls after the restart');
    expect(events.map((e) => e.id)).toEqual(['a', 'b', 'c', 'd']);
    expect(fake.polls()[before]!.pageToken).toBeDefined();
  });

  it('stops reading an ended chat and says why', async () => {
    fake.failures.push('liveChatEnded');
    start({ videoId: '', liveChatId: fake.liveChatId });
    await eventually(async () => (src!.status().lastError?.includes('liveChatEnded') ? true : undefined), 'the ended chat to be noticed');
    const n = fake.polls().length;
    await sleep(400);
    expect(fake.polls().length).toBe(n);
    expect(src!.status().connected).toBe(false);
  });
});
