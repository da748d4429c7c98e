import { TestFleet, eventually } from '../helpers/fleet';
import { FakeTwitch } from '../../testkit/fake-twitch';

describe('the ingest process with a Twitch source', () => {
  let fleet: TestFleet;
  let twitch: FakeTwitch;
  afterEach(async () => {
    await fleet?.close();
    await twitch?.close();
  });

  it('turns Twitch chat into speech jobs, once each, and keeps a moderator cooldown across a restart', async () => {
    twitch = new FakeTwitch();
    await twitch.ready;
    fleet = new TestFleet({
      chat: {
        twitch: { enabled: true, channels: ['idolchan'], reconnectBaseMs: 50, reconnectCapMs: 500 },
        commands: [{ name: 'hype', permission: 'subscriber', cooldown: { globalMs: 60000, userMs: 0 }, actions: [{ say: 'hype train from {user}!' }] }],
      },
    });
    const env = { TWITCH_IRC_URL: twitch.url };
    let ingest = fleet.start(['ingest'], env);
    await ingest.waitForLog('ingest ready');
    await twitch.joined('idolchan');
    const sub = { login: 'subfan', id: '77', badges: 'subscriber/3', subscriber: true };
    twitch.broadcast('idolchan', twitch.privmsg('idolchan', { login: 'viewer1', id: '1' }, 'hello idol', { id: 'x1' }));
    twitch.broadcast('idolchan', twitch.privmsg('idolchan', { login: 'viewer1', id: '1' }, 'hello idol', { id: 'x1' })); // redelivered
    twitch.broadcast('idolchan', twitch.privmsg('idolchan', sub, '!hype', { id: 'x2' }));
    twitch.broadcast('idolchan', twitch.privmsg('idolchan', { login: 'viewer2', id: '2' }, '!hype', { id: 'x3' }));
    const tts = fleet.queues.queue('tts');
    await eventually(async () => ((await tts.count()) === 2 ? true : undefined), 'two speech jobs');
    await ingest.waitForLog('chat decision', { messageId: 'x3' });
    expect(ingest.lines.find((l) => l.messageId === 'x3')).toMatchObject({ decision: 'rejected', reason: 'permission' });
    expect(ingest.lines.filter((l) => l.messageId === 'x1').map((l) => l.decision)).toEqual(['spoken']);
    const texts = (await tts.getJobs(['prioritized'])).map((j) => j.data.text).sort();
    expect(texts).toEqual(['hello idol', 'hype train from SUBFAN!']);

    ingest.kill('SIGTERM');
    expect((await ingest.exited).code).toBe(0);
    ingest = fleet.start(['ingest'], env);
    await ingest.waitForLog('ingest ready');
    await eventually(async () => (twitch.current('idolchan') ? true : undefined), 'the new ingest to join');
    twitch.broadcast('idolchan', twitch.privmsg('idolchan', sub, '!hype', { id: 'x4' }));
    const decision = await ingest.waitForLog('chat decision', { messageId: 'x4' });
    expect(decision).toMatchObject({ decision: 'rejected', reason: 'cooldown' });
    expect(await tts.count()).toBe(2);
  });
});
