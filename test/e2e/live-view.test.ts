import http from 'node:http';
import net from 'node:net';
import type { Browser, Page } from 'playwright-core';
import { TestFleet, eventually, type RunningProcess } from '../helpers/fleet';
import { freeLoopbackPort } from '../../src/ports';
import { launchChromium, playerState } from '../../testkit/live-page';

/** A plain client of the low-latency stream: counts what it gets; `stall` makes it stop reading. */
class PlainViewer {
  status?: number;
  clock?: string;
  bytes = 0;
  closed = false;
  private readonly req: http.ClientRequest;

  constructor(port: number, headers: Record<string, string> = {}) {
    this.req = http.get({ host: '127.0.0.1', port, path: '/api/live?channel=main', headers }, (res) => {
      this.status = res.statusCode;
      this.clock = res.headers['x-idolcast-clock'] as string | undefined;
      res.on('data', (d: Buffer) => (this.bytes += d.length));
      res.on('close', () => (this.closed = true));
    });
    this.req.on('error', () => (this.closed = true));
  }

  close(): void {
    this.req.destroy();
  }
}

async function openPage(browser: Browser, port: number): Promise<Page> {
  const page = await browser.newPage();
  await page.goto(`http://127.0.0.1:${port}/`);
  await page.waitForFunction('document.getElementById("status").textContent === "live"', undefined, { timeout: 30000 });
  return page;
}

/** The page's video plays on: its time moves past where it is now. */
async function playsOn(page: Page, what: string): Promise<void> {
  const from = (await playerState(page)).currentTime;
  await eventually(async () => ((await playerState(page)).currentTime > from + 1 ? true : undefined), what, 20000);
}

async function encoderSpeed(port: number): Promise<number | undefined> {
  const res = await fetch(`http://127.0.0.1:${port}/api/fleet`);
  const body = (await res.json()) as { members: { kind: string; detail?: { role?: string; encoderSpeed?: number } }[] };
  return body.members.find((m) => m.kind === 'broadcast' && m.detail?.role === 'active')?.detail?.encoderSpeed;
}

describe('the low-latency live view (real ffmpeg, real Chromium, mpegts.js)', () => {
  let fleet: TestFleet;
  let browser: Browser | undefined;
  const viewers: PlainViewer[] = [];
  afterEach(async () => {
    for (const v of viewers.splice(0)) v.close();
    await browser?.close();
    browser = undefined;
    await fleet?.close();
  });

  async function startFleet(control: Record<string, unknown> = {}): Promise<{ port: number; control: RunningProcess; broadcaster: RunningProcess }> {
    fleet = new TestFleet();
    fleet.configure({ control });
    const port = await freeLoopbackPort();
    const controlProcess = fleet.start(['control'], { PORT: String(port) });
    const broadcaster = fleet.start(['broadcast']);
    await controlProcess.waitForLog('control server listening');
    await broadcaster.waitForLog('broadcaster ready', {}, 30000);
    return { port, control: controlProcess, broadcaster };
  }

  it('50 viewers at once: the page keeps its stream, a viewer that does not read is dropped, the 51st is refused, the encoder keeps real time', async () => {
    const { port, control } = await startFleet({ maxLiveViewers: 50, liveViewerBufferBytes: 65536 });
    browser = await launchChromium();
    const page = await openPage(browser, port);
    expect((await playerState(page)).mode).toBe('lowlatency');

    for (let i = 0; i < 48; i++) viewers.push(new PlainViewer(port));
    // The 50th asks for the stream and never reads a byte of it: what the server sends piles up on its side.
    const stalled = net.connect(port, '127.0.0.1', () => stalled.write(`GET /api/live?channel=main HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\n\r\n`));
    stalled.pause();
    await eventually(async () => (viewers.every((v) => v.status === 200 && v.bytes > 0) ? true : undefined), '48 plain viewers streaming', 30000);
    // Every viewer starts at a keyframe and is told its stream's on-air clock.
    expect(viewers.every((v) => Number(v.clock) > 0)).toBe(true);
    const refused = new PlainViewer(port);
    viewers.push(refused);
    await eventually(async () => refused.status, 'the 51st viewer\'s answer');
    expect(refused.status).toBe(503);

    // The one that does not read is dropped, and the others go on receiving.
    await control.waitForLog('live viewer dropped: not reading', {}, 60000);
    stalled.destroy();
    // Its place is free again.
    const next = new PlainViewer(port);
    viewers.push(next);
    await eventually(async () => next.status, 'the next viewer\'s answer');
    expect(next.status).toBe(200);
    const others = viewers.slice(0, 48);
    const marks = others.map((v) => v.bytes);
    await eventually(async () => (others.every((v, i) => v.bytes > marks[i]! && !v.closed) ? true : undefined), 'every other viewer to keep receiving', 20000);
    await playsOn(page, 'the page to play on');
    expect((await playerState(page)).mode).toBe('lowlatency');
    // The encoder is never held back by the viewers: media seconds it encoded per second over the
    // last 10 s of its progress, to one decimal (a progress line comes every ~0.5 s).
    const speed = await eventually(() => encoderSpeed(port), 'the encoder\'s speed figure');
    expect(Math.round(speed * 10) / 10).toBeGreaterThanOrEqual(1);
    // The kernel's socket buffers take a few MB before our bound is reached: tens of seconds at this bitrate.
  }, 180_000);

  it('a refused low-latency stream: the page plays HLS instead', async () => {
    const { port } = await startFleet({ maxLiveViewers: 0 });
    browser = await launchChromium();
    const page = await openPage(browser, port);
    const state = await playerState(page);
    expect(state.mode).toBe('hls');
    expect(state.fallbackWhy).toContain('HTTP 503');
    await playsOn(page, 'the HLS view to play');
  });

  it('a browser without Media Source Extensions is not offered the low-latency stream', async () => {
    const { port } = await startFleet();
    browser = await launchChromium();
    const page = await browser.newPage();
    await page.addInitScript('delete window.MediaSource; delete window.ManagedMediaSource; delete window.WebKitMediaSource;');
    await page.goto(`http://127.0.0.1:${port}/`);
    await page.waitForFunction('window.idolcastPlayer.mode !== "connecting"');
    const state = await playerState(page);
    // hls.js needs MSE too: the page hands the playlist to the video element itself.
    expect(state.mode).toBe('native');
    expect(state.fallbackWhy).toBe('no Media Source Extensions here');
  });

  it('the stream keeps the control server\'s Host and Origin checks', async () => {
    const { port } = await startFleet();
    const foreignOrigin = new PlainViewer(port, { origin: 'http://attacker.example' });
    const foreignHost = new PlainViewer(port, { host: 'rebind.attacker.example' });
    viewers.push(foreignOrigin, foreignHost);
    await eventually(async () => (foreignOrigin.status && foreignHost.status ? true : undefined), 'both answers');
    expect(foreignOrigin.status).toBe(403);
    expect(foreignHost.status).toBe(421);
  });

  it('the page reconnects by itself when the standby takes over, and when the broadcaster is restarted', async () => {
    const { port, broadcaster: first } = await startFleet();
    const standby = fleet.start(['broadcast']);
    await standby.waitForLog('broadcaster warm: encoding, published nowhere yet', {}, 30000);
    browser = await launchChromium();
    const page = await openPage(browser, port);
    expect((await playerState(page)).mode).toBe('lowlatency');

    first.kill('SIGKILL');
    await standby.waitForLog('broadcaster active', {}, 20000);
    await page.waitForFunction('window.idolcastPlayer.reconnects >= 1 && window.idolcastPlayer.mode === "lowlatency"', undefined, { timeout: 30000 });
    await playsOn(page, 'the page to play the new broadcaster\'s stream');

    // A restart: the only broadcaster stops, a new one starts in its place.
    standby.kill('SIGTERM');
    await standby.exited;
    const reconnects = (await playerState(page)).reconnects;
    const restarted = fleet.start(['broadcast']);
    await restarted.waitForLog('broadcaster ready', {}, 30000);
    await page.waitForFunction(`window.idolcastPlayer.reconnects > ${reconnects} && window.idolcastPlayer.mode === "lowlatency"`, undefined, { timeout: 30000 });
    await playsOn(page, 'the page to play the restarted broadcaster\'s stream');
  }, 180_000);
});
