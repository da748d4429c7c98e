import fs from 'node:fs';
import path from 'node:path';
import { TestFleet, runCli } from '../helpers/fleet';
import { freeLoopbackPort } from '../../src/ports';

describe('control server', () => {
  let fleet: TestFleet;
  afterEach(async () => fleet?.close());

  async function startControl(env: NodeJS.ProcessEnv = {}) {
    const port = await freeLoopbackPort();
    const proc = fleet.start(['control'], { PORT: String(port), ...env });
    await proc.waitForLog('control server listening');
    return { base: `http://127.0.0.1:${port}`, proc };
  }

  it('accepts a chat message with 202 and enqueues exactly that', async () => {
    fleet = new TestFleet();
    const { base } = await startControl();
    const res = await fetch(`${base}/api/chat`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ user: 'alice', text: 'hello there' }) });
    expect(res.status).toBe(202);
    const body = (await res.json()) as { id: string; channel: string };
    expect(body.channel).toBe('main');
    const jobs = await fleet.queues.queue('chat').getJobs(['waiting']);
    expect(jobs).toHaveLength(1);
    expect(jobs[0]!.data).toMatchObject({ platform: 'local', id: body.id, text: 'hello there', user: { displayName: 'alice' } });
  });

  it.each([
    ['not JSON', '{"user": "alice", "text": ', /./],
    ['no text', JSON.stringify({ user: 'alice' }), /text/],
    ['empty user', JSON.stringify({ user: ' ', text: 'hi' }), /user/],
    ['unknown field', JSON.stringify({ user: 'a', text: 'hi', admin: true }), /admin/],
    ['unknown channel', JSON.stringify({ user: 'a', text: 'hi', channel: 'nope' }), /channel/],
    ['wrong types', JSON.stringify({ user: 5, text: ['x'] }), /user|text/],
  ])('answers 400 with a reason to a malformed body (%s) and enqueues nothing', async (_name, body, reason) => {
    fleet = new TestFleet();
    const { base } = await startControl();
    const res = await fetch(`${base}/api/chat`, { method: 'POST', headers: { 'content-type': 'application/json' }, body });
    expect(res.status).toBe(400);
    expect(JSON.stringify(await res.json())).toMatch(reason);
    expect(await fleet.queues.queue('chat').count()).toBe(0);
  });

  it('answers 413 to a body over 16 kB and enqueues nothing', async () => {
    fleet = new TestFleet();
    const { base } = await startControl();
    const res = await fetch(`${base}/api/chat`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ user: 'a', text: 'x'.repeat(20000) }) });
    expect(res.status).toBe(413);
    expect(await fleet.queues.queue('chat').count()).toBe(0);
  });

  it('refuses to bind beyond loopback without ADMIN_TOKEN (exit 2, says why)', async () => {
    fleet = new TestFleet();
    const r = await runCli(['control'], fleet.env({ HOST: '0.0.0.0', PORT: String(await freeLoopbackPort()) }));
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/control\.host: binding 0\.0\.0\.0 .*ADMIN_TOKEN/);
  });

  it('with ADMIN_TOKEN set, /admin and /api need it; health stays open; the token is never logged', async () => {
    fleet = new TestFleet();
    const token = 'tok-' + 'x'.repeat(24);
    const { base, proc } = await startControl({ HOST: '0.0.0.0', ADMIN_TOKEN: token });
    expect((await fetch(`${base}/admin/queues`)).status).toBe(401);
    expect((await fetch(`${base}/api/fleet`)).status).toBe(401);
    expect((await fetch(`${base}/admin/queues`, { headers: { authorization: 'Bearer wrong' } })).status).toBe(401);
    const ok = await fetch(`${base}/admin/queues`, { headers: { authorization: `Bearer ${token}` } });
    expect(ok.status).toBe(200);
    expect(await ok.text()).toMatch(/<html/i);
    const basic = await fetch(`${base}/api/fleet`, { headers: { authorization: `Basic ${Buffer.from(`admin:${token}`).toString('base64')}` } });
    expect(basic.status).toBe(200);
    expect((await fetch(`${base}/healthz`)).status).toBe(200);
    expect(JSON.stringify(proc.lines)).not.toContain(token);
  });

  it('/readyz lists what is missing; /metrics shows queue depths and process figures', async () => {
    fleet = new TestFleet();
    const { base } = await startControl();
    const w = fleet.start(['worker', 'scene']);
    await w.waitForLog('worker ready');
    await fleet.queues.enqueue('scene', { channel: 'main', scene: 'Just Chatting' });
    const ready = await fetch(`${base}/readyz`);
    expect(ready.status).toBe(503);
    const body = (await ready.json()) as { checks: Record<string, { ok: boolean }> };
    expect(body.checks.redis!.ok).toBe(true);
    expect(body.checks['worker-tts']!.ok).toBe(false);
    const metrics = await (await fetch(`${base}/metrics`)).text();
    expect(metrics).toMatch(/idolcast_queue_jobs\{queue="scene",state="(waiting|active|completed)"/);
    expect(metrics).toMatch(/idolcast_process_resident_memory_bytes\{kind="control"/);
  });

  it('serves the live page', async () => {
    fleet = new TestFleet();
    const { base } = await startControl();
    const page = await (await fetch(`${base}/`)).text();
    expect(page).toMatch(/id="chat"/);
    expect((await fetch(`${base}/vendor/hls.min.js`)).status).toBe(200);
  });
});

describe('say', () => {
  it("speaks in the channel's current voice (set by !voice) unless --voice names one", async () => {
    const fleet = new TestFleet({ voices: { default: { engine: 'espeak-ng' }, whisper: { engine: 'espeak-ng', voice: 'en-us+whisper' } } });
    try {
      await fleet.redis.set(fleet.keys.channelVoice('main'), 'whisper');
      const plain = await runCli(['say', 'hello there'], fleet.env());
      expect(JSON.parse(plain.stdout)).toMatchObject({ channel: 'main', voice: 'whisper' });
      const named = await runCli(['say', '--voice', 'default', 'hello again'], fleet.env());
      expect(JSON.parse(named.stdout)).toMatchObject({ voice: 'default' });
      const jobs = await fleet.queues.queue('tts').getJobs(['prioritized', 'waiting']);
      expect(jobs.map((j) => (j.data as { voice: string }).voice).sort()).toEqual(['default', 'whisper']);
    } finally {
      await fleet.close();
    }
  });
});

describe('configuration errors', () => {
  it('a bad config file exits with code 2 and names the field', async () => {
    const fleet = new TestFleet();
    try {
      const bad = path.join(fleet.dir, 'bad.yaml');
      fs.writeFileSync(bad, 'channels:\n  main:\n    video: { fps: 0 }\nworkers:\n  concurrency: { tts: -1 }\n');
      for (const args of [['config', 'check'], ['worker', 'tts'], ['control'], ['up']]) {
        const r = await runCli(args, { ...process.env, IDOLCAST_CONFIG: bad });
        expect(r.code).toBe(2);
        expect(r.stderr).toMatch(/channels\.main\.video\.fps/);
        expect(r.stderr).toMatch(/workers\.concurrency\.tts/);
      }
      const missing = await runCli(['config', 'check'], { ...process.env, IDOLCAST_CONFIG: path.join(fleet.dir, 'nope.yaml') });
      expect(missing.code).toBe(2);
      expect(missing.stderr).toMatch(/cannot read the file: ENOENT/);
    } finally {
      await fleet.close();
    }
  });

  it('bad command-line values exit non-zero with a clear message', async () => {
    const r = await runCli(['worker', 'juggler'], process.env);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/one of tts, audio, scene, routine, maintenance/);
  });
});
