import fs from 'node:fs';
import { sceneQueue } from '../../queues/scene.queue';
import { ConfigError, DEFAULT_CONFIG_PATH, parseConfig } from '../../src/config/load';
import { parseState, stateFields } from '../../src/scene/state';
import { obsAuth } from '../../testkit/fake-obs';

describe('scene config, jobs and state', () => {
  it('OBS is off by default and the overlay has a complete theme', () => {
    const c = parseConfig(fs.readFileSync(DEFAULT_CONFIG_PATH, 'utf8'), DEFAULT_CONFIG_PATH);
    expect(c.obs).toMatchObject({ enabled: false, url: 'ws://127.0.0.1:4455', password: '', minSceneDwellMs: 3000, authRetryMs: 60000 });
    expect(c.overlay).toMatchObject({ captionPosition: 'bottom', bannerPosition: 'top-right', showSceneName: true, bannerMs: 4000 });
  });

  it('OBS_URL and OBS_PASSWORD come from the environment; bad settings are named', () => {
    const c = parseConfig('obs: { enabled: true }', 'x.yaml', { OBS_URL: 'ws://127.0.0.1:4460', OBS_PASSWORD: 'pw' });
    expect(c.obs.url).toBe('ws://127.0.0.1:4460');
    expect(c.obs.password).toBe('pw');
    expect(() => parseConfig('obs: { url: "http://x", channel: nope }\noverlay: { textColour: red, bannerPosition: middle }', 'x.yaml')).toThrow(ConfigError);
    const err = (() => {
      try {
        parseConfig('obs: { url: "http://x" }\noverlay: { textColour: red, font: "x; } body { display: none" }', 'x.yaml');
      } catch (e) {
        return e as ConfigError;
      }
    })();
    const problems = err?.problems.join('\n') ?? '';
    expect(problems).toMatch(/obs\.url/);
    expect(problems).toMatch(/overlay\.textColour/);
    expect(problems).toMatch(/overlay\.font/);
    expect(() => parseConfig('obs: { channel: nope }', 'x.yaml')).toThrow(/obs\.channel: no channel named "nope"/);
  });

  it('scene jobs carry texts, media, filters and streaming; an empty job is refused', () => {
    const ok = sceneQueue.schema.safeParse({ channel: 'main', texts: { Title: 'Hi' }, media: ['Intro'], filters: [{ source: 'Cam', filter: 'Blur', enabled: true }], streaming: false });
    expect(ok.success).toBe(true);
    expect(sceneQueue.schema.safeParse({ channel: 'main' }).success).toBe(false);
    expect(sceneQueue.schema.safeParse({ channel: 'main', filters: [{ source: 'Cam', filter: 'Blur' }] }).success).toBe(false);
  });

  it('a scene job may set the avatar\'s expression alone; a name that is not one is refused by the schema', () => {
    expect(sceneQueue.schema.safeParse({ channel: 'main', avatar: { expression: 'sad' } }).success).toBe(true);
    expect(sceneQueue.schema.safeParse({ channel: 'main', scene: 'Live', avatar: { expression: 'happy', holdMs: 5000 } }).success).toBe(true);
    expect(sceneQueue.schema.safeParse({ channel: 'main', avatar: { expression: '../x' } }).success).toBe(false);
    expect(sceneQueue.schema.safeParse({ channel: 'main', avatar: { expression: 'sad', mood: 1 } }).success).toBe(false);
  });

  it('desired state round-trips through its Redis hash fields', () => {
    const fields = stateFields({ channel: 'main', scene: 'Live', sources: { Chat: false, 'Cam.2': true }, texts: { Title: 'a.b' }, filters: [{ source: 'Cam.2', filter: 'Glow.x', enabled: true }], streaming: true, media: ['Intro'] });
    expect(fields).toMatchObject({ scene: 'Live', 'source.Chat': '0', 'source.Cam.2': '1', 'text.Title': 'a.b', streaming: '1' });
    expect(parseState({ ...fields, updatedAt: '1' })).toEqual({
      scene: 'Live', sources: { Chat: false, 'Cam.2': true }, texts: { Title: 'a.b' }, filters: [{ source: 'Cam.2', filter: 'Glow.x', enabled: true }], streaming: true,
    });
  });

  it("the loopback OBS checks authentication the protocol's way", () => {
    // The example of the obs-websocket v5 protocol document.
    expect(obsAuth('supersecretpassword', 'lM1GncleQOaCu9lT1yeUZhFYnqhsLLP1G5lAGo3ixaI=', '+IxH4CnCiqpX1rM9scsNynZzbOe4KhDeYcTNS3PDaeY=')).toBe('1Ct943GAT+6YQUUX47Ia/ncufilbe6+oD6lY+5kaCu4=');
  });
});
