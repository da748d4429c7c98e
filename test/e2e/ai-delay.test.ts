import { delayDepth } from '../../src/ai/delay';
import { duplicate } from '../../src/redis';
import { aiKeys } from '../../src/ai/keys';
import { utteranceIdFor } from '../../src/chat/ingest-pipeline';
import { FakeLlm } from '../../testkit/fake-llm';
import { aiFleet } from '../helpers/ai-fleet';
import { eventually, TestFleet, type RunningProcess } from '../helpers/fleet';
import { chatEvent } from '../helpers/pipeline';

interface Seen {
  type: string;
  utteranceId: string;
  text: string;
  interrupted?: boolean;
  /** When this test got the event (ms). */
  at: number;
}

/** Every live event of the fleet's main channel, as they come. */
async function watchEvents(fleet: TestFleet) {
  const seen: Seen[] = [];
  const sub = duplicate(fleet.redis);
  sub.on('message', (_c: string, m: string) => seen.push({ ...(JSON.parse(m) as Omit<Seen, 'at'>), at: Date.now() }));
  await sub.subscribe(fleet.keys.events('main'));
  const find = (type: string, where: (e: Seen) => boolean, what: string, timeoutMs = 30000) => eventually(async () => seen.find((e) => e.type === type && where(e)), what, timeoutMs, 50);
  /** Lines aired to their end, in order (a line interrupted on a loaded machine is aired again: it counts once). */
  const aired = (where: (e: Seen) => boolean) => seen.filter((e) => e.type === 'onair-end' && !e.interrupted && where(e)).map((e) => e.text);
  return { seen, find, aired, stop: () => sub.quit() };
}

const mod = { login: 'mod', roles: ['moderator' as const] };

/** The loopback model and moderator are answered in time even on a loaded machine (these tests are not about fallbacks). */
const patient = { firstTokenDeadlineMs: 15000, totalDeadlineMs: 120_000, safety: { timeoutMs: 15000 } };

/** Ingest, three workers and a broadcaster up (a loaded machine may take a while to start them: not what these tests measure). */
const startFleet = (procs: RunningProcess[]) =>
  Promise.all([procs[0]!.waitForLog('ingest ready', {}, 60000), ...procs.slice(1, 4).map((p) => p.waitForLog('worker ready', {}, 60000)), procs[4]!.waitForLog('broadcaster ready', {}, 60000)]);

describe('the broadcast delay and the dump (real processes: ingest, reply, tts, audio, broadcast; loopback model)', () => {
  let fleet: TestFleet;
  let fake: FakeLlm | undefined;
  afterEach(async () => {
    await fake?.close();
    await fleet?.close();
  });

  it('!dump within the delay: nothing of that reply airs, not even its sentences not yet written; a !say in the same window airs; a later reply airs', async () => {
    fake = new FakeLlm();
    await fake.ready;
    fake.holdAfter = 4; // "Hello from the cloud. " then the model waits until released
    fleet = aiFleet(fake, { ...patient, reply: { channelCooldownMs: 0, userCooldownMs: 0 }, safety: { ...patient.safety, delayMs: 4000 } });
    const procs = [fleet.start(['ingest']), fleet.start(['worker', 'reply']), fleet.start(['worker', 'tts']), fleet.start(['worker', 'audio']), fleet.start(['broadcast'])];
    await startFleet(procs);
    const events = await watchEvents(fleet);
    const chat = async (text: string, over: Parameters<typeof chatEvent>[1] = {}) => {
      const e = chatEvent(text, over);
      await fleet.queues.enqueue('chat', e);
      return e;
    };
    try {
      await chat('Aiko, what are you up to?', { user: { login: 'ann' } });
      const first = await events.find('speech-ready', (e) => e.utteranceId.startsWith('ai-'), 'the first AI sentence voiced');
      const reply = first.utteranceId.replace(/-0$/, '-');
      // Voiced and held: in the delay, not on air.
      expect(await delayDepth(fleet.redis, fleet.prefix, 'main')).toBe(1);
      const said = utteranceIdFor(await chat('!say the plain line still airs', { user: { login: 'bob' } }), 'say');
      await chat('!dump', { user: mod });
      await procs[4]!.waitForLog('AI lines dumped', { by: 'twitch:mod' });
      expect(await delayDepth(fleet.redis, fleet.prefix, 'main')).toBe(0);
      // The model writes its second sentence now: the reply worker stops there instead of voicing it.
      fake.reply.openai = 'A fresh answer. Still here.';
      fake.release();
      await procs[1]!.waitForLog('AI reply dumped while being written: stopped');
      await events.find('onair-end', (e) => e.utteranceId === said && !e.interrupted, 'the !say on air');

      // A question after the dump is answered and aired after its own delay: were anything of the
      // dumped reply still waiting, it would have been due first.
      await chat('Aiko, are you still there?', { user: { login: 'cat' } });
      const later = await events.find('speech-ready', (e) => e.utteranceId.startsWith('ai-') && !e.utteranceId.startsWith(reply), 'the later reply voiced');
      const laterReply = later.utteranceId.replace(/-0$/, '-');
      await events.find('onair-end', (e) => e.utteranceId === `${laterReply}1` && !e.interrupted, 'the later reply on air to its end');
      expect(events.aired((e) => e.utteranceId.startsWith('ai-'))).toEqual(['A fresh answer.', 'Still here.']);
      expect(events.seen.filter((e) => e.utteranceId?.startsWith(reply) && e.type !== 'speech-ready')).toEqual([]);
      expect(procs.every((p) => p.child.exitCode === null)).toBe(true);
    } finally {
      await events.stop();
    }
  }, 180_000);

  it('a !say accepted while a reply is on air, its next sentence not yet written, airs after the whole reply', async () => {
    fake = new FakeLlm();
    await fake.ready;
    fake.holdAfter = 4; // "Hello from the cloud. " then the model waits until released
    fleet = aiFleet(fake, { ...patient, reply: { channelCooldownMs: 0 }, safety: { ...patient.safety, delayMs: 0 } });
    const procs = [fleet.start(['ingest']), fleet.start(['worker', 'reply']), fleet.start(['worker', 'tts']), fleet.start(['worker', 'audio']), fleet.start(['broadcast'])];
    await startFleet(procs);
    const events = await watchEvents(fleet);
    try {
      await fleet.queues.enqueue('chat', chatEvent('Aiko, what are you up to?', { user: { login: 'ann' } }));
      const first = await events.find('onair-start', (e) => e.utteranceId.startsWith('ai-'), 'the first AI sentence on air');
      const say = chatEvent('!say me in between?', { user: { login: 'bob' } });
      await fleet.queues.enqueue('chat', say);
      // The !say is voiced and the reply's first sentence over while the model still holds the second.
      await events.find('speech-ready', (e) => e.utteranceId === utteranceIdFor(say, 'say'), 'the !say voiced');
      await events.find('onair-end', (e) => e.utteranceId === first.utteranceId && !e.interrupted, 'the first AI sentence aired');
      fake.release();
      await events.find('onair-end', (e) => e.utteranceId === utteranceIdFor(say, 'say') && !e.interrupted, 'the !say on air');
      expect(events.aired((e) => e.utteranceId.startsWith('ai-') || e.utteranceId === utteranceIdFor(say, 'say'))).toEqual(['Hello from the cloud.', 'How are you today?', 'me in between?']);
    } finally {
      await events.stop();
    }
  }, 180_000);

  it('a held AI line survives a broadcaster restart and still waits out its delay', async () => {
    fleet = new TestFleet({ ai: { safety: { delayMs: 10_000 } } });
    const workers = [fleet.start(['worker', 'tts']), fleet.start(['worker', 'audio'])];
    let broadcaster = fleet.start(['broadcast']);
    await Promise.all([...workers.map((p) => p.waitForLog('worker ready', {}, 60000)), broadcaster.waitForLog('broadcaster ready', {}, 60000)]);
    const events = await watchEvents(fleet);
    const line = (id: string) => ({ utteranceId: id, channel: 'main', text: 'Held back a while.', voice: 'default', priority: 5, acceptedAt: Date.now(), origin: { platform: 'ai', user: 'Aiko' } });
    try {
      await fleet.queues.enqueue('tts', line('ai-held-0'));
      await events.find('speech-ready', (e) => e.utteranceId === 'ai-held-0', 'the AI line voiced');
      const due = Number(await fleet.redis.zscore(aiKeys(fleet.prefix).delay('main'), 'ai-held-0'));
      expect(due).toBeGreaterThan(0);
      // Killed outright: the held line is only in Redis (a delayed playout job and the delay's ledger).
      broadcaster.kill('SIGKILL');
      await broadcaster.exited;
      expect(events.seen.filter((e) => e.utteranceId === 'ai-held-0' && e.type !== 'speech-ready')).toEqual([]);
      broadcaster = fleet.start(['broadcast']);
      await broadcaster.waitForLog('broadcaster ready', {}, 60000);
      const start = await events.find('onair-start', (e) => e.utteranceId === 'ai-held-0', 'the held line on air after the restart');
      expect(start.at).toBeGreaterThanOrEqual(due);
      await events.find('onair-end', (e) => e.utteranceId === 'ai-held-0' && !e.interrupted, 'the held line aired to its end');
    } finally {
      await events.stop();
    }
  }, 180_000);
});
