/**
 * The live page in a real Chromium, heard the way a viewer's speakers would hear it: an
 * AnalyserNode on the video element's audio output, sampled every few milliseconds. Shared by the
 * end-to-end tests and `npm run bench` (BENCH_ONLY=live).
 */
import { chromium, type Browser, type Page } from 'playwright-core';

/** The flags every test browser here runs with (no GPU, no network beyond loopback, no background traffic). */
export const CHROMIUM_ARGS = ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];

export function launchChromium(): Promise<Browser> {
  return chromium.launch({ executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium', args: CHROMIUM_ARGS });
}

/** One sample of the page: when, the loudness of its audio output (RMS), and the caption shown. */
export interface Level {
  at: number;
  rms: number;
  caption: string;
}

/** Runs in the page (kept as plain script: this file is compiled without the DOM's types). */
const EAR = `(() => {
  const video = document.getElementById('video');
  const ctx = new AudioContext();
  const analyser = ctx.createAnalyser();
  analyser.fftSize = 1024;
  ctx.createMediaElementSource(video).connect(analyser);
  analyser.connect(ctx.destination);
  // The page's first gesture (Send) lets the context run, as it lets the video play with sound.
  document.addEventListener('submit', () => void ctx.resume(), true);
  const buf = new Float32Array(analyser.fftSize);
  const levels = [];
  window.idolcastEar = { levels };
  setInterval(() => {
    analyser.getFloatTimeDomainData(buf);
    let sum = 0;
    for (const v of buf) sum += v * v;
    levels.push({ at: Date.now(), rms: Math.sqrt(sum / buf.length), caption: document.getElementById('caption').textContent || '' });
    if (levels.length > 40000) levels.splice(0, 20000);
  }, EVERY_MS);
})()`;

/** Start listening to the page's audio output. */
export async function listen(page: Page, everyMs = 20): Promise<void> {
  await page.evaluate(EAR.replace('EVERY_MS', String(everyMs)));
}

/** What the page has heard since `since` (ms, wall clock). */
export async function levels(page: Page, since = 0): Promise<Level[]> {
  return page.evaluate<Level[]>(`window.idolcastEar.levels.filter((l) => l.at >= ${Number(since)})`);
}

/** The first moment after `since` the page's output was louder than `rms`, or undefined. */
export async function heardAfter(page: Page, since: number, rms = 0.02): Promise<number | undefined> {
  return (await levels(page, since)).find((l) => l.rms > rms)?.at;
}

export interface PlayerState {
  mode: string;
  reconnects: number;
  fallbackWhy: string;
  /** The on-air time of what the page plays now. */
  clock: number;
  currentTime: number;
  /** Seconds of stream the page holds ahead of what it plays: the player's own share of the delay. */
  aheadS: number;
}

/** The page's player, as it exposes itself (`window.idolcastPlayer`). */
export function playerState(page: Page): Promise<PlayerState> {
  return page.evaluate<PlayerState>(`(() => {
    const v = document.getElementById('video');
    const ahead = v.buffered.length ? v.buffered.end(v.buffered.length - 1) - v.currentTime : 0;
    return { ...window.idolcastPlayer, clock: window.idolcastPlayer.clock(), currentTime: v.currentTime, aheadS: ahead };
  })()`);
}
