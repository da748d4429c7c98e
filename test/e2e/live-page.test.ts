/// <reference lib="dom" />
/// <reference lib="dom.iterable" />
import fs from 'node:fs';
import path from 'node:path';
import type { Browser } from 'playwright-core';
import { PROJECT_ROOT } from '../../src/paths';
import { TestFleet, eventually } from '../helpers/fleet';
import { freeLoopbackPort } from '../../src/ports';
import { launchChromium, levels, listen, playerState } from '../../testkit/live-page';

const ARTIFACTS = path.join(PROJECT_ROOT, 'test-artifacts');

describe('the live page in a real browser (Chromium, the low-latency stream through mpegts.js, the whole pipeline)', () => {
  let fleet: TestFleet;
  let browser: Browser | undefined;
  afterEach(async () => {
    await browser?.close();
    await fleet?.close();
  });

  it('a viewer types a message and hears the idol say it on the live view, with its caption', async () => {
    // A picture without a burned-in caption: the page draws the line itself, on the player's clock
    // (with the default, the picture's caption is the one; test/e2e/live-page-caption.test.ts).
    fleet = new TestFleet({ channels: { main: { video: { captions: false } } } });
    const port = await freeLoopbackPort();
    const control = fleet.start(['control'], { PORT: String(port) });
    const procs = [fleet.start(['ingest']), fleet.start(['worker', 'tts']), fleet.start(['worker', 'audio']), fleet.start(['broadcast'])];
    await control.waitForLog('control server listening', {}, 60000);
    await procs[3]!.waitForLog('encoder started');
    const liveDir = path.join(fleet.dir, 'live', 'main');
    await eventually(async () => (fs.existsSync(path.join(liveDir, 'seg-3.ts')) ? true : undefined), 'a few live segments', 20000);

    browser = await launchChromium();
    const page = await browser.newPage({ viewport: { width: 1280, height: 720 } });
    await page.goto(`http://127.0.0.1:${port}/`);
    await page.waitForFunction(() => document.getElementById('status')?.textContent === 'live', undefined, { timeout: 20000 });
    // The low-latency stream, not the HLS fallback.
    expect((await playerState(page)).mode).toBe('lowlatency');

    // Listen to what the video element actually plays, as the viewer's speakers would.
    await listen(page, 50);

    const text = 'Thank you for watching the stream today!';
    await page.fill('#user', 'Mika');
    await page.fill('#text', text);
    const sentAt = Date.now();
    await page.click('button[type=submit]');
    expect(await page.evaluate(() => (document.getElementById('video') as HTMLVideoElement).muted)).toBe(false);

    // The entry goes sent → voiced → on air → spoken, and the caption shows while it is heard.
    await page.waitForFunction((t) => [...document.querySelectorAll('#log li')].some((li) => li.textContent?.includes(t) && li.textContent.includes('spoken')), text, { timeout: 30000 });
    await page.waitForFunction((t) => document.getElementById('caption')?.textContent === t, text, { timeout: 20000 });
    fs.mkdirSync(ARTIFACTS, { recursive: true });
    await page.screenshot({ path: path.join(ARTIFACTS, 'live-page-page-caption.png') });
    await page.waitForFunction(() => document.getElementById('caption')?.textContent === '', undefined, { timeout: 20000 });

    const heard = await levels(page);
    const before = heard.filter((l) => l.at < sentAt);
    const whileCaptioned = heard.filter((l) => l.caption === text);
    expect(before.length).toBeGreaterThan(0);
    expect(Math.max(...before.map((l) => l.rms))).toBeLessThan(0.005);
    // The line is heard while its caption is up (captions follow the stream's clock, not the encoder's).
    expect(whileCaptioned.length).toBeGreaterThan(10);
    const loud = whileCaptioned.filter((l) => l.rms > 0.02).length;
    expect(loud / whileCaptioned.length).toBeGreaterThan(0.4);
    // And the other way round: the line is not heard before its caption is up (the on-air event
    // reaches the page before the low-latency stream plays the line, and its clock says when).
    const heardLoud = heard.filter((l) => l.at > sentAt && l.rms > 0.02);
    expect(heardLoud.filter((l) => l.caption === text).length / heardLoud.length).toBeGreaterThan(0.8);
  });
});
