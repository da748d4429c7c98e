import { PcmRing } from '../../src/avatar/pcm-ring';
import { VtubeStudioDriver } from '../../src/avatar/vtube-studio';
import { setEmote, currentEmote } from '../../src/channel-state';
import { vtubeStudioSchema } from '../../src/config/vtubestudio.schema';
import { createLogger } from '../../src/logger';
import { FakeVts } from '../../testkit/fake-vts';
import { TestFleet, eventually } from '../helpers/fleet';

const RATE = 24000;

/** Log lines of one driver, as JSON objects, and the raw text (to look for the token in). */
class Lines {
  readonly parsed: Record<string, unknown>[] = [];
  raw = '';
  private readonly waiters: { msg: string; n: number; resolve: () => void }[] = [];
  write(line: string): void {
    this.raw += line;
    this.parsed.push(JSON.parse(line) as Record<string, unknown>);
    for (const w of [...this.waiters]) {
      if (this.count(w.msg) < w.n) continue;
      this.waiters.splice(this.waiters.indexOf(w), 1);
      w.resolve();
    }
  }
  count(msg: string): number {
    return this.parsed.filter((l) => l.msg === msg).length;
  }
  /** Resolves once `msg` has been logged `n` times. */
  wait(msg: string, n = 1): Promise<void> {
    if (this.count(msg) >= n) return Promise.resolve();
    return new Promise((resolve) => this.waiters.push({ msg, n, resolve }));
  }
}

/** `seconds` of a loud vowel-like tone, 16-bit mono PCM. */
function tone(seconds: number): Buffer {
  const pcm = Buffer.alloc(Math.round(RATE * seconds) * 2);
  for (let i = 0; i < pcm.length / 2; i++) pcm.writeInt16LE(Math.round(8000 * Math.sin((2 * Math.PI * 220 * i) / RATE)), i * 2);
  return pcm;
}

const EXPRESSIONS = { happy: { hotkey: 'smile' }, sad: { expression: 'Sad.exp3.json' }, surprised: { hotkey: 'Wave' }, angry: { hotkey: 'Nowhere' } };

describe('VTube Studio driver (a loopback VTS over a real WebSocket, real Redis)', () => {
  let fleet: TestFleet;
  let fake: FakeVts;
  const drivers: VtubeStudioDriver[] = [];
  beforeEach(async () => {
    fleet = new TestFleet();
    fake = new FakeVts();
    await fake.ready;
  });
  afterEach(async () => {
    await Promise.all(drivers.splice(0).map((d) => d.stop()));
    await fake.close();
    await fleet.close();
  });

  function driver(cfg: Record<string, unknown> = {}, speech = new PcmRing(RATE)): { vts: VtubeStudioDriver; log: Lines } {
    const log = new Lines();
    const vts = new VtubeStudioDriver({
      cfg: vtubeStudioSchema.parse({ enabled: true, url: fake.url, expressions: EXPRESSIONS, reconnectBaseMs: 50, reconnectCapMs: 200, requestTimeoutMs: 1000, ...cfg }),
      redis: fleet.redis,
      tokenKey: fleet.keys.vtsToken('main'),
      log: createLogger('vts-test', 'debug', log),
      desired: () => currentEmote({ redis: fleet.redis, keys: fleet.keys }, 'main'),
      speech,
      sampleRate: RATE,
    });
    drivers.push(vts);
    vts.start();
    return { vts, log };
  }

  it('asks for a token once, keeps it in Redis, and the next connection authenticates with it (no second popup); the token is in no log line', async () => {
    const first = driver();
    await first.log.wait('VTube Studio connected');
    expect(fake.of('AuthenticationTokenRequest')).toHaveLength(1);
    expect(fake.of('AuthenticationTokenRequest')[0]!.data).toEqual({ pluginName: 'idolcast', pluginDeveloper: 'idolcast' });
    const token = await fleet.redis.get(fleet.keys.vtsToken('main'));
    expect(token && fake.tokens.has(token)).toBe(true);
    await first.vts.stop();

    // A restarted (or taking-over) broadcaster: the stored token, no new request.
    const second = driver();
    await second.log.wait('VTube Studio connected');
    expect(fake.of('AuthenticationTokenRequest')).toHaveLength(1);
    expect(fake.of('AuthenticationRequest').at(-1)!.data).toEqual({ pluginName: 'idolcast', pluginDeveloper: 'idolcast', authenticationToken: token });
    expect(fake.sessions).toBe(1);
    // The mouth parameter is held: values keep coming (silence: 0) with the configured mode and faceFound.
    await eventually(async () => (fake.injected.length >= 5 ? true : undefined), 'mouth values');
    expect(fake.injected.slice(0, 5)).toEqual(Array(5).fill(expect.objectContaining({ id: 'MouthOpen', value: 0, mode: 'set', faceFound: true })));
    expect(first.log.raw + second.log.raw).not.toContain(token);
  });

  it('expressions: a hotkey that toggles an expression is set as its file, an expression file directly, other hotkeys are triggered; a missing hotkey is named', async () => {
    const { vts, log } = driver();
    await log.wait('VTube Studio expression');
    expect(log.parsed.find((l) => l.msg === 'VTube Studio: the model lacks what vtubeStudio.expressions names (those expressions show nothing)')?.problems).toEqual(['angry: the model has no hotkey "Nowhere"']);

    await vts.setExpression('happy', 60_000);
    expect(fake.active).toEqual(['Smile.exp3.json']);
    await vts.setExpression('happy', 60_000); // set again: still on (a toggle hotkey would have turned it off)
    expect(fake.active).toEqual(['Smile.exp3.json']);
    await vts.setExpression('sad', 60_000);
    expect(fake.active).toEqual(['Sad.exp3.json']);
    await vts.setExpression('surprised', 60_000);
    expect(fake.triggered.map((t) => t.name)).toEqual(['Wave']);
    expect(fake.active).toEqual([]);
    // Its hold over, the model shows its own face again.
    await vts.setExpression('sad', 50);
    await log.wait('VTube Studio expression', 7);
    expect(log.parsed.filter((l) => l.msg === 'VTube Studio expression').at(-1)).toMatchObject({ expression: 'neutral', problems: [] });
    expect(fake.active).toEqual([]);
  });

  it('a dropped connection (VTS restarted) is made again with backoff, the stored token, and the channel’s expression re-applied', async () => {
    await setEmote({ redis: fleet.redis, keys: fleet.keys }, 'main', 'happy', 60_000);
    const { log } = driver();
    await log.wait('VTube Studio expression');
    expect(fake.active).toEqual(['Smile.exp3.json']);

    fake.dropAll({ restart: true });
    expect(fake.active).toEqual([]);
    await log.wait('VTube Studio connection lost: reconnecting');
    await log.wait('VTube Studio expression', 2);
    expect(fake.active).toEqual(['Smile.exp3.json']);
    expect(fake.of('AuthenticationTokenRequest')).toHaveLength(1);
    // Re-applying shows the state; it does not replay one-shot hotkeys.
    expect(fake.triggered).toEqual([]);
  });

  it('a denied plugin is said once, clearly, asked again slowly, and connects once the user allows it', async () => {
    fake.mode = 'deny';
    const { log } = driver({ deniedRetryMs: 300 });
    const denied = 'VTube Studio: the plugin was denied; allow it in VTS (a popup asks again later) or turn vtubeStudio off';
    await log.wait(denied);
    await fake.waitFor((r) => r.type === 'AuthenticationTokenRequest', 15000, fake.requests.findIndex((r) => r.type === 'AuthenticationTokenRequest') + 1);
    expect(log.count(denied)).toBe(1);
    expect(await fleet.redis.get(fleet.keys.vtsToken('main'))).toBeNull();

    fake.mode = 'normal';
    await log.wait('VTube Studio connected');
    expect(await fleet.redis.get(fleet.keys.vtsToken('main'))).not.toBeNull();
  });

  it('the plugin revoked in VTS mid-stream: the session is made again and the token VTS no longer accepts is replaced by a new one', async () => {
    const { log } = driver();
    await log.wait('VTube Studio connected');
    const old = await fleet.redis.get(fleet.keys.vtsToken('main'));
    fake.revokeAll();
    await log.wait('VTube Studio no longer accepts this session: reconnecting');
    await log.wait('VTube Studio connected', 2);
    expect(log.count('VTube Studio no longer accepts the stored token: asking for a new one')).toBe(1);
    const fresh = await fleet.redis.get(fleet.keys.vtsToken('main'));
    expect(fresh).not.toBe(old);
    expect(fake.tokens.has(fresh!)).toBe(true);
    expect(log.raw).not.toContain(old);
    expect(log.raw).not.toContain(fresh);
  });

  it('garbage answers and a VTS that never answers: the connection is dropped and made again; the driver stops promptly', async () => {
    fake.mode = 'garbage';
    const { vts, log } = driver({ requestTimeoutMs: 300, approvalWaitMs: 300 });
    await log.wait('cannot reach VTube Studio: retrying');
    expect(log.parsed.find((l) => l.msg === 'cannot reach VTube Studio: retrying')?.err).toMatch(/no answer from VTube Studio within 300 ms/);
    fake.mode = 'silent';
    const before = fake.connections;
    await eventually(async () => (fake.connections >= before + 2 ? true : undefined), 'reconnect attempts');
    fake.mode = 'normal';
    await log.wait('VTube Studio connected');
    await vts.stop();
    await eventually(async () => (fake.sessions === 0 ? true : undefined), 'the session to close');
  });

  it('the mouth follows the speech due on air: open while it plays, closed again in silence', async () => {
    const speech = new PcmRing(RATE);
    const { log } = driver({ injectPerSecond: 50 }, speech);
    await log.wait('VTube Studio connected');
    // Half a second of a loud vowel-like tone, due 200 ms from now, then nothing.
    const startAt = Date.now() + 200;
    speech.push(tone(0.5), startAt);
    const endAt = startAt + 500;
    const after = fake.injected.length;
    await eventually(async () => (fake.injected.filter((v) => v.at > endAt).length >= 25 ? true : undefined), 'values after the speech', 10000);
    const values = fake.injected.slice(after);
    // Before its first sample is due, nothing opens the mouth.
    expect(values.filter((v) => v.at < startAt).every((v) => v.value === 0)).toBe(true);
    const during = values.filter((v) => v.at > startAt && v.at <= endAt);
    expect(during.filter((v) => v.value > 0.5).length).toBeGreaterThan(during.length / 2);
    // After it: the release closes the mouth within a few values, and it stays closed.
    expect(values.filter((v) => v.at > endAt).slice(-15).every((v) => v.value === 0)).toBe(true);
  });

  it('mouthOffsetMs moves the mouth later than the encoder takes the speech (a sound viewers hear late)', async () => {
    const speech = new PcmRing(RATE);
    const { log } = driver({ injectPerSecond: 50, mouthOffsetMs: 400 }, speech);
    await log.wait('VTube Studio connected');
    const startAt = Date.now() + 100;
    speech.push(tone(0.5), startAt);
    const after = fake.injected.length;
    await fake.waitFor((r) => r.type === 'InjectParameterDataRequest' && (r.data.parameterValues as { value: number }[])[0]!.value > 0.5);
    const values = fake.injected.slice(after);
    expect(values.filter((v) => v.at < startAt + 400).every((v) => v.value === 0)).toBe(true);
  });
});
