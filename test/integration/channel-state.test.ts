import { clearedAt, currentEmote, currentVoice, currentVoices, markCleared, setEmote, setVoice } from '../../src/channel-state';
import { TestFleet, eventually } from '../helpers/fleet';
import { duplicate } from '../../src/redis';

describe('channel state', () => {
  let fleet: TestFleet;
  beforeEach(() => {
    fleet = new TestFleet({ channels: { main: {}, second: {} }, voices: { default: { engine: 'espeak-ng' }, whisper: { engine: 'espeak-ng', voice: 'en-us+whisper' } } });
  });
  afterEach(() => fleet.close());

  it('the voice !voice set is the channel’s voice for every line that names none; other channels keep the default', async () => {
    const deps = { redis: fleet.redis, keys: fleet.keys, config: fleet.config };
    expect(await currentVoice(deps, 'main')).toBe('default');
    await setVoice(deps, 'main', 'whisper');
    expect(await currentVoice(deps, 'main')).toBe('whisper');
    expect(await currentVoices(deps, ['second', 'main', 'main'])).toEqual(new Map([['second', 'default'], ['main', 'whisper']]));
  });

  it('a voice set before the config dropped it falls back to the default voice, never to a name the engines do not know', async () => {
    const deps = { redis: fleet.redis, keys: fleet.keys, config: fleet.config };
    await setVoice(deps, 'main', 'whisper');
    const reloaded = { ...fleet.config, voices: { default: fleet.config.voices.default! } };
    expect(await currentVoice({ ...deps, config: reloaded }, 'main')).toBe('default');
    expect((await currentVoices({ ...deps, config: reloaded }, ['main'])).get('main')).toBe('default');
  });

  it('the cleared mark is per channel, and 0 until a channel is first cleared', async () => {
    const deps = { redis: fleet.redis, keys: fleet.keys };
    // Distinct clock readings: a read is cached briefly, so each read here names its own moment.
    expect(await clearedAt(deps, 'main', 1)).toBe(0);
    await markCleared(deps, 'main', 5000);
    expect(await clearedAt(deps, 'main', 10_000)).toBe(5000);
    expect(await clearedAt(deps, 'second', 10_000)).toBe(0);
  });

  it('an expression set by !emote reaches the broadcaster, is there for one starting later, and is gone when its hold ends', async () => {
    const deps = { redis: fleet.redis, keys: fleet.keys };
    const sub = duplicate(fleet.redis);
    const got: unknown[] = [];
    sub.on('message', (_c: string, m: string) => got.push(JSON.parse(m)));
    await sub.subscribe(fleet.keys.control('main'));
    try {
      await setEmote(deps, 'main', 'happy', 60_000, 'mod');
      const now = await currentEmote(deps, 'main');
      expect(now?.expression).toBe('happy');
      expect(now!.holdMs).toBeLessThanOrEqual(60_000);
      expect(await currentEmote(deps, 'second')).toBeUndefined();
      expect(await eventually(async () => got[0], 'the control message')).toEqual({ action: 'emote', expression: 'happy', holdMs: 60_000, by: 'mod' });
      await setEmote(deps, 'main', 'sad', 50);
      await eventually(async () => ((await currentEmote(deps, 'main')) === undefined ? true : undefined), 'back to neutral');
    } finally {
      await sub.quit();
    }
  });
});
