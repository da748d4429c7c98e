import { FakeLlm } from '../../testkit/fake-llm';
import { aiFleet } from '../helpers/ai-fleet';
import { eventually, type TestFleet } from '../helpers/fleet';
import { chatEvent } from '../helpers/pipeline';
import { duplicate } from '../../src/redis';

describe('a chat question → the AI reply on air (real processes: ingest, reply, tts, audio, broadcast; loopback model)', () => {
  let fleet: TestFleet;
  let fake: FakeLlm;
  afterEach(async () => {
    await fake?.close();
    await fleet?.close();
  });

  it('the first sentence is on air before the model has finished writing, the second follows it, the reply heard in order', async () => {
    fake = new FakeLlm();
    await fake.ready;
    fake.faults.openai = 'trickle';
    fake.holdAfter = 4; // "Hello from the cloud. " then the model waits until released
    // No broadcast delay: a voiced AI line goes to the playout at once (test/e2e/ai-delay.test.ts has the delay).
    fleet = aiFleet(fake, { reply: { channelCooldownMs: 0 }, safety: { delayMs: 0 } });
    const procs = [fleet.start(['ingest']), fleet.start(['worker', 'reply']), fleet.start(['worker', 'tts']), fleet.start(['worker', 'audio']), fleet.start(['broadcast'])];
    await Promise.all([...procs.slice(1, 4).map((p) => p.waitForLog('worker ready')), procs[4]!.waitForLog('encoder started')]);

    const sub = duplicate(fleet.redis);
    const started: { utteranceId: string; text: string }[] = [];
    const ended: string[] = [];
    sub.on('message', (_c: string, m: string) => {
      const e = JSON.parse(m) as { type: string; utteranceId: string; text: string };
      if (e.type === 'onair-start' && e.utteranceId.startsWith('ai-')) started.push(e);
      if (e.type === 'onair-end' && e.utteranceId.startsWith('ai-')) ended.push(e.utteranceId);
    });
    await sub.subscribe(fleet.keys.events('main'));
    try {
      // Local chat through the chat queue into the ingest process, as POST /api/chat sends it.
      await fleet.queues.enqueue('chat', chatEvent('Aiko, what are you up to?', { platform: 'local', user: { login: 'ann' } }));
      await eventually(async () => (started.length >= 1 ? true : undefined), 'the first AI sentence on air', 30000, 50);
      expect(started[0]!.text).toBe('Hello from the cloud.');
      expect(fake.finished.openai).toBe(0); // still writing
      fake.release();
      await eventually(async () => (ended.length === 2 ? true : undefined), 'both AI sentences aired', 30000, 50);
      expect(started.map((s) => s.text)).toEqual(['Hello from the cloud.', 'How are you today?']);
      expect(ended).toEqual(started.map((s) => s.utteranceId));
      expect(procs.every((p) => p.child.exitCode === null)).toBe(true);
    } finally {
      await sub.quit();
    }
  });
});
