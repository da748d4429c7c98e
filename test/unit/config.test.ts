import fs from 'node:fs';
import { ConfigError, DEFAULT_CONFIG_PATH, forgetStreamKeys, parseConfig } from '../../src/config/load';

describe('configuration', () => {
  it('the built-in default is valid and needs no accounts or keys', () => {
    const c = parseConfig(fs.readFileSync(DEFAULT_CONFIG_PATH, 'utf8'), DEFAULT_CONFIG_PATH);
    expect(c.redis.url).toBe('');
    expect(c.control.host).toBe('127.0.0.1');
    expect(c.control.port).toBe(8080);
    expect(c.voices[c.defaultVoice]?.engine).toBe('espeak-ng');
    expect(Object.keys(c.channels)).toEqual(['main']);
    // A reply job holds its slot while it waits on the model and its lines being voiced: one
    // reply worker answers 16 at once (4 queued new questions behind waiting replies at 5/s).
    expect(c.workers.concurrency).toMatchObject({ reply: 16, tts: 4, audio: 4 });
  });

  it('environment variables override addresses and secrets', () => {
    const c = parseConfig('control: { port: 9000 }', 'x.yaml', { PORT: '9100', REDIS_URL: 'redis://10.0.0.5:6379', ADMIN_TOKEN: 's3cret', HOST: '0.0.0.0' });
    expect(c.control.port).toBe(9100);
    expect(c.control.host).toBe('0.0.0.0');
    expect(c.control.adminToken).toBe('s3cret');
    expect(c.redis.url).toBe('redis://10.0.0.5:6379');
  });

  it('stream keys and the fault-injection switch are read once, at load; the broadcaster then takes the keys out of its environment', () => {
    const yaml = 'channels: { main: { destinations: { a: { url: "rtmp://127.0.0.1/live", keyEnv: KEY_A }, b: { url: "rtmp://127.0.0.1/live", keyEnv: KEY_B } } } }';
    const env: NodeJS.ProcessEnv = { KEY_A: 'live_secret_a', IDOLCAST_FAULT_INJECTION: '1', OTHER: 'kept' };
    const c = parseConfig(yaml, 'x.yaml', env);
    // KEY_B is not set: that destination pushes without a key (and the broadcaster says so).
    expect(c.resolved).toEqual({ faultInjection: true, streamKeys: { KEY_A: 'live_secret_a' } });
    expect(parseConfig(yaml, 'x.yaml', { IDOLCAST_FAULT_INJECTION: 'yes' }).resolved?.faultInjection).toBe(false);
    forgetStreamKeys(c, env);
    expect(env).toEqual({ IDOLCAST_FAULT_INJECTION: '1', OTHER: 'kept' });
    expect(c.resolved?.streamKeys.KEY_A).toBe('live_secret_a');
  });

  it('names every bad field by its path and says why', () => {
    const bad = `
channels:
  main:
    video: { fps: "fast" }
voices:
  default: { engine: espeak-ng, speed: 9000 }
control: { prot: 1 }
`;
    let err: unknown;
    try {
      parseConfig(bad, 'bad.yaml');
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ConfigError);
    const problems = (err as ConfigError).problems.join('\n');
    expect(problems).toMatch(/channels\.main\.video\.fps: .*number/);
    expect(problems).toMatch(/voices\.default\.speed: .*9000|voices\.default\.speed: .*450/);
    expect(problems).toMatch(/control: .*prot/);
  });

  it('model and moderation keys and addresses reach the ai config from the environment, and are never needed in the file', () => {
    const yaml = 'ai: { engines: { cloud: { kind: openai }, claude: { kind: anthropic }, canned: { kind: canned } }, personas: { idol: { chain: [cloud, claude, canned] } } }';
    const ai = parseConfig(yaml, 'x.yaml', { OPENAI_API_KEY: 'sk-o', OPENAI_BASE_URL: 'http://127.0.0.1:11434/v1', ANTHROPIC_API_KEY: 'sk-a', ANTHROPIC_BASE_URL: 'http://127.0.0.1:9/a', MODERATION_BASE_URL: 'http://127.0.0.1:9/m' }).ai;
    expect(ai.engines.cloud).toMatchObject({ apiKey: 'sk-o', baseUrl: 'http://127.0.0.1:11434/v1' });
    expect(ai.engines.claude).toMatchObject({ apiKey: 'sk-a', baseUrl: 'http://127.0.0.1:9/a' });
    expect(ai.safety).toMatchObject({ apiKey: 'sk-o', baseUrl: 'http://127.0.0.1:9/m' });
  });

  it('a persona voice that is not in voices is named by its path', () => {
    expect(() => parseConfig('ai: { personas: { idol: { voice: nobody } } }', 'x.yaml')).toThrow(/ai\.personas\.idol\.voice: no voice named "nobody"/);
    expect(parseConfig('ai: { personas: { idol: { voice: default } } }', 'x.yaml').ai.personas.idol!.voice).toBe('default');
  });

  it('rejects a default voice or channel that does not exist', () => {
    expect(() => parseConfig('defaultVoice: nobody', 'x.yaml')).toThrow(/defaultVoice: no voice named "nobody"/);
    expect(() => parseConfig('defaultChannel: other', 'x.yaml')).toThrow(/defaultChannel: no channel named "other"/);
  });

  it('reports YAML syntax errors and a non-mapping file', () => {
    expect(() => parseConfig('redis: [', 'x.yaml')).toThrow(/not valid YAML/);
    expect(() => parseConfig('- a\n- b', 'x.yaml')).toThrow(/expected a mapping/);
  });

  it('an empty file means all defaults', () => {
    const c = parseConfig('', 'empty.yaml');
    expect(c.defaultVoice).toBe('default');
    expect(c.playout.sampleRate).toBe(24000);
  });
});

describe('chat source settings', () => {
  it('an enabled source without what it needs is named by path', () => {
    expect(() => parseConfig('chat: { twitch: { enabled: true } }', 'x.yaml')).toThrow(/chat\.twitch\.channels: twitch is enabled/);
    expect(() => parseConfig('chat: { twitch: { enabled: true, channels: [a], username: bot } }', 'x.yaml')).toThrow(/chat\.twitch\.oauthToken: username and OAuth token/);
    expect(() => parseConfig('chat: { youtube: { enabled: true, videoId: v } }', 'x.yaml')).toThrow(/chat\.youtube\.apiKey/);
    expect(() => parseConfig('chat: { tiktok: { enabled: true } }', 'x.yaml')).toThrow(/chat\.tiktok\.uniqueId/);
    expect(() => parseConfig('chat: { twitch: { channel: nowhere } }', 'x.yaml')).toThrow(/chat\.twitch\.channel: no channel named "nowhere"/);
  });
  it('secrets for sources come from the environment', () => {
    const c = parseConfig('chat: { youtube: { enabled: true, videoId: v }, twitch: { enabled: true, channels: [a], username: bot } }', 'x.yaml', { YOUTUBE_API_KEY: 'k', TWITCH_OAUTH_TOKEN: 'oauth:t', TWITCH_IRC_URL: 'ws://127.0.0.1:1' });
    expect(c.chat.youtube.apiKey).toBe('k');
    expect(c.chat.twitch).toMatchObject({ oauthToken: 'oauth:t', server: 'ws://127.0.0.1:1' });
  });

  it('VTube Studio: off by default at its usual address; a bad mapping or a mouth earlier than the playout lead is named by path', () => {
    expect(parseConfig('', 'x.yaml').channels.main!.video.avatar.vtubeStudio).toMatchObject({ enabled: false, url: 'ws://127.0.0.1:8001', mouthParameter: 'MouthOpen', injectPerSecond: 30, expressions: {} });
    const vts = (v: string) => `channels: { main: { video: { avatar: { vtubeStudio: ${v} } } } }`;
    expect(parseConfig(vts('{ enabled: true, expressions: { happy: { hotkey: Smile }, sad: { expression: Sad.exp3.json } } }'), 'x.yaml').channels.main!.video.avatar.vtubeStudio.expressions).toEqual({ happy: { hotkey: 'Smile' }, sad: { expression: 'Sad.exp3.json' } });
    expect(() => parseConfig(vts('{ expressions: { sad: { expression: ../sad.json } } }'), 'x.yaml')).toThrow(/channels\.main\.video\.avatar\.vtubeStudio\.expressions\.sad/);
    expect(() => parseConfig(vts('{ injectPerSecond: 1 }'), 'x.yaml')).toThrow(/vtubeStudio\.injectPerSecond/);
    expect(() => parseConfig(vts('{ mouthOffsetMs: -400 }'), 'x.yaml')).toThrow(/vtubeStudio\.mouthOffsetMs: at most playout\.leadMs \(250 ms\) early/);
  });
});
