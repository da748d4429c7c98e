import { Memory } from '../../src/ai/memory';
import { FakeLlm } from '../../testkit/fake-llm';
import { aiFleet, aiLog } from '../helpers/ai-fleet';
import { eventually, runCli, type RunningProcess, type TestFleet } from '../helpers/fleet';
import { chatEvent } from '../helpers/pipeline';
import { duplicate } from '../../src/redis';

interface OnAir {
  type: string;
  utteranceId: string;
  text: string;
}

const mod = { login: 'mod', roles: ['moderator' as const] };
const mika = { login: 'mika' };

/**
 * The AI's state across a full fleet restart on the same Redis: every process stopped (SIGTERM,
 * as a deploy does) and started again. The kill switch and a viewer's memory live in Redis alone.
 */
describe('AI kill switch and viewer memory across a full fleet restart (real processes: ingest, reply, tts, audio, broadcast; loopback model)', () => {
  let fleet: TestFleet;
  let fake: FakeLlm;
  afterEach(async () => {
    await fake?.close();
    await fleet?.close();
  });

  it('ai off stops replies while !say airs, stays off after the restart, ai on brings replies back; the memory survives and !forgetme removes it', async () => {
    fake = new FakeLlm();
    await fake.ready;
    fake.reply.openai = 'Mika has a cat named Biscuit.';
    fleet = aiFleet(fake, { reply: { channelCooldownMs: 0, userCooldownMs: 0, greetFirstTimers: false, sampleRate: 0 }, memory: { summaryEvery: 2 } });
    const memory = new Memory({ config: fleet.config, redis: fleet.redis, log: aiLog });
    const aired: OnAir[] = [];
    const sub = duplicate(fleet.redis);
    sub.on('message', (_c: string, m: string) => {
      const e = JSON.parse(m) as OnAir;
      if (e.type === 'onair-start' || e.type === 'onair-end') aired.push(e);
    });
    await sub.subscribe(fleet.keys.events('main'));
    const startAll = async (): Promise<RunningProcess[]> => {
      const procs = [fleet.start(['ingest']), fleet.start(['worker', 'reply']), fleet.start(['worker', 'tts']), fleet.start(['worker', 'audio']), fleet.start(['broadcast'])];
      await Promise.all([procs[0]!.waitForLog('ingest ready'), ...procs.slice(1, 4).map((p) => p.waitForLog('worker ready')), procs[4]!.waitForLog('encoder started')]);
      return procs;
    };
    const chat = (text: string, user: NonNullable<Parameters<typeof chatEvent>[1]>['user'] = { login: 'ann' }) => fleet.queues.enqueue('chat', chatEvent(text, { platform: 'local', user }));
    const aiStarts = () => aired.filter((a) => a.type === 'onair-start' && a.utteranceId.startsWith('ai-')).length;
    const ended = (text: string) => eventually(async () => aired.find((a) => a.type === 'onair-end' && a.text === text), `"${text}" aired`, 30000, 50);
    /** The user turn of the model's last request (conversation, viewer notes, the message). */
    const lastAsked = () => String((fake.requests.filter((r) => r.provider === 'openai').at(-1)!.body.messages as { content: string }[])[1]!.content);

    try {
      let procs = await startAll();
      // Mika tells the idol about herself: two lines make a summary job, written through the model.
      await chat('I just got a cat named Biscuit', mika);
      await chat('it sleeps on my keyboard', mika);
      expect(await eventually(async () => (await memory.summary('main', 'local:id-mika')) || undefined, 'Mika\'s summary written')).toBe('Mika has a cat named Biscuit.');

      expect((await runCli(['ai', 'off'], fleet.env())).code).toBe(0);
      await chat('Aiko, are you still there?');
      await chat('!say the switch is off but commands still speak', mod);
      await ended('the switch is off but commands still speak');
      expect(aiStarts()).toBe(0);
      // No reply job was made for the question (the idle talk's next tick is the only job waiting).
      expect((await fleet.queues.queue('reply').getJobs(['waiting', 'delayed', 'active', 'prioritized'])).map((j) => j.data as unknown)).toEqual([{ task: 'idle' }]);

      // The whole fleet stopped as a deploy stops it, then started again on the same Redis.
      for (const p of procs) p.kill('SIGTERM');
      expect((await Promise.all(procs.map((p) => p.exited))).map((e) => e.code)).toEqual([0, 0, 0, 0, 0]);
      procs = await startAll();
      expect((await runCli(['ai', 'status'], fleet.env())).stdout).toMatch(/^AI replies off \(set by cli:/);
      await chat('Aiko, and now?');
      await chat('!say still off after the restart', mod);
      await ended('still off after the restart');
      expect(aiStarts()).toBe(0);

      expect((await runCli(['ai', 'on'], fleet.env())).code).toBe(0);
      await chat('Aiko, do you remember my cat?', mika);
      await eventually(async () => (aired.some((a) => a.type === 'onair-end' && a.utteranceId.startsWith('ai-')) ? true : undefined), 'an AI reply on air again', 30000, 50);
      expect(lastAsked()).toContain('<viewer-notes>Mika has a cat named Biscuit.</viewer-notes>'); // remembered across the restart

      await chat('!forgetme', mika);
      await eventually(async () => ((await memory.summary('main', 'local:id-mika')) === '' ? true : undefined), 'Mika forgotten');
      expect((await memory.history('main')).filter((t) => t.user === 'mika')).toEqual([]);
      const asked = fake.count('openai');
      await chat('Aiko, what do you know about me?', mika);
      await eventually(async () => (fake.count('openai') > asked ? true : undefined), 'the next reply asked');
      expect(lastAsked()).not.toContain('<viewer-notes>');
      expect(procs.every((p) => p.child.exitCode === null)).toBe(true);
    } finally {
      await sub.quit();
    }
  }, 180_000);
});
