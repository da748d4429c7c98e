import { TestFleet } from '../helpers/fleet';
import { chatEvent, testPipeline } from '../helpers/pipeline';
import { sleep } from '../../src/time';

type Line = { utteranceId: string; expiresAt?: number; degradable?: boolean; order?: number };

describe('chat !say under degradation (command processor on real Redis)', () => {
  let fleet: TestFleet;
  afterEach(async () => fleet?.close());
  const ttsJobs = async () => (await fleet.queues.queue('tts').getJobs(['prioritized', 'waiting'], 0, -1)).map((j) => j.data as Line);

  it('a viewer\'s !say is shed like plain chat from level 1; moderators\' and paid ones are not', async () => {
    fleet = new TestFleet({ chat: { load: { shedDepth: 1, summaryEveryMs: 60_000 } } });
    const { pipeline } = testPipeline(fleet);
    expect(await pipeline.accept(chatEvent('the first fills the backlog'))).toMatchObject({ decision: 'spoken' });
    await sleep(300); // the backlog depth is cached for 250 ms
    const viewer = chatEvent('!say please read this', { user: { login: 'viewer' } });
    const mod = chatEvent('!say a moderator speaks', { user: { login: 'mod', roles: ['moderator'] } });
    const paid = chatEvent('!say paid words', { user: { login: 'fan' }, paid: { amount: 100, currency: 'bits' } });
    const out = await Promise.all([viewer, mod, paid].map((e) => pipeline.accept(e)));
    expect(out.map((o) => o.decision)).toEqual(['shed', 'command', 'command']);
    expect(out[0]!.reason).toMatch(/^degradation level [1-3]/);
    const lines = new Map((await ttsJobs()).map((l) => [l.utteranceId, l]));
    expect(lines.has(`twitch-${viewer.id}-say`)).toBe(false);
    // The moderator's line has plain chat's full time-to-live; the paid one none.
    expect(lines.get(`twitch-${mod.id}-say`)!.expiresAt).toBe(mod.acceptedAt + fleet.config.chat.load.plainTtlMs);
    expect(lines.get(`twitch-${paid.id}-say`)!.expiresAt).toBeUndefined();
  });

  it('a viewer\'s !say carries plain chat\'s time-to-live, and every line its accept order', async () => {
    fleet = new TestFleet();
    const { pipeline } = testPipeline(fleet);
    const events = [0, 1, 2, 3].map((i) => chatEvent(i % 2 ? `plain line ${i}` : `!say said line ${i}`, { user: { login: `u${i}` } }));
    await Promise.all(events.map((e) => pipeline.accept(e)));
    const lines = await ttsJobs();
    const say = lines.find((l) => l.utteranceId === `twitch-${events[0]!.id}-say`)!;
    expect(say).toMatchObject({ expiresAt: events[0]!.acceptedAt + fleet.config.chat.load.plainTtlMs, degradable: true });
    const orders = events.map((e, i) => lines.find((l) => l.utteranceId === `twitch-${e.id}${i % 2 ? '' : '-say'}`)!.order!);
    expect([...orders].sort((a, b) => a - b)).toEqual(orders);
    expect(new Set(orders).size).toBe(4);
  });
});
