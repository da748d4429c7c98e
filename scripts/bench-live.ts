/**
 * `BENCH_ONLY=live` (and a key of the full run): chat → audible on the live page in Chromium. A
 * line is typed into the page's own chat box and sent; the page's audio output, heard through an
 * AnalyserNode on its video element (testkit/live-page.ts), says when the speech reaches the
 * viewer's speakers. One line at a time with the playout idle before each, no background bed (so
 * the first energy is the speech). The low-latency stream by default; `hls: true` measures the
 * HLS fallback the same way, for comparison. Its own file: bench.ts is past the length a file should have.
 */
import type { ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import YAML from 'yaml';
import type { Browser, Page } from 'playwright-core';
import { freeLoopbackPort } from '../src/ports';
import { sleep } from '../src/time';
import { heardAfter, launchChromium, listen, playerState } from '../testkit/live-page';
import { log, percentile } from './bench-kit';

/** What the section needs of the bench: its config file and its process spawner. */
export interface LiveBench {
  readonly dir: string;
  readonly configPath: string;
  spawn(args: string[], env?: NodeJS.ProcessEnv): ChildProcess;
  stopChildren(): Promise<void>;
  flush(): Promise<void>;
}

/** Louder than this (RMS of the page's output) is speech; silence with no bed is ~0. */
const SPEECH_RMS = 0.02;
/** A line not heard within this is counted as missed. */
const HEAR_WITHIN_MS = 10_000;


/**
 * The bench config with the page's chat box open wide (the rate limits would refuse 30 lines a
 * minute), no shedding on a slow Redis round trip (a loaded machine would drop lines: the bench
 * measures the path, not the shedding), no bed, and a live view directory of its own per run (a
 * link left by an earlier run's broadcaster would be played until the new one goes on air).
 */
function writeConfig(b: LiveBench, hls: boolean): string {
  const file = path.join(b.dir, 'live.yaml');
  const base = YAML.parse(fs.readFileSync(b.configPath, 'utf8')) as Record<string, unknown>;
  const wide = { burst: 1000, perMinute: 60_000 };
  const never = 1_000_000;
  fs.writeFileSync(
    file,
    YAML.stringify({
      ...base,
      degradation: { redisRttMs: { shed: never, ttl: never, voice: never } },
      channels: { main: { live: { dir: path.join(b.dir, hls ? 'live-page-hls' : 'live-page') } } },
      playout: { bed: { source: 'none' } },
      control: { chatRate: { perClient: wide, global: wide }, ...(hls ? { maxLiveViewers: 0 } : {}) },
    }),
  );
  return file;
}

async function openPage(browser: Browser, port: number): Promise<Page> {
  const page = await browser.newPage();
  for (let i = 0; i < 300; i++) {
    try {
      await page.goto(`http://127.0.0.1:${port}/`);
      break;
    } catch {
      await sleep(200); // the control server is still starting
    }
  }
  await page.waitForFunction('document.getElementById("status").textContent === "live"', undefined, { timeout: 60_000 });
  return page;
}

/**
 * Type a line into the page's chat box, send it, and wait (bounded) until the page's output
 * carries speech: how long that took, and how much stream the page held ahead of what it played
 * then (the player's own share of the delay).
 */
async function sayAndHear(page: Page, text: string): Promise<{ ms: number; aheadMs: number } | undefined> {
  await page.fill('#text', text);
  const sentAt = Date.now();
  await page.click('button[type=submit]');
  for (let t = Date.now(); Date.now() - t < HEAR_WITHIN_MS; ) {
    const heard = await heardAfter(page, sentAt, SPEECH_RMS);
    if (heard !== undefined) return { ms: heard - sentAt, aheadMs: Math.round((await playerState(page)).aheadS * 1000) };
    await sleep(20);
  }
  return undefined;
}

/** Chat → audible on the live page: p50/p99 over `lines` lines, with the machine's load. */
export async function liveFigures(b: LiveBench, opts: { lines?: number; hls?: boolean } = {}) {
  const lines = opts.lines ?? 30;
  await b.flush();
  const config = writeConfig(b, opts.hls === true);
  const port = await freeLoopbackPort();
  const env = { IDOLCAST_CONFIG: config };
  let browser: Browser | undefined;
  try {
    b.spawn(['control'], { ...env, PORT: String(port) });
    for (const args of [['ingest'], ['worker', 'tts'], ['worker', 'audio'], ['broadcast']]) b.spawn(args, env);
    browser = await launchChromium();
    const page = await openPage(browser, port);
    const mode = (await playerState(page)).mode;
    await listen(page, 10);
    await page.fill('#user', 'bench');
    const latencies: number[] = [];
    const ahead: number[] = [];
    for (let i = 0; i < lines; i++) {
      const heard = await sayAndHear(page, `Line ${i}: hello stream.`);
      if (heard) {
        latencies.push(heard.ms);
        ahead.push(heard.aheadMs);
      }
      log('live page line', i, heard);
      // Let the line finish and the playout go idle before the next one.
      await sleep(2500);
    }
    return {
      mode,
      lines,
      heard: latencies.length,
      chatToAudibleMs: { p50: percentile(latencies, 50), p99: percentile(latencies, 99), max: percentile(latencies, 100) },
      /** Stream the page held ahead of what it played when each line was heard: the player's own share. */
      playerBufferMs: { p50: percentile(ahead, 50), p99: percentile(ahead, 99) },
      loadAverage: os.loadavg().map((l) => Math.round(l * 100) / 100),
      target: { p50Ms: 1000 },
    };
  } finally {
    await browser?.close();
    await b.stopChildren();
  }
}
