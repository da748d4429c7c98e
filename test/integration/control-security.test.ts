import http from 'node:http';
import net from 'node:net';
import { TestFleet, eventually, type RunningProcess } from '../helpers/fleet';
import { freeLoopbackPort } from '../../src/ports';

type Answer = { status: number; headers: http.IncomingHttpHeaders; body: string };

/** One HTTP request with the headers a browser or an attacker's client would send (Host included). */
function request(port: number, path: string, opts: { method?: string; headers?: Record<string, string>; body?: string; localAddress?: string } = {}): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, path, method: opts.method ?? 'GET', headers: opts.headers, localAddress: opts.localAddress, agent: false }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => (body += d));
      res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, body }));
    });
    req.on('error', reject);
    req.end(opts.body);
  });
}

const json = { 'content-type': 'application/json' };
const chat = (user: string, extra: Record<string, unknown> = {}) => JSON.stringify({ user, text: 'hello there', ...extra });

/** The number of live event streams, as /metrics reports it. */
async function openStreams(port: number, headers: Record<string, string> = {}): Promise<number> {
  const page = await request(port, '/metrics', { headers });
  return Number(/^idolcast_control_event_streams\{[^}]*\} (\d+)/m.exec(page.body)?.[1] ?? 'NaN');
}

describe('control server security', () => {
  let fleet: TestFleet;
  afterEach(async () => fleet?.close());

  async function startControl(env: NodeJS.ProcessEnv = {}): Promise<{ port: number; proc: RunningProcess }> {
    const port = await freeLoopbackPort();
    const proc = fleet.start(['control'], { PORT: String(port), ...env });
    await proc.waitForLog('control server listening');
    return { port, proc };
  }

  it('DNS rebinding: a request naming another Host is refused (421) and adds no job; our own names work', async () => {
    fleet = new TestFleet();
    const { port } = await startControl();
    const add = `/admin/queues/api/queues/${encodeURIComponent(fleet.queues.queue('chat').name)}/add`;
    const forged = JSON.stringify({ name: 'chat', data: { platform: 'twitch', channel: 'main', text: '!scene pwned', user: { roles: ['broadcaster'] } } });
    const attack = await request(port, add, { method: 'POST', headers: { ...json, host: `rebind.attacker.example:${port}` }, body: forged });
    expect(attack.status).toBe(421);
    expect(attack.body).toMatch(/does not answer to that host name/);
    expect((await request(port, '/', { headers: { host: `rebind.attacker.example:${port}` } })).status).toBe(421);
    expect((await request(port, '/api/fleet', { headers: { host: `127.0.0.1:${port + 1}` } })).status).toBe(421);
    expect(await fleet.queues.queue('chat').count()).toBe(0);

    for (const host of [`127.0.0.1:${port}`, `localhost:${port}`, `[::1]:${port}`]) expect((await request(port, '/api/channels', { headers: { host } })).status).toBe(200);
    // The same dashboard call from the operator's own client still works (so the 421 above was the Host check).
    const own = await request(port, add, { method: 'POST', headers: json, body: JSON.stringify({ name: 'chat', data: {} }) });
    expect(own.status).toBe(200);
    expect(await fleet.queues.queue('chat').count()).toBe(1);
  });

  it('a configured allowedHosts name is answered', async () => {
    fleet = new TestFleet({ control: { allowedHosts: ['idol.example'] } });
    const { port } = await startControl();
    expect((await request(port, '/api/channels', { headers: { host: 'idol.example' } })).status).toBe(200);
    expect((await request(port, '/api/channels', { headers: { host: 'other.example' } })).status).toBe(421);
  });

  it('cross-site requests to /api, /admin and the overlay data are refused (403); same-origin ones pass; nothing can frame us', async () => {
    fleet = new TestFleet();
    const { port } = await startControl();
    const refused: [string, Record<string, string>][] = [
      ['/api/chat', { origin: 'http://127.0.0.2:9999' }],
      ['/api/chat', { origin: 'null' }],
      ['/api/chat', { 'sec-fetch-site': 'cross-site' }],
      ['/api/chat', { 'sec-fetch-site': 'same-site', origin: `http://127.0.0.1:${port + 1}` }],
    ];
    for (const [path, headers] of refused) {
      const res = await request(port, path, { method: 'POST', headers: { ...json, ...headers }, body: chat('mallory') });
      expect(res.status).toBe(403);
      expect(res.body).toMatch(/cross-site request refused/);
    }
    for (const path of ['/admin/queues', '/api/fleet', '/metrics', '/overlay/theme.json', '/overlay/events']) {
      expect((await request(port, path, { headers: { 'sec-fetch-site': 'cross-site' } })).status).toBe(403);
    }
    expect(await fleet.queues.queue('chat').count()).toBe(0);
    const ok = await request(port, '/api/chat', { method: 'POST', headers: { ...json, origin: `http://127.0.0.1:${port}`, 'sec-fetch-site': 'same-origin' }, body: chat('alice') });
    expect(ok.status).toBe(202);
    // A link from another site to the page itself still opens it.
    expect((await request(port, '/', { headers: { 'sec-fetch-site': 'cross-site' } })).status).toBe(200);

    for (const path of ['/', '/admin/queues', '/overlay', '/api/channels']) {
      const res = await request(port, path);
      expect(res.headers['content-security-policy']).toBe("frame-ancestors 'none'");
      expect(res.headers['x-frame-options']).toBe('DENY');
      expect(res.headers['x-content-type-options']).toBe('nosniff');
    }
  });

  it('every Object.prototype key as a channel: 400 everywhere, no job, no key, no stream', async () => {
    fleet = new TestFleet({ control: { chatRate: { perClient: { burst: 100, perMinute: 100 }, global: { burst: 100, perMinute: 100 } } } });
    const { port } = await startControl();
    const names = Object.getOwnPropertyNames(Object.prototype);
    expect(names).toEqual(expect.arrayContaining(['constructor', '__proto__', 'toString', 'hasOwnProperty', 'valueOf']));
    for (const name of names) {
      const q = `?channel=${encodeURIComponent(name)}`;
      expect((await request(port, '/api/chat', { method: 'POST', headers: json, body: chat('eve', { channel: name }) })).status).toBe(400);
      for (const path of ['/api/events', '/overlay/events', '/overlay/theme.json']) expect([path, (await request(port, path + q)).status]).toEqual([path, 400]);
    }
    expect(await fleet.queues.queue('chat').count()).toBe(0);
    const keys = await fleet.redis.keys(`${fleet.prefix}:*`);
    for (const name of names) expect(keys.filter((k) => k.includes(name))).toEqual([]);
    expect(await openStreams(port)).toBe(0);
  });

  it('event streams: a cap with a clear 503, a client that does not read is dropped, the count returns to 0', async () => {
    fleet = new TestFleet({ control: { maxEventStreams: 3, eventBufferBytes: 64 * 1024 } });
    const { port, proc } = await startControl();
    // Three clients that never read a byte of what they are sent.
    const stuck = await Promise.all(
      [0, 1, 2].map(
        () =>
          new Promise<net.Socket>((resolve) => {
            const s = net.connect(port, '127.0.0.1', () => {
              s.write(`GET /api/events?channel=main HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\n\r\n`);
              resolve(s);
            });
          }),
      ),
    );
    await eventually(async () => ((await openStreams(port)) === 3 ? true : undefined), 'three open streams');
    const over = await request(port, '/overlay/events');
    expect(over.status).toBe(503);
    expect(over.body).toMatch(/too many event streams open \(3/);
    expect(over.headers['retry-after']).toBeDefined();

    // Publish until the server has given up on all of them: its memory stays bounded by the limit.
    const event = JSON.stringify({ type: 'scene', scene: 'x'.repeat(8000) });
    let open = 3;
    for (let i = 0; open > 0 && i < 400; i++) {
      await Promise.all(Array.from({ length: 50 }, () => fleet.redis.publish(fleet.keys.events('main'), event)));
      open = await openStreams(port);
    }
    expect(open).toBe(0);
    const drop = await proc.waitForLog('event stream dropped: the client is not reading');
    expect(drop.bufferedBytes).toBeGreaterThan(64 * 1024);
    for (const s of stuck) s.destroy();
    expect((await request(port, '/healthz')).status).toBe(200);
  });

  it('POST /api/chat: a bucket per client address and a global one, 429 with Retry-After; chosen names do not help', async () => {
    fleet = new TestFleet({ control: { chatRate: { perClient: { burst: 2, perMinute: 1 }, global: { burst: 3, perMinute: 1 } } } });
    const { port } = await startControl();
    const post = (user: string, localAddress = '127.0.0.1') => request(port, '/api/chat', { method: 'POST', headers: json, body: chat(user), localAddress });
    expect((await post('a1')).status).toBe(202);
    expect((await post('a2')).status).toBe(202);
    const limited = await post('a3-another-name');
    expect(limited.status).toBe(429);
    expect(Number(limited.headers['retry-after'])).toBeGreaterThan(0);
    expect(limited.body).toMatch(/too many chat messages/);
    // Another client has its own bucket, until the global one runs out.
    expect((await post('b1', '127.0.0.2')).status).toBe(202);
    expect((await post('b2', '127.0.0.2')).status).toBe(429);
    const jobs = await fleet.queues.queue('chat').getJobs(['waiting']);
    expect(jobs).toHaveLength(3);
    // Every message of one client carries the same user id, whatever name it chose.
    const ids = new Set(jobs.filter((j) => j.data.user.displayName.startsWith('a')).map((j) => j.data.user.id));
    expect(ids.size).toBe(1);
  });

  it('with ADMIN_TOKEN: /metrics and the live view need it, never from ?token=; the overlay has its own read-only token', async () => {
    fleet = new TestFleet();
    const admin = 'adm-' + 'y'.repeat(28);
    const { port, proc } = await startControl({ ADMIN_TOKEN: admin });
    const bearer = (t: string) => ({ authorization: `Bearer ${t}` });
    for (const path of ['/metrics', '/', '/api/events', '/api/channels', '/live/main/index.m3u8']) expect([path, (await request(port, path)).status]).toEqual([path, 401]);
    expect((await request(port, '/metrics', { headers: bearer(admin) })).status).toBe(200);
    expect((await request(port, `/admin/queues?token=${admin}`)).status).toBe(401);
    expect((await request(port, `/overlay?token=${admin}`)).status).toBe(401);
    expect((await request(port, '/healthz')).status).toBe(200);

    const where = await request(port, '/api/overlay', { headers: bearer(admin) });
    const overlayPath = (JSON.parse(where.body) as { path: string }).path;
    const overlay = new URL(overlayPath, 'http://x').searchParams.get('token')!;
    expect(overlay).toMatch(/^[\w-]{20,}$/);
    expect(overlay).not.toContain(admin);
    expect((await request(port, overlayPath)).status).toBe(200);
    expect((await request(port, `/overlay/theme.json?token=${overlay}`)).status).toBe(200);
    // The overlay token opens nothing else, in the address or in a header.
    for (const path of ['/api/fleet', '/metrics', '/admin/queues', '/', '/overlay.html']) {
      expect([path, (await request(port, `${path}?token=${overlay}`)).status]).toEqual([path, 401]);
      expect([path, (await request(port, path, { headers: bearer(overlay) })).status]).toEqual([path, 401]);
    }
    const pause = await request(port, `/admin/queues/api/queues/${encodeURIComponent(fleet.queues.queue('chat').name)}/pause?token=${overlay}`, { method: 'PUT' });
    expect(pause.status).toBe(401);
    expect(JSON.stringify(proc.lines)).not.toContain(overlay);
    expect(JSON.stringify(proc.lines)).not.toContain(admin);
  });

  it('OVERLAY_TOKEN sets the overlay token; derived, it is the same for every control server of the fleet', async () => {
    fleet = new TestFleet();
    const admin = { authorization: `Bearer adm-${'z'.repeat(28)}` };
    const overlayPath = async (port: number) => (JSON.parse((await request(port, '/api/overlay', { headers: admin })).body) as { path: string }).path;
    const one = await startControl({ ADMIN_TOKEN: `adm-${'z'.repeat(28)}` });
    const two = await startControl({ ADMIN_TOKEN: `adm-${'z'.repeat(28)}` });
    expect(await overlayPath(one.port)).toBe(await overlayPath(two.port));
    const set = await startControl({ ADMIN_TOKEN: `adm-${'z'.repeat(28)}`, OVERLAY_TOKEN: `ovl-${'o'.repeat(28)}` });
    expect(await overlayPath(set.port)).toBe(`/overlay?token=ovl-${'o'.repeat(28)}`);
    expect((await request(set.port, `/overlay?token=ovl-${'o'.repeat(28)}`)).status).toBe(200);
    expect((await request(set.port, '/overlay?token=wrong')).status).toBe(401);
  });
});
