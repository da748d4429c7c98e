import { QueueEvents, type Job } from 'bullmq';
import { PayloadError } from '../../queues/registry';
import { TestFleet, eventually, redisUrl, runCli } from '../helpers/fleet';
import { chatEvent, testPipeline } from '../helpers/pipeline';

/** Every name a plain object answers to through its prototype (`in` and `[name]` would take them for configured ones). */
const HOSTILE = [...Object.getOwnPropertyNames(Object.prototype), '__proto__'];
const mod = { login: 'mod', roles: ['moderator' as const] };

describe('names that are Object.prototype keys (real Redis)', () => {
  let fleet: TestFleet;
  afterEach(async () => fleet?.close());

  /** Every key of this fleet, to show none is named after a hostile name. */
  const fleetKeys = () => fleet.redis.keys(`${fleet.prefix}:*`);
  const hostileKeys = async () => (await fleetKeys()).filter((k) => HOSTILE.some((n) => k.includes(n)));

  it('as a channel, a voice, a scene and a command name: a clear decision each, no job for an unknown channel, no key named after them', async () => {
    fleet = new TestFleet();
    const { pipeline, replies } = testPipeline(fleet);
    const outcomes = await Promise.all(
      HOSTILE.flatMap((name, n) => [
        pipeline.accept(chatEvent('hello from nowhere', { platform: 'local', channel: name, room: undefined, user: { login: `c${n}` } })),
        pipeline.accept(chatEvent(`!voice ${name}`, { user: { login: `v${n}` } })),
        pipeline.accept(chatEvent(`!voice ${name} speak in it`, { user: { login: `w${n}` } })),
        pipeline.accept(chatEvent(`!voice ${name}`, { user: { ...mod, login: `m${n}` } })),
        pipeline.accept(chatEvent(`!scene ${name}`, { user: { ...mod, login: `s${n}` } })),
        pipeline.accept(chatEvent(`!${name}`, { user: { login: `k${n}` } })),
      ]),
    );
    const per = HOSTILE.map((_name, n) => outcomes.slice(n * 6, n * 6 + 6));
    for (const [channel, voice, voiceSay, voiceSwitch, scene, command] of per) {
      expect(channel).toEqual({ decision: 'ignored', reason: 'unknown channel' });
      for (const o of [voice, voiceSay, voiceSwitch]) expect(o).toEqual({ decision: 'command', reason: 'voice' });
      expect(scene).toEqual({ decision: 'command', reason: 'scene' });
      expect(command).toEqual({ decision: 'ignored', reason: 'unknown command' });
    }
    // !voice <hostile> lists the voices: it neither speaks nor switches.
    expect(replies.filter((r) => r.text.startsWith(`@${r.to} voices: `))).toHaveLength(HOSTILE.length * 3);
    expect(await fleet.redis.get(fleet.keys.channelVoice('main'))).toBeNull();
    expect(await fleet.queues.queue('tts').getJobCounts('prioritized', 'waiting', 'delayed')).toEqual({ prioritized: 0, waiting: 0, delayed: 0 });
    // A scene name is a value in the channel's desired state, never a key: each job is for the configured channel.
    const scenes = (await fleet.queues.queue('scene').getJobs(['waiting'])).map((j) => j.data as { channel: string; scene: string });
    expect(scenes.map((s) => s.channel)).toEqual(HOSTILE.map(() => 'main'));
    expect(scenes.map((s) => s.scene).sort()).toEqual([...HOSTILE].sort());
    expect(await hostileKeys()).toEqual([]);
  });

  it('in queue payloads: the schema refuses the ones it can, the workers drop the rest with a logged decision, nothing is parked', async () => {
    fleet = new TestFleet();
    const workers = ['tts', 'audio', 'scene'].map((kind) => fleet.start(['worker', kind, '--concurrency', '4']));
    await Promise.all(workers.map((w) => w.waitForLog('worker ready')));
    const line = (id: string, channel: string, voice: string) => ({ utteranceId: id, channel, text: 'nothing here', voice, priority: 5, acceptedAt: Date.now(), origin: { platform: 'cli', user: 'test' } });
    const jobs: Job[] = [];
    let refused = 0;
    for (const [n, name] of HOSTILE.entries()) {
      try {
        jobs.push(await fleet.queues.enqueue('tts', line(`unknown-channel-${n}`, name, 'default')));
        jobs.push(await fleet.queues.enqueue('scene', { channel: name, scene: 'Karaoke' }));
      } catch (err) {
        expect(err).toBeInstanceOf(PayloadError); // e.g. `toString`: not a channel id at all
        refused++;
      }
    }
    // Lower-case ones (constructor, __proto__, valueof…) pass the schema and reach a worker.
    expect(refused).toBeLessThan(HOSTILE.length);
    const spoken = await Promise.all(HOSTILE.map((name, n) => fleet.queues.enqueue('tts', line(`unknown-voice-${n}`, 'main', name.slice(0, 32)))));
    const listen = (name: string) => new QueueEvents(name, { connection: { url: redisUrl() }, prefix: fleet.prefix });
    const events = { tts: listen('tts'), scene: listen('scene') };
    try {
      const results = await Promise.all(jobs.map((j) => j.waitUntilFinished(j.queueName === 'tts' ? events.tts : events.scene, 30000)));
      expect(results.every((r) => (r as { dropped?: string }).dropped === 'unknown channel')).toBe(true);
      // An unknown voice is no reason to lose a line on a real channel: the default voice speaks it.
      const voiced = await Promise.all(spoken.map((j) => j.waitUntilFinished(events.tts, 30000)));
      expect(voiced.every((r) => (r as { voices: string[] }).voices.every((v) => v === fleet.config.defaultVoice))).toBe(true);
    } finally {
      await Promise.all([events.tts.close(), events.scene.close()]);
    }
    await workers[0]!.waitForLog('line dropped: no such channel');
    await workers[2]!.waitForLog('scene dropped: no such channel');
    // The default voice's lines reach the configured channel's playout; no other channel has one.
    const playout = fleet.queues.queue('playout', 'main');
    await eventually(async () => ((await playout.count()) === HOSTILE.length ? true : undefined), 'every unknown-voice line in the playout of main');
    const playoutQueues = new Set((await fleetKeys()).filter((k) => k.startsWith(`${fleet.prefix}:playout-`)).map((k) => k.split(':')[1]));
    expect([...playoutQueues]).toEqual(['playout-main']);
    expect(await hostileKeys()).toEqual([]);
  });

  it('on the command line: --channel, --voice and timeline names are refused as unknown (exit 2), nothing enqueued', async () => {
    fleet = new TestFleet();
    for (const name of ['constructor', '__proto__', 'toString']) {
      for (const [args, why] of [
        [['say', '--channel', name, 'hi'], `no channel "${name}"`],
        [['say', '--voice', name, 'hi'], `no voice "${name}"`],
        [['timeline', 'run', name], `no timeline "${name}"`],
      ] as const) {
        const r = await runCli([...args], fleet.env());
        expect({ code: r.code, why: r.stderr.includes(why) }).toEqual({ code: 2, why: true });
      }
    }
    expect(await fleet.queues.queue('tts').count()).toBe(0);
    expect(await hostileKeys()).toEqual([]);
  });
});
