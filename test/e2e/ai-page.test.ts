/// <reference lib="dom" />
import { chromium, type Browser } from 'playwright-core';
import { AiSwitch } from '../../src/ai/switch';
import { freeLoopbackPort } from '../../src/ports';
import { handle as audioHandle } from '../../workers/audio.worker';
import { aiLog, audioWorkerDeps, voicedLine } from '../helpers/ai-fleet';
import { TestFleet, eventually } from '../helpers/fleet';

describe('the live page\'s AI controls in a real browser (Chromium; control process, real Redis)', () => {
  let fleet: TestFleet;
  let browser: Browser | undefined;
  afterEach(async () => {
    await browser?.close();
    await fleet?.close();
  });

  it('shows the kill switch and the lines in the delay; the dump button takes them back; the switch turns AI off fleet-wide', async () => {
    fleet = new TestFleet({ ai: { safety: { delayMs: 60_000 } } });
    const port = await freeLoopbackPort();
    const control = fleet.start(['control'], { PORT: String(port) });
    await control.waitForLog('control server listening', {}, 60000);
    // An AI line voiced and waiting out its delay.
    await audioHandle(await voicedLine(fleet, 'ai-page-0', 'ai'), audioWorkerDeps(fleet));

    browser = await chromium.launch({
      executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    });
    const page = await browser.newPage();
    await page.goto(`http://127.0.0.1:${port}/`);
    const text = (id: string) => page.evaluate((i) => document.getElementById(i)?.textContent ?? '', id);
    await page.waitForFunction(() => document.getElementById('ai-toggle')?.textContent === 'AI replies: on', undefined, { timeout: 20000 });
    await page.waitForFunction(() => document.getElementById('ai-state')?.textContent?.startsWith('60 s delay, 1 held'), undefined, { timeout: 20000 });

    await page.click('#dump');
    await page.waitForFunction(() => document.getElementById('ai-state')?.textContent === 'dumped: 1 held line(s) dropped', undefined, { timeout: 20000 });
    expect(await fleet.queues.queue('playout', 'main').getJobState('ai-page-0')).toBe('unknown');
    const logged = await control.waitForLog('AI lines dumped', { channel: 'main', held: 1 });
    expect(logged.by).toMatch(/^page:/);

    await page.click('#ai-toggle');
    await page.waitForFunction(() => document.getElementById('ai-toggle')?.textContent === 'AI replies: off', undefined, { timeout: 20000 });
    const state = await eventually(async () => {
      const s = await new AiSwitch({ config: fleet.config, redis: fleet.redis, log: aiLog }).state();
      return s.on ? undefined : s;
    }, 'the switch off in Redis');
    expect(state.by).toMatch(/^page:/);
    expect(await text('error')).toBe('');
  }, 180_000);
});
