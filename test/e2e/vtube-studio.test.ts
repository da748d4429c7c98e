import { FakeVts } from '../../testkit/fake-vts';
import { TestFleet, eventually, runCli, type RunningProcess } from '../helpers/fleet';
import { chatEvent, testPipeline } from '../helpers/pipeline';

/**
 * A Live2D streamer's set-up: the built-in avatar off, VTube Studio on (a loopback VTS speaking
 * its API), the real broadcaster with real espeak-ng and ffmpeg.
 */
function vtsFleet(fake: FakeVts): TestFleet {
  return new TestFleet({
    channels: {
      main: {
        video: {
          width: 640,
          height: 360,
          fps: 15,
          avatar: { enabled: false, vtubeStudio: { enabled: true, url: fake.url, expressions: { happy: { hotkey: 'Smile' }, neutral: { hotkey: 'Clear' } }, reconnectBaseMs: 100, reconnectCapMs: 400 } },
        },
      },
    },
  });
}

const MOD = { login: 'mod', displayName: 'Mod', roles: ['moderator' as const] };

describe('VTube Studio driven by the broadcaster (a loopback VTS; real broadcaster, espeak-ng, ffmpeg)', () => {
  let fleet: TestFleet | undefined;
  let fake: FakeVts;
  afterEach(async () => {
    await fleet?.close();
    await fake?.close();
  });

  async function start(): Promise<{ fleet: TestFleet; broadcaster: RunningProcess }> {
    fake = new FakeVts();
    await fake.ready;
    fleet = vtsFleet(fake);
    const procs = [fleet.start(['worker', 'tts']), fleet.start(['worker', 'audio']), fleet.start(['broadcast'])];
    await Promise.all([procs[0]!.waitForLog('worker ready'), procs[1]!.waitForLog('worker ready'), procs[2]!.waitForLog('broadcaster ready', {}, 30000)]);
    await procs[2]!.waitForLog('VTube Studio connected', {}, 20000);
    return { fleet, broadcaster: procs[2]! };
  }

  it('the mouth parameter follows the speech on air: closed before the line, open while it plays, closed after; the token is in no log', async () => {
    const { fleet, broadcaster } = await start();
    const since = fake.injected.length;
    const said = await runCli(['say', '--wait', 'Hello everyone, this is the idol speaking, and my model in VTube Studio moves its mouth with me.'], fleet.env(), 60000);
    expect(said.code).toBe(0);
    const aired = JSON.parse(said.stdout) as { startAt: number; endAt: number };
    // On-air times are on the live view's clock; the model moves on the playout's (when the encoder takes the samples).
    const clock = broadcaster.lines.filter((l) => l.msg === 'live view clock measured').at(-1)!;
    const [startAt, endAt] = [aired.startAt, aired.endAt].map((t) => t - Number(clock.streamOffsetMs)) as [number, number];
    // A second of values after the line (30 a second): enough for the release to close the mouth and keep it closed.
    await eventually(async () => (fake.injected.filter((v) => v.at > endAt).length >= 30 ? true : undefined), 'mouth values after the line', 20000);
    const values = fake.injected.slice(since);

    // Nothing due on air before the line's first sample: a value sent before it cannot open the mouth.
    const before = values.filter((v) => v.at < startAt);
    expect(before.length).toBeGreaterThan(0);
    expect(before.every((v) => v.value === 0)).toBe(true);
    // While the line plays the mouth moves: open in most values (words have gaps), wide open at times.
    const during = values.filter((v) => v.at >= startAt && v.at <= endAt);
    expect(during.length).toBeGreaterThan(30);
    expect(during.filter((v) => v.value > 0.1).length).toBeGreaterThan(during.length / 2);
    expect(Math.max(...during.map((v) => v.value))).toBeGreaterThan(0.6);
    // After it: closed, and it stays closed (still sent: VTS lets go of a parameter not re-sent within a second).
    expect(values.filter((v) => v.at > endAt).slice(-20).every((v) => v.value === 0)).toBe(true);
    expect(values.every((v) => v.id === 'MouthOpen')).toBe(true);

    // The operator sees the session in `idolcast status`.
    await eventually(async () => ((await runCli(['status'], fleet.env())).stdout.match(/VTube Studio\s+connected/) ? true : undefined), 'VTube Studio in the status', 20000, 500);

    const token = (await fleet.redis.get(fleet.keys.vtsToken('main')))!;
    expect(fake.tokens.has(token)).toBe(true);
    expect(JSON.stringify(broadcaster.lines) + broadcaster.stderr.join('\n')).not.toContain(token);

    // SIGTERM: the broadcaster closes its VTS session with everything else and exits cleanly.
    broadcaster.kill('SIGTERM');
    expect((await broadcaster.exited).code).toBe(0);
    await eventually(async () => (fake.sessions === 0 ? true : undefined), 'the VTS session to close');
  }, 180000);

  it('!emote happy shows the model’s smile; only the active broadcaster drives VTS; a takeover re-applies it with the stored token', async () => {
    const { fleet, broadcaster } = await start();
    const { pipeline } = testPipeline(fleet);
    // The built-in avatar is off: !emote offers what VTS shows.
    expect(await pipeline.accept(chatEvent('!emote happy', { user: MOD }))).toEqual({ decision: 'command', reason: 'emote' });
    await eventually(async () => (fake.active.includes('Smile.exp3.json') ? true : undefined), 'the smile in VTS');

    // A warm standby encodes but leaves VTS alone.
    const standby = fleet.start(['broadcast']);
    await standby.waitForLog('broadcaster warm: encoding, published nowhere yet', {}, 30000);
    expect(fake.sessions).toBe(1);
    expect(standby.lines.filter((l) => l.msg === 'VTube Studio connected')).toHaveLength(0);

    // The active one dies and VTS is restarted meanwhile (its expressions reset): the new leader shows the smile again.
    broadcaster.kill('SIGKILL');
    fake.dropAll({ restart: true });
    await standby.waitForLog('broadcaster active', {}, 20000);
    await standby.waitForLog('VTube Studio connected', {}, 20000);
    await eventually(async () => (fake.active.includes('Smile.exp3.json') ? true : undefined), 'the smile re-applied');
    expect(fake.of('AuthenticationTokenRequest')).toHaveLength(1);

    // Back to neutral: the neutral hotkey (Remove All Expressions) clears it.
    await pipeline.accept(chatEvent('!emote neutral', { user: MOD }));
    await eventually(async () => (fake.triggered.some((t) => t.name === 'Clear') && fake.active.length === 0 ? true : undefined), 'neutral in VTS');
  }, 180000);
});
