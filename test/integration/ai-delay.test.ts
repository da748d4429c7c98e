import http from 'node:http';
import { delayDepth, dumpAi } from '../../src/ai/delay';
import { REPLY_GAP_MAX_MS, ReplyOnAir, replyLineId, replyNote } from '../../src/ai/reply-air';
import { AiSwitch } from '../../src/ai/switch';
import { VoicedWatch } from '../../src/ai/voiced-watch';
import { createLogger } from '../../src/logger';
import { freeLoopbackPort } from '../../src/ports';
import { SpeechStore } from '../../src/speech-store';
import { handle as audioHandle } from '../../workers/audio.worker';
import { audioWorkerDeps, voicedLine } from '../helpers/ai-fleet';
import { TestFleet, runCli } from '../helpers/fleet';

const log = createLogger('ai-delay-test', 'silent');

const playoutState = (fleet: TestFleet, id: string) => fleet.queues.queue('playout', 'main').getJobState(id);

describe('the broadcast delay at the audio worker (real Redis)', () => {
  let fleet: TestFleet;
  afterEach(async () => fleet?.close());

  it('an AI line waits as a delayed playout job (its due kept on a retry); a line of any other origin does not wait', async () => {
    fleet = new TestFleet({ ai: { safety: { delayMs: 60_000 } } });
    const deps = audioWorkerDeps(fleet);
    const ai = await voicedLine(fleet, 'ai-s1-0', 'ai');
    expect(await audioHandle(ai, deps)).toMatchObject({ heldMs: 60_000 });
    expect(await playoutState(fleet, 'ai-s1-0')).toBe('delayed');
    expect(await delayDepth(fleet.redis, fleet.prefix, 'main')).toBe(1);
    // The audio job retried (its playout copy is there): the line keeps its first due time.
    const again = (await audioHandle(ai, deps)) as { heldMs: number };
    expect(again.heldMs).toBeLessThanOrEqual(60_000);
    expect(await delayDepth(fleet.redis, fleet.prefix, 'main')).toBe(1);

    const say = await voicedLine(fleet, 'say-1', 'twitch');
    expect(await audioHandle(say, deps)).not.toHaveProperty('heldMs');
    expect(await playoutState(fleet, 'say-1')).toBe('prioritized');
    expect(await delayDepth(fleet.redis, fleet.prefix, 'main')).toBe(1);
  });

  it('delayMs 0: an AI line goes to the playout at once; a full delay drops the next AI line (counted) instead of airing it', async () => {
    fleet = new TestFleet({ ai: { safety: { delayMs: 0 } } });
    expect(await audioHandle(await voicedLine(fleet, 'ai-s2-0', 'ai'), audioWorkerDeps(fleet))).not.toHaveProperty('heldMs');
    expect(await playoutState(fleet, 'ai-s2-0')).toBe('prioritized');
    expect(await delayDepth(fleet.redis, fleet.prefix, 'main')).toBe(0);

    fleet.configure({ ai: { safety: { delayMs: 60_000, delayMaxLines: 2 } } });
    const deps = audioWorkerDeps(fleet);
    for (const id of ['ai-s3-0', 'ai-s3-1']) expect(await audioHandle(await voicedLine(fleet, id, 'ai'), deps)).toHaveProperty('heldMs');
    expect(await audioHandle(await voicedLine(fleet, 'ai-s3-2', 'ai'), deps)).toEqual({ dropped: 'delay full' });
    expect(await playoutState(fleet, 'ai-s3-2')).toBe('unknown');
    expect((await deps.metrics.speechDropped.get()).values).toEqual([expect.objectContaining({ labels: { stage: 'audio', reason: 'delay full' }, value: 1 })]);
    expect(await delayDepth(fleet.redis, fleet.prefix, 'main')).toBe(2);
  });
});

type Answer = { status: number; body: string };
function request(port: number, path: string, opts: { method?: string; headers?: Record<string, string>; body?: string } = {}): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, path, method: opts.method ?? 'GET', headers: opts.headers, agent: false }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => (body += d));
      res.on('end', () => resolve({ status: res.statusCode!, body }));
    });
    req.on('error', reject);
    req.end(opts.body);
  });
}

describe('dump and kill switch from the control server and the CLI (real processes, real Redis)', () => {
  let fleet: TestFleet;
  afterEach(async () => fleet?.close());

  it('POST /api/dump from another site is refused and dumps nothing; from our page it takes the held lines back; POST /api/ai switches AI', async () => {
    fleet = new TestFleet({ ai: { safety: { delayMs: 60_000 } } });
    const port = await freeLoopbackPort();
    const control = fleet.start(['control'], { PORT: String(port) });
    await control.waitForLog('control server listening');
    await audioHandle(await voicedLine(fleet, 'ai-s4-0', 'ai'), audioWorkerDeps(fleet));
    const json = { 'content-type': 'application/json' };
    const own = { ...json, origin: `http://127.0.0.1:${port}`, 'sec-fetch-site': 'same-origin' };

    for (const headers of [{ ...json, origin: 'http://evil.example' }, { ...json, 'sec-fetch-site': 'cross-site' }]) {
      const res = await request(port, '/api/dump', { method: 'POST', headers, body: '{}' });
      expect(res.status).toBe(403);
    }
    expect(await fleet.redis.get(fleet.keys.dumpedAt('main'))).toBeNull();
    expect(await playoutState(fleet, 'ai-s4-0')).toBe('delayed');
    expect(JSON.parse((await request(port, '/api/ai', { headers: own })).body)).toMatchObject({ on: true, delayMs: 60_000, held: 1 });

    expect((await request(port, '/api/dump', { method: 'POST', headers: own, body: JSON.stringify({ channel: '__proto__' }) })).status).toBe(400);
    const dumped = await request(port, '/api/dump', { method: 'POST', headers: own, body: JSON.stringify({ channel: 'main' }) });
    expect(dumped.status).toBe(200);
    expect(JSON.parse(dumped.body)).toEqual({ channel: 'main', held: 1 });
    expect(await playoutState(fleet, 'ai-s4-0')).toBe('unknown');
    expect(await new SpeechStore(fleet.redis, fleet.keys, fleet.config).playoutBytes('ai-s4-0', 0)).toBe(0);
    expect(Number(await fleet.redis.get(fleet.keys.dumpedAt('main')))).toBeGreaterThan(0);
    await control.waitForLog('AI lines dumped', { channel: 'main', held: 1 });

    expect((await request(port, '/api/ai', { method: 'POST', headers: { ...json, origin: 'http://evil.example' }, body: '{"on":false}' })).status).toBe(403);
    expect((await request(port, '/api/ai', { method: 'POST', headers: own, body: '{"on":"no"}' })).status).toBe(400);
    expect((await request(port, '/api/ai', { method: 'POST', headers: own, body: '{"on":false}' })).status).toBe(200);
    const state = await new AiSwitch({ config: fleet.config, redis: fleet.redis, log }).state();
    expect(state).toMatchObject({ on: false, source: 'switch', by: expect.stringMatching(/^page:/) as unknown });
  });

  it('a reply worker waiting for its lines to be voiced stops waiting when they are dumped (its slot is not held for nothing)', async () => {
    fleet = new TestFleet();
    const watch = new VoicedWatch({ redis: fleet.redis, keys: fleet.keys, log });
    const wait = await watch.watch('main');
    try {
      const until = wait.until(['ai-s6-0', 'ai-s6-1'], 60_000);
      await fleet.redis.publish(fleet.keys.events('main'), JSON.stringify({ type: 'speech-ready', utteranceId: 'ai-s6-0', text: 'A line.' }));
      await dumpAi({ ...fleet, config: fleet.config, log }, 'main', 'test:mod');
      expect(await until).toBe('dumped');
    } finally {
      await wait.stop();
      watch.close();
    }
  });

  it('idolcast dump [--channel]: takes the held lines back; an unknown channel is a usage error', async () => {
    fleet = new TestFleet({ ai: { safety: { delayMs: 60_000 } } });
    await audioHandle(await voicedLine(fleet, 'ai-s5-0', 'ai'), audioWorkerDeps(fleet));
    const bad = await runCli(['dump', '--channel', 'constructor'], fleet.env());
    expect(bad.code).toBe(2);
    expect(await playoutState(fleet, 'ai-s5-0')).toBe('delayed');
    const ok = await runCli(['dump', '--channel', 'main'], fleet.env());
    expect(ok.code).toBe(0);
    expect(ok.stdout).toMatch(/1 taken from the broadcast delay/);
    expect(await playoutState(fleet, 'ai-s5-0')).toBe('unknown');
    expect(await delayDepth(fleet.redis, fleet.prefix, 'main')).toBe(0);
  });
});

describe('the sentences of one reply air together (the playout side, real Redis)', () => {
  let fleet: TestFleet;
  afterEach(async () => fleet?.close());

  it('after a reply line aired, other lines wait while its next line is still to come, for a bounded time', async () => {
    fleet = new TestFleet();
    const replies = new ReplyOnAir({ redis: fleet.redis, prefix: fleet.prefix, channel: 'main' });
    const ai = (n: number, slot = 'r1') => ({ utteranceId: replyLineId(slot, n), origin: { platform: 'ai', user: 'Aiko' } });
    const say = { utteranceId: 'say-1', origin: { platform: 'twitch', user: 'bob' } };
    const note = replyNote(fleet.redis, fleet.prefix, 'main', 'r1', 60_000);
    await note.open();
    await note.lineQueued();
    expect(await replies.holds(say)).toBe(false); // nothing of the reply has aired yet
    replies.aired(ai(0), 1000);
    // The model still writes: a !say and another reply's first line wait; the reply's next line does not.
    expect(await replies.holds(say, 1500)).toBe(true);
    expect(await replies.holds(ai(0, 'r2'), 1500)).toBe(true);
    expect(await replies.holds(ai(1), 1500)).toBe(false);
    // Not for ever: past the bound after the reply's last line ended, the others go on.
    expect(await replies.holds(say, 1000 + REPLY_GAP_MAX_MS + 1)).toBe(false);

    replies.aired(ai(0), 1000);
    await note.lineQueued();
    await note.done();
    expect(await replies.holds(say, 1500)).toBe(true); // line 1 was queued: it is to come
    replies.aired(ai(1), 2000);
    expect(await replies.holds(say, 2500)).toBe(false); // the reply is done and all of it aired
    // A dump or a skip ends the wait at once.
    await note.open();
    replies.aired(ai(0), 3000);
    replies.forget();
    expect(await replies.holds(say, 3500)).toBe(false);
  });
});
