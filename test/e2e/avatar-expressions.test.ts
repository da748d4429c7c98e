import fs from 'node:fs';
import path from 'node:path';
import { PNG } from 'pngjs';
import { builtInPackDir } from '../../src/avatar/default-pack';
import { duplicate } from '../../src/redis';
import { FakeLlm } from '../../testkit/fake-llm';
import { aiFleet } from '../helpers/ai-fleet';
import { avatarPixels, liveViewPasses, sparklePixels, startAvatarFleet, tearPixels } from '../helpers/avatar';
import { TestFleet, eventually, runCli, type RunningProcess } from '../helpers/fleet';
import { chatEvent } from '../helpers/pipeline';

/** Waits for the first live event of the channel that `match`es (subscribed before `act` runs). */
async function onEvent(fleet: TestFleet, match: (e: Record<string, unknown>) => boolean, act: () => Promise<unknown>): Promise<Record<string, unknown>> {
  const sub = duplicate(fleet.redis);
  const seen: Record<string, unknown>[] = [];
  sub.on('message', (_c: string, m: string) => seen.push(JSON.parse(m) as Record<string, unknown>));
  await sub.subscribe(fleet.keys.events('main'));
  try {
    await act();
    return await eventually(async () => seen.find(match), 'the live event', 60000);
  } finally {
    await sub.quit();
  }
}

/** Waits until a process has logged `n` lines whose message matches. */
const logged = (p: RunningProcess, msg: RegExp, n: number) => eventually(async () => (p.lines.filter((l) => msg.test(String(l.msg))).length >= n ? true : undefined), `${n}× ${msg.source}`, 30000);

const expressionNow = (fleet: TestFleet) => fleet.redis.get(fleet.keys.avatarExpression('main'));

describe('avatar expressions from every source (real processes, real ffmpeg)', () => {
  let fleet: TestFleet | undefined;
  let fake: FakeLlm | undefined;
  afterEach(async () => {
    await fake?.close();
    await fleet?.close();
  });

  it('a scene job and a timeline step set the expression; an AI line tagged [happy] sets it when it airs, not when it is written', async () => {
    fake = new FakeLlm();
    await fake.ready;
    // Whichever engine of the chain answers on a loaded machine, the line is tagged [happy].
    fake.reply.openai = '[happy] Hello from the cloud, it is lovely to see you all here.';
    fake.reply.anthropic = '[happy] Hello from Claude, it is lovely to see you all here.';
    fleet = aiFleet(fake, { reply: { channelCooldownMs: 0 }, firstTokenDeadlineMs: 5000 });
    fleet.configure({ schedule: { timelines: { ponder: [{ at: 0, avatar: { expression: 'thinking' } }] } } });
    const extra = [['worker', 'scene'], ['worker', 'routine'], ['ingest'], ['worker', 'reply']];
    const { liveDir, broadcaster, others } = await startAvatarFleet(fleet, extra);
    const sceneWorker = others[2]!;
    const neutral = { tear: await tearPixels(liveDir), sparkle: await sparklePixels(liveDir) };

    // A scene job: the sad face (its tear) on the picture, kept as the channel's expression.
    await fleet.queues.enqueue('scene', { channel: 'main', avatar: { expression: 'sad' } });
    await broadcaster.waitForLog('avatar expression', { expression: 'sad' }, 20000);
    expect(await expressionNow(fleet)).toBe('sad');
    await liveViewPasses(liveDir, Date.now());
    expect(await tearPixels(liveDir)).toBeGreaterThan(neutral.tear + 100);

    // A name the pack does not offer is a logged filter decision; the face stays.
    await fleet.queues.enqueue('scene', { channel: 'main', avatar: { expression: 'dance' } });
    await sceneWorker.waitForLog('avatar expression dropped', { expression: 'dance', reason: 'not in the pack' }, 20000);
    expect(await expressionNow(fleet)).toBe('sad');

    // A timeline step (through the routine worker and a scene job).
    expect((await runCli(['timeline', 'run', 'ponder'], fleet.env())).code).toBe(0);
    await broadcaster.waitForLog('avatar expression', { expression: 'thinking' }, 20000);
    expect(await expressionNow(fleet)).toBe('thinking');

    // With no broadcaster on air, the AI line is written and voiced, and waits: the face is not changed by its tag yet.
    broadcaster.kill('SIGTERM');
    await broadcaster.exited;
    const ready = await onEvent(fleet, (e) => e.type === 'speech-ready' && String(e.utteranceId).startsWith('ai-'), () =>
      fleet!.queues.enqueue('chat', chatEvent('Aiko, how are you today?', { platform: 'local', user: { login: 'ann' } })),
    );
    expect(await expressionNow(fleet)).toBe('thinking');

    // On air, its tag shows: from the frame its first sample airs in, kept as the channel's expression.
    let again = broadcaster;
    const aired = await onEvent(fleet, (e) => e.type === 'onair-start' && e.utteranceId === ready.utteranceId, async () => (again = fleet!.start(['broadcast'])));
    await again.waitForLog('avatar expression', { expression: 'happy', from: 'line on air' }, 20000);
    expect(await expressionNow(fleet)).toBe('happy');
    await liveViewPasses(liveDir, Number(aired.startAt));
    expect(await sparklePixels(liveDir)).toBeGreaterThan(neutral.sparkle + 100);
  }, 240000);

  it('config check names a missing layer or a layer of the wrong size (exit 2); a reload brings a fixed pack on, a broken one keeps the previous avatar, on the standby too', async () => {
    // A standby waits beside the active one throughout: a lease long enough that a loaded machine's late renewal is not a takeover.
    fleet = new TestFleet({ playout: { leaderLockMs: 5000 } });
    const pack = path.join(fleet.dir, 'pack');
    fs.cpSync(builtInPackDir(), pack, { recursive: true });
    fleet.configure({ channels: { main: { video: { avatar: { pack } } } } });
    const check = () => runCli(['config', 'check'], fleet!.env());
    expect((await check()).code).toBe(0);

    fs.renameSync(path.join(pack, 'tear.png'), path.join(fleet.dir, 'tear.png'));
    const missing = await check();
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain(`channels.main.video.avatar (pack ${pack}): layer "tear": file tear.png is missing`);
    fs.renameSync(path.join(fleet.dir, 'tear.png'), path.join(pack, 'tear.png'));
    fs.writeFileSync(path.join(pack, 'brows-sad.png'), PNG.sync.write(new PNG({ width: 100, height: 80 })));
    const wrongSize = await check();
    expect(wrongSize.code).toBe(2);
    expect(wrongSize.stderr).toContain('layer "brows-sad" (brows-sad.png) is 100x80, expected 480x600');

    // Started with that pack, both broadcasters go on without her and say why.
    const active = fleet.start(['broadcast']);
    await active.waitForLog('broadcaster ready', {}, 30000);
    const standby = fleet.start(['broadcast']);
    await standby.waitForLog('broadcaster warm: encoding, published nowhere yet', {}, 30000);
    for (const p of [active, standby]) expect(String((await p.waitForLog('avatar not shown: its pack cannot be used here')).err)).toContain('brows-sad');
    const liveDir = path.join(fleet.dir, 'live', 'main');
    await liveViewPasses(liveDir, Date.now(), 0);
    expect(await avatarPixels(liveDir)).toBe(0);
    const reload = async (n: number) => {
      const sent = await runCli(['avatar', 'reload'], fleet!.env());
      expect(sent.code).toBe(0);
      expect((JSON.parse(sent.stdout) as { subscribers: number }).subscribers).toBeGreaterThanOrEqual(2);
      for (const p of [active, standby]) await logged(p, /^avatar pack (not )?reloaded/, n);
      await liveViewPasses(liveDir, Date.now());
    };

    // Fixed and reloaded: she is on the picture.
    fs.copyFileSync(path.join(builtInPackDir(), 'brows-sad.png'), path.join(pack, 'brows-sad.png'));
    await reload(1);
    expect(await avatarPixels(liveDir)).toBeGreaterThan(480 * 600 * 0.3);
    const before = await tearPixels(liveDir);

    // A good change (the neutral face now has the tear): both broadcasters take it, the picture shows it.
    const manifest = JSON.parse(fs.readFileSync(path.join(pack, 'manifest.json'), 'utf8')) as { expressions: Record<string, { overlays?: string[] }> };
    manifest.expressions.neutral!.overlays = ['tear'];
    fs.writeFileSync(path.join(pack, 'manifest.json'), JSON.stringify(manifest));
    await reload(2);
    for (const p of [active, standby]) expect(p.lines.filter((l) => l.msg === 'avatar pack reloaded')).toHaveLength(2);
    expect(await tearPixels(liveDir)).toBeGreaterThan(before + 100);

    // A broken one (a layer gone): refused with the layer named; the previous avatar stays on the picture.
    fs.rmSync(path.join(pack, 'brows-neutral.png'));
    await reload(3);
    for (const p of [active, standby]) {
      const refused = await p.waitForLog('avatar pack not reloaded: keeping the previous avatar');
      expect(String(refused.err)).toContain('layer "brows-neutral": file brows-neutral.png is missing');
    }
    expect(await tearPixels(liveDir)).toBeGreaterThan(before + 100);
    expect([active.child.exitCode, standby.child.exitCode]).toEqual([null, null]);
  }, 180000);
});
