/// <reference lib="dom" />
/// <reference lib="dom.iterable" />
import fs from 'node:fs';
import path from 'node:path';
import { chromium, type Browser } from 'playwright-core';
import type { ChatEvent } from '../../queues/chat-event.schema';
import { PROJECT_ROOT } from '../../src/paths';
import { TestFleet, runCli } from '../helpers/fleet';
import { freeLoopbackPort } from '../../src/ports';

const ARTIFACTS = path.join(PROJECT_ROOT, 'test-artifacts');
const BANNER_MS = 1500;

type Seen = { at: number; visible: boolean; text: string; id?: string; kind?: string };
type Win = { captions: Seen[]; banners: Seen[]; pwned?: unknown };

function platformEvent(kind: ChatEvent['kind'], displayName: string, extra: Partial<ChatEvent> = {}): ChatEvent {
  const now = Date.now();
  const id = `${kind}-${now}-${Math.random().toString(36).slice(2)}`;
  return { platform: 'twitch', channel: 'main', room: 'idol', id, kind, text: '', emotes: [], timestamp: now, acceptedAt: now, user: { id: `u-${id}`, login: 'someone', displayName, roles: [] }, ...extra };
}

describe('the overlay in a real browser (Chromium, the whole pipeline)', () => {
  let fleet: TestFleet;
  let browser: Browser | undefined;
  afterEach(async () => {
    await browser?.close();
    await fleet?.close();
  });

  it('captions follow on-air start and end, banners queue, scene names show, user text stays text', async () => {
    fleet = new TestFleet({ overlay: { bannerMs: BANNER_MS } });
    const port = await freeLoopbackPort();
    const control = fleet.start(['control'], { PORT: String(port) });
    const procs = [fleet.start(['ingest']), fleet.start(['worker', 'tts']), fleet.start(['worker', 'audio']), fleet.start(['worker', 'scene']), fleet.start(['broadcast'])];
    await control.waitForLog('control server listening');
    await procs[0]!.waitForLog('ingest ready');
    await procs[4]!.waitForLog('broadcaster ready');

    browser = await chromium.launch({
      executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
      args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    });
    const page = await browser.newPage({ viewport: { width: 1920, height: 1080 } });
    await page.goto(`http://127.0.0.1:${port}/overlay`);
    await page.waitForFunction(() => document.body.dataset.connected === 'true', undefined, { timeout: 10000 });
    // The page background is transparent, for an OBS browser source.
    expect(await page.evaluate(() => getComputedStyle(document.body).backgroundColor)).toBe('rgba(0, 0, 0, 0)');

    // Record every change of the caption and the banner with its wall-clock time.
    await page.evaluate(() => {
      const w = window as unknown as Win;
      w.captions = [];
      w.banners = [];
      const watch = (id: string, into: Seen[], text: string) => {
        const el = document.getElementById(id)!;
        new MutationObserver(() => {
          const seen = { at: Date.now(), visible: !el.classList.contains('hidden'), text: document.getElementById(text)!.textContent ?? '', id: el.dataset.utterance, kind: el.dataset.kind };
          const last = into[into.length - 1];
          if (!last || last.visible !== seen.visible || last.text !== seen.text) into.push(seen);
        }).observe(el, { attributes: true, childList: true, subtree: true, characterData: true });
      };
      watch('caption', w.captions, 'caption-text');
      watch('banner', w.banners, 'banner-user');
    });

    // A scene change shows its name.
    await fleet.queues.enqueue('scene', { channel: 'main', scene: 'Just Chatting' });
    await page.waitForFunction(() => document.getElementById('scene')?.textContent === 'Just Chatting', undefined, { timeout: 10000 });

    const text = 'Hello <script>window.pwned = 1</script> and <b>bold</b> friends';
    const said = runCli(['say', '--wait', text], fleet.env(), 60000);
    await page.waitForFunction(() => !document.getElementById('caption')!.classList.contains('hidden'), undefined, { timeout: 30000 }).catch((err: Error) => {
      for (const p of procs) console.error('last log lines:', JSON.stringify(p.lines.slice(-6)), p.stderr.slice(-5).join('\n'));
      throw err;
    });

    // Two events at once: their banners come one after the other, never together.
    const follower = '<img src=x onerror="window.pwned=2">';
    await fleet.queues.enqueue('chat', platformEvent('follow', follower));
    await fleet.queues.enqueue('chat', platformEvent('raid', 'Raider', { paid: { amount: 42, currency: 'viewers' } }));
    await page.waitForFunction((u) => document.getElementById('banner-user')?.textContent === u, follower, { timeout: 10000 });
    await page.waitForTimeout(300); // the banner's fade-in
    fs.mkdirSync(ARTIFACTS, { recursive: true });
    await page.screenshot({ path: path.join(ARTIFACTS, 'overlay.png'), omitBackground: true });

    const run = await said;
    expect(run.code).toBe(0);
    const aired = JSON.parse(run.stdout.trim().split('\n').pop()!) as { utteranceId: string; startAt: number; endAt: number };
    await page.waitForFunction(() => (window as unknown as Win).banners.filter((b) => b.visible && b.text === 'Raider').length > 0, undefined, { timeout: 10000 });
    // The line's end goes out as its audio does; the overlay hides the caption when the stream's clock reaches it.
    await page.waitForFunction(() => document.getElementById('caption')!.classList.contains('hidden'), undefined, { timeout: 10000 });
    const w = await page.evaluate(() => {
      const x = window as unknown as Win;
      return { captions: x.captions, banners: x.banners, pwned: x.pwned, injected: document.querySelectorAll('#stage script, #stage img, #stage b').length };
    });

    // The caption appears within 500 ms of the line's on-air start and goes after its end.
    const mine = w.captions.filter((c) => c.id === aired.utteranceId || (!c.visible && c.text === ''));
    const shown = mine.find((c) => c.visible && c.id === aired.utteranceId);
    expect(shown).toBeDefined();
    expect(shown!.text).toBe(text);
    expect(shown!.at - aired.startAt).toBeLessThanOrEqual(500);
    expect(shown!.at - aired.startAt).toBeGreaterThanOrEqual(-50);
    const hidden = w.captions.find((c) => !c.visible && c.at > shown!.at);
    expect(hidden).toBeDefined();
    expect(hidden!.at).toBeGreaterThanOrEqual(aired.endAt - 50);
    expect(hidden!.at - aired.endAt).toBeLessThanOrEqual(500);

    // User text rendered as text: no element was made from it, no script ran.
    expect(w.pwned).toBeUndefined();
    expect(w.injected).toBe(0);

    // Banners: the follow first, then the raid once the follow is gone.
    const up = w.banners.filter((b) => b.visible);
    expect(up.map((b) => b.text)).toEqual([follower, 'Raider']);
    const followGone = w.banners.find((b) => !b.visible && b.at > up[0]!.at);
    expect(followGone).toBeDefined();
    expect(up[1]!.at).toBeGreaterThan(followGone!.at);
    expect(up[1]!.at - up[0]!.at).toBeGreaterThanOrEqual(BANNER_MS);
    expect(await page.textContent('#banner-title')).toBe('Raid with 42 viewers');
  });

  it('with ADMIN_TOKEN, the overlay runs on its own read-only token; the admin token in the address opens nothing', async () => {
    fleet = new TestFleet();
    const port = await freeLoopbackPort();
    const admin = 'adm-' + 'k'.repeat(28);
    const control = fleet.start(['control'], { PORT: String(port), ADMIN_TOKEN: admin });
    await control.waitForLog('control server listening');
    const base = `http://127.0.0.1:${port}`;
    const { path: overlayPath } = (await (await fetch(`${base}/api/overlay`, { headers: { authorization: `Bearer ${admin}` } })).json()) as { path: string };

    browser = await chromium.launch({
      executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
      args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    });
    const page = await browser.newPage();
    expect((await page.goto(`${base}/overlay?token=${admin}`))?.status()).toBe(401);
    expect((await page.goto(`${base}${overlayPath}`))?.status()).toBe(200);
    await page.waitForFunction(() => document.body.dataset.connected === 'true', undefined, { timeout: 10000 });
    await fleet.redis.publish(fleet.keys.events('main'), JSON.stringify({ type: 'scene', scene: 'Starting Soon' }));
    await page.waitForFunction(() => document.getElementById('scene')?.textContent === 'Starting Soon', undefined, { timeout: 10000 });
  });
});
