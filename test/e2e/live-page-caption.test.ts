/// <reference lib="dom" />
/// <reference lib="dom.iterable" />
import fs from 'node:fs';
import path from 'node:path';
import { PNG } from 'pngjs';
import { chromium, type Browser, type Page } from 'playwright-core';
import { PROJECT_ROOT } from '../../src/paths';
import { TestFleet } from '../helpers/fleet';
import { freeLoopbackPort } from '../../src/ports';

const ARTIFACTS = path.join(PROJECT_ROOT, 'test-artifacts');

/**
 * Boxes of the picture, as fractions of the frame (the shipped 1280x720 default): where the
 * burned-in caption's text runs (left of the avatar, so only the caption can light it up) and the
 * avatar's box (src/config/default.yaml).
 */
const CAPTION = { x: 0.15, y: 0.85, width: 0.4, height: 0.07 };
const AVATAR = { x: 760 / 1280, y: 120 / 720, width: 480 / 1280, height: 600 / 720 };
type Box = typeof CAPTION;

/** White pixels (caption text: the background and the caption's box are dark) in a box of an RGBA picture. */
function brightPixels(rgba: Uint8Array | Uint8ClampedArray, width: number, box: { x: number; y: number; width: number; height: number }): number {
  let n = 0;
  for (let y = box.y; y < box.y + box.height; y++) {
    for (let x = box.x; x < box.x + box.width; x++) {
      const i = (y * width + x) * 4;
      if (rgba[i]! > 200 && rgba[i + 1]! > 200 && rgba[i + 2]! > 200) n++;
    }
  }
  return n;
}

/** In the page: bright pixels in the caption box of the frame the video element shows now (decoded by the browser). */
function installFrameProbe(page: Page, box: Box): Promise<void> {
  return page.evaluate((b) => {
    const video = document.getElementById('video') as HTMLVideoElement;
    const canvas = document.createElement('canvas');
    const w = window as unknown as { captionInPicture: () => number };
    w.captionInPicture = () => {
      const [vw, vh] = [video.videoWidth, video.videoHeight];
      if (!vw) return 0;
      canvas.width = vw;
      canvas.height = vh;
      const c = canvas.getContext('2d', { willReadFrequently: true })!;
      c.drawImage(video, 0, 0);
      const [x, y, width, height] = [Math.round(b.x * vw), Math.round(b.y * vh), Math.round(b.width * vw), Math.round(b.height * vh)];
      const px = c.getImageData(x, y, width, height).data;
      let n = 0;
      for (let i = 0; i < px.length; i += 4) if (px[i]! > 200 && px[i + 1]! > 200 && px[i + 2]! > 200) n++;
      return n;
    };
  }, box);
}

describe('one caption on the live page (Chromium, the shipped picture with its avatar and burned-in caption)', () => {
  let fleet: TestFleet;
  let browser: Browser | undefined;
  afterEach(async () => {
    await browser?.close();
    await fleet?.close();
  });

  it('the picture shows the line on air as its caption and the page draws none over it; the screenshot shows the avatar and that one caption', async () => {
    fleet = new TestFleet();
    const port = await freeLoopbackPort();
    const control = fleet.start(['control'], { PORT: String(port) });
    const procs = [fleet.start(['ingest']), fleet.start(['worker', 'tts']), fleet.start(['worker', 'audio']), fleet.start(['broadcast'])];
    await control.waitForLog('control server listening', {}, 60000);
    await procs[3]!.waitForLog('broadcaster ready', {}, 60000);
    const channels = (await (await fetch(`http://127.0.0.1:${port}/api/channels`)).json()) as { channels: { id: string; pictureCaption: boolean }[] };
    expect(channels.channels.find((c) => c.id === 'main')?.pictureCaption).toBe(true);

    browser = await chromium.launch({
      executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
      args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    });
    const page = await browser.newPage({ viewport: { width: 1280, height: 720 } });
    await page.goto(`http://127.0.0.1:${port}/`);
    await page.waitForFunction(() => document.getElementById('status')?.textContent === 'live', undefined, { timeout: 30000 });
    await installFrameProbe(page, CAPTION);
    await page.waitForFunction(() => (document.getElementById('video') as HTMLVideoElement).videoWidth > 0, undefined, { timeout: 30000 });
    // Quiet before the line: no caption in the picture.
    expect(await page.evaluate(() => (window as unknown as { captionInPicture: () => number }).captionInPicture())).toBe(0);

    // Every change of the page's own caption element is recorded: it must stay empty throughout.
    await page.evaluate(() => {
      const w = window as unknown as { pageCaptions: string[] };
      w.pageCaptions = [];
      const el = document.getElementById('caption')!;
      new MutationObserver(() => w.pageCaptions.push(el.textContent ?? '')).observe(el, { childList: true, characterData: true, subtree: true });
    });

    const text = 'Thank you for watching the stream today!';
    await page.fill('#user', 'Mika');
    await page.fill('#text', text);
    await page.click('button[type=submit]');

    // The moment the line's caption is in the frame the viewer sees: that is when the screenshot is taken.
    await page.waitForFunction(() => (window as unknown as { captionInPicture: () => number }).captionInPicture() > 100, undefined, { timeout: 40000, polling: 50 });
    fs.mkdirSync(ARTIFACTS, { recursive: true });
    const shot = await page.screenshot({ path: path.join(ARTIFACTS, 'live-page.png') });
    const video = (await page.locator('#video').boundingBox())!;
    // The page draws nothing over it.
    expect(await page.textContent('#caption')).toBe('');

    // The screenshot itself: the caption in the picture, and the avatar.
    const png = PNG.sync.read(shot);
    const inShot = (b: Box) => ({ x: Math.round(video.x + b.x * video.width), y: Math.round(video.y + b.y * video.height), width: Math.round(b.width * video.width), height: Math.round(b.height * video.height) });
    expect(brightPixels(png.data, png.width, inShot(CAPTION))).toBeGreaterThan(50);
    const avatar = inShot(AVATAR);
    expect(brightPixels(png.data, png.width, { ...avatar, height: Math.round(avatar.height * 0.6) })).toBeGreaterThan(200); // her face and hair are light, the background dark

    await page.waitForFunction((t) => [...document.querySelectorAll('#log li')].some((li) => li.textContent?.includes(t) && li.textContent.includes('spoken')), text, { timeout: 30000 });
    await page.waitForFunction(() => (window as unknown as { captionInPicture: () => number }).captionInPicture() === 0, undefined, { timeout: 30000, polling: 50 });
    expect(await page.evaluate(() => (window as unknown as { pageCaptions: string[] }).pageCaptions.filter((c) => c !== ''))).toEqual([]);
  }, 120000);
});
