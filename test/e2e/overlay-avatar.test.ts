/// <reference lib="dom" />
/// <reference lib="dom.iterable" />
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { PNG } from 'pngjs';
import { chromium, type Browser, type Page } from 'playwright-core';
import { setEmote } from '../../src/channel-state';
import { PROJECT_ROOT } from '../../src/paths';
import { freeLoopbackPort } from '../../src/ports';
import { TestFleet, runCli } from '../helpers/fleet';

const ARTIFACTS = path.join(PROJECT_ROOT, 'test-artifacts');

/** The status of a GET of `rawPath` sent as is (no client-side clean-up of `..` or escapes). */
function status(port: number, rawPath: string): Promise<number> {
  return new Promise((resolve, reject) => {
    http.get({ host: '127.0.0.1', port, path: rawPath, agent: false }, (res) => {
      res.resume();
      resolve(res.statusCode!);
    }).on('error', reject);
  });
}

type Seen = { at: number; mouth: string; mouthLayer: string; expression: string };
type Win = { seen: Seen[]; events: { mouth: string; showAt: number }[] };

/** Records every state the overlay's avatar shows, and every avatar event the overlay's stream carries. */
async function record(page: Page): Promise<void> {
  await page.evaluate(() => {
    const w = window as unknown as Win;
    w.seen = [];
    w.events = [];
    const el = document.getElementById('avatar')!;
    const note = () => {
      const d = el.dataset;
      const last = w.seen[w.seen.length - 1];
      if (!last || last.mouthLayer !== d.mouthLayer || last.expression !== d.expression) w.seen.push({ at: Date.now(), mouth: d.mouth!, mouthLayer: d.mouthLayer!, expression: d.expression! });
    };
    note();
    new MutationObserver(note).observe(el, { attributes: true });
    new EventSource('/overlay/events?channel=main').onmessage = (m) => {
      const e = JSON.parse(m.data as string) as { type: string; mouth: string; showAt: number };
      if (e.type === 'avatar') w.events.push({ mouth: e.mouth, showAt: e.showAt });
    };
  });
}

const events = (page: Page) => page.evaluate(() => (window as unknown as Win).events);
const seen = (page: Page) => page.evaluate(() => (window as unknown as Win).seen);
const waitForEvents = (page: Page, n: number) => page.waitForFunction((k) => (window as unknown as Win).events.length >= k, n, { timeout: 20000 });

describe('the avatar on the overlay (Chromium, the whole pipeline, the picture without its own avatar)', () => {
  let fleet: TestFleet;
  let browser: Browser | undefined;
  afterEach(async () => {
    await browser?.close();
    await fleet?.close();
  });

  it('shows the channel pack; the mouth layer follows the line on air and is closed in silence; !emote changes the face; hostile layer paths get 404', async () => {
    fleet = new TestFleet({ overlay: { avatar: { enabled: true } }, channels: { main: { video: { avatar: { enabled: false } } } } });
    const port = await freeLoopbackPort();
    const control = fleet.start(['control'], { PORT: String(port) });
    const procs = [fleet.start(['worker', 'tts']), fleet.start(['worker', 'audio']), fleet.start(['broadcast'])];
    await control.waitForLog('control server listening', {}, 60000);
    await Promise.all([procs[0]!.waitForLog('worker ready'), procs[1]!.waitForLog('worker ready'), procs[2]!.waitForLog('broadcaster ready', {}, 60000)]);

    // Only layers of the configured pack, by their ids.
    expect(await status(port, '/overlay/avatar/main/mouth-open')).toBe(200);
    for (const p of ['/overlay/avatar/main/..%2f..%2fpackage.json', '/overlay/avatar/main/%2e%2e', '/overlay/avatar/main/../../../package.json', '/overlay/avatar/main/__proto__',
      '/overlay/avatar/main/constructor', '/overlay/avatar/__proto__/base', '/overlay/avatar/%2e%2e/base', '/overlay/avatar/main/manifest.json', '/overlay/avatar/main/base.svg', '/overlay/avatar/nope/base']) {
      expect([p, await status(port, p)]).toEqual([p, 404]);
    }

    browser = await chromium.launch({
      executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
      args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    });
    const page = await browser.newPage({ viewport: { width: 1920, height: 1080 } });
    await page.goto(`http://127.0.0.1:${port}/overlay`);
    await page.waitForFunction(() => document.getElementById('avatar')?.dataset.ready === 'true', undefined, { timeout: 20000 });
    await record(page);

    // She is drawn: most of her box is opaque on the transparent page.
    const box = (await page.locator('#avatar').boundingBox())!;
    const shot = PNG.sync.read(await page.screenshot({ omitBackground: true, clip: box }));
    let opaque = 0;
    for (let i = 3; i < shot.data.length; i += 4) if (shot.data[i]! > 200) opaque++;
    expect(opaque).toBeGreaterThan(shot.width * shot.height * 0.3);

    // Silence: the broadcaster's refreshes say closed, and the page shows the closed mouth.
    await waitForEvents(page, 2);
    expect((await events(page)).every((e) => e.mouth === 'closed')).toBe(true);
    expect((await seen(page)).map((s) => s.mouthLayer)).toEqual(['mouth-closed']);

    const said = await runCli(['say', '--wait', 'Hello everyone, this is the idol speaking on the overlay, with her mouth moving in time.'], fleet.env(), 60000);
    expect(said.code).toBe(0);
    const aired = JSON.parse(said.stdout.trim().split('\n').pop()!) as { startAt: number; endAt: number };
    await page.waitForFunction((end) => (window as unknown as Win).events.some((e) => e.mouth === 'closed' && e.showAt >= end), aired.endAt, { timeout: 20000 });
    await page.waitForFunction(() => document.getElementById('avatar')!.dataset.mouth === 'closed', undefined, { timeout: 20000 });

    // While the line was on air the mouth layer changed, half and open; it opened only once the line did, and closed after it.
    const shown = await seen(page);
    const layers = new Set(shown.map((s) => s.mouthLayer));
    expect(layers.has('mouth-open')).toBe(true);
    expect([...layers].every((l) => ['mouth-closed', 'mouth-half', 'mouth-open'].includes(l))).toBe(true);
    const opened = (await events(page)).filter((e) => e.mouth !== 'closed');
    expect(opened.length).toBeGreaterThan(3);
    for (const e of opened) expect(e.showAt).toBeGreaterThan(aired.startAt);
    expect(shown.find((s) => s.mouth !== 'closed')!.at).toBeGreaterThanOrEqual(aired.startAt);
    expect(shown.at(-1)!.mouthLayer).toBe('mouth-closed');
    expect(await page.locator('#avatar img[data-layer="mouth-closed"]').isVisible()).toBe(true);
    expect(await page.locator('#avatar img[data-layer="mouth-open"]').isVisible()).toBe(false);

    // Silence again: it stays closed through the next refreshes.
    const n = (await events(page)).length;
    await waitForEvents(page, n + 2);
    expect((await events(page)).slice(n).every((e) => e.mouth === 'closed')).toBe(true);

    // !emote sad (as the ingest sets it): the overlay's face changes; a page loaded later reads it from the channel state.
    await setEmote(fleet, 'main', 'sad', 60000, 'mod');
    await page.waitForFunction(() => document.getElementById('avatar')!.dataset.expression === 'sad', undefined, { timeout: 20000 });
    expect(await page.locator('#avatar img[data-layer="tear"]').isVisible()).toBe(true);
    fs.mkdirSync(ARTIFACTS, { recursive: true });
    await page.screenshot({ path: path.join(ARTIFACTS, 'overlay-avatar.png'), omitBackground: true });
    await page.reload();
    await page.waitForFunction(() => document.getElementById('avatar')?.dataset.ready === 'true', undefined, { timeout: 20000 });
    expect(await page.locator('#avatar').getAttribute('data-expression')).toBe('sad');
  }, 150000);

  it('with overlay.avatar off (the default), the overlay shows no avatar and serves no layer', async () => {
    fleet = new TestFleet();
    const port = await freeLoopbackPort();
    const control = fleet.start(['control'], { PORT: String(port) });
    await control.waitForLog('control server listening', {}, 60000);
    expect(await status(port, '/overlay/avatar.json')).toBe(404);
    expect(await status(port, '/overlay/avatar/main/base')).toBe(404);
    expect(await status(port, '/overlay/theme.json')).toBe(200);
  });

  it('with ADMIN_TOKEN, the avatar and its layers open with the overlay\'s read-only token only', async () => {
    fleet = new TestFleet({ overlay: { avatar: { enabled: true } } });
    const port = await freeLoopbackPort();
    const admin = 'adm-' + 'k'.repeat(28);
    const control = fleet.start(['control'], { PORT: String(port), ADMIN_TOKEN: admin });
    await control.waitForLog('control server listening', {}, 60000);
    const where = (await (await fetch(`http://127.0.0.1:${port}/api/overlay`, { headers: { authorization: `Bearer ${admin}` } })).json()) as { path: string };
    const token = new URL(where.path, 'http://x').searchParams.get('token')!;
    for (const p of ['/overlay/avatar.json', '/overlay/avatar/main/base']) {
      expect([p, await status(port, p)]).toEqual([p, 401]);
      expect([p, await status(port, `${p}?token=${admin}`)]).toEqual([p, 401]);
      expect([p, await status(port, `${p}?token=${token}`)]).toEqual([p, 200]);
    }
  });
});
