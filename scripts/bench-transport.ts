/**
 * `node dist-tools/scripts/bench-transport.js`: where the broadcaster's part of chat → audible goes.
 * A short tone is handed to the real-time pump of the broadcaster's own output path (the pump,
 * the encoder with its picture, the destination pusher, a loopback nginx-rtmp, a viewer), and
 * timed at each stage: handed to the encoder, out of the encoder (its MPEG-TS decoded on the
 * side), heard by the RTMP viewer. The floor is the same tone written straight into one ffmpeg
 * that publishes to nginx-rtmp (raw PCM → AAC → FLV), heard by a viewer of its own.
 * TONES (default 30) per path, AUDIO_ONLY=1 for the encoder without its picture; the JSON on
 * stdout gives p50/p99 of each stage in ms.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { DestinationRelay } from '../src/broadcast/destination-relay';
import { GopCache } from '../src/broadcast/gop-cache';
import { HlsEncoder } from '../src/broadcast/hls-encoder';
import { RealtimePump } from '../src/broadcast/realtime-pump';
import { parseConfig } from '../src/config/load';
import { createLogger } from '../src/logger';
import { sleep } from '../src/time';
import { NginxRtmp } from '../testkit/nginx-rtmp';
import { RtmpViewer } from '../testkit/rtmp-pull';
import { runMain } from './run-main';
import { percentile } from './bench-kit';

const RATE = 24000;
const TONES = Number(process.env.TONES ?? 30);
const log = (...a: unknown[]) => console.error('[transport]', ...a);
const quiet = createLogger('bench', 'warn');
const relayEvents = { onAir: () => {}, reconnect: () => {}, sent: () => {}, dropped: () => {} };


/** 300 ms of a 440 Hz tone at half scale. */
function tone(rate: number): Buffer {
  const n = Math.round(rate * 0.3);
  const b = Buffer.alloc(n * 2);
  for (let i = 0; i < n; i++) b.writeInt16LE(Math.round(16000 * Math.sin((2 * Math.PI * 440 * i) / rate)), i * 2);
  return b;
}

/** An ffmpeg decoding the stream it is fed (stdin) or pulls (url) to PCM, with the first loud moment after a time. */
class Ear {
  private readonly loud: number[] = [];
  readonly proc: ChildProcess;

  constructor(input: string[]) {
    this.proc = spawn('ffmpeg', ['-loglevel', 'error', '-fflags', 'nobuffer', '-flags', 'low_delay', '-probesize', '32', '-analyzeduration', '0', ...input, '-vn', '-ac', '1', '-ar', '16000', '-f', 's16le', 'pipe:1'], { stdio: ['pipe', 'pipe', 'ignore'] });
    this.proc.stdout!.on('data', (d: Buffer) => {
      for (let i = 0; i + 320 <= d.length; i += 320) {
        let sum = 0;
        for (let j = 0; j < 320; j += 2) sum += (d.readInt16LE(i + j) / 32768) ** 2;
        if (Math.sqrt(sum / 160) > 0.02) return void this.loud.push(Date.now());
      }
    });
  }

  heardAfter(since: number): number | undefined {
    return this.loud.find((t) => t >= since);
  }
}

async function waitHeard(ears: Ear[], since: number): Promise<(number | undefined)[]> {
  for (let i = 0; i < 300 && ears.some((e) => e.heardAfter(since) === undefined); i++) await sleep(5);
  return ears.map((e) => e.heardAfter(since));
}

/** When the RTMP viewer first heard sound after `since` (waits up to 1.5 s). */
async function heardBy(viewer: RtmpViewer, since: number): Promise<number | undefined> {
  for (let i = 0; i < 300; i++) {
    const heard = viewer.heardAfter(since);
    if (heard !== undefined) return heard;
    await sleep(5);
  }
  return undefined;
}

type Stages = Record<string, number[]>;
const summary = (s: Stages) => Object.fromEntries(Object.entries(s).map(([k, v]) => [k, { p50: percentile(v, 50), p99: percentile(v, 99), n: v.length }]));

/** The broadcaster's path: pump → encoder (tee: HLS + MPEG-TS) → pusher → nginx-rtmp → viewer. */
async function ourPath(dir: string, nginx: NginxRtmp): Promise<Stages> {
  const config = parseConfig('{}', 'bench-transport.yaml', {});
  const base = config.channels.main!;
  const channel = { ...base, destinations: {}, video: { ...base.video, audioOnly: process.env.AUDIO_ONLY === '1' } };
  const relay = new DestinationRelay('local', `${nginx.url}/ours`, undefined, quiet, relayEvents, () => gop.snapshot());
  const gop = new GopCache();
  const side = new Ear(['-f', 'mpegts', '-i', 'pipe:0']);
  const encoder = new HlsEncoder(channel, path.join(dir, 'hls'), RATE, quiet, () => {}, (chunk) => (gop.push(chunk), relay.write(chunk), side.proc.stdin!.write(chunk)));
  let handedAt = 0;
  const pump = new RealtimePump(RATE, config.playout.leadMs, (pcm, dueAt) => encoder.write(pcm, dueAt), 20);
  relay.prepare();
  encoder.start();
  pump.start();
  await Promise.race([encoder.clockReady, sleep(15000)]);
  relay.start();
  const viewer = new RtmpViewer(`${nginx.url}/ours`);
  for (let i = 0; i < 200 && viewer.seconds < 2; i++) await sleep(50);
  const stages: Stages = { playToHanded: [], handedToEncoded: [], encodedToHeard: [], playToHeard: [] };
  const pcm = tone(RATE);
  for (let n = 0; n < TONES; n++) {
    await sleep(700 + Math.random() * 100);
    const at = Date.now();
    void pump.play(pcm, () => (handedAt = Date.now()));
    const [encoded] = await waitHeard([side], at);
    const heard = await heardBy(viewer, at);
    if (encoded === undefined || heard === undefined) continue;
    stages.playToHanded!.push(handedAt - at);
    stages.handedToEncoded!.push(encoded - handedAt);
    stages.encodedToHeard!.push(heard - encoded);
    stages.playToHeard!.push(heard - at);
  }
  viewer.stop();
  pump.stop();
  side.proc.kill('SIGKILL');
  encoder.kill();
  relay.kill();
  return stages;
}

/** The floor: raw PCM in real time into one ffmpeg publishing AAC in FLV to nginx-rtmp, heard by a viewer. */
async function floorPath(nginx: NginxRtmp): Promise<Stages> {
  const pub = spawn('ffmpeg', ['-loglevel', 'error', '-probesize', '32', '-analyzeduration', '0', '-f', 's16le', '-ar', String(RATE), '-ac', '1', '-i', 'pipe:0', '-c:a', 'aac', '-flush_packets', '1', '-f', 'flv', `${nginx.url}/floor`], { stdio: ['pipe', 'ignore', 'ignore'] });
  const silence = Buffer.alloc((RATE / 50) * 2);
  let pending: Buffer | undefined;
  const timer = setInterval(() => {
    pub.stdin.write(pending ?? silence);
    pending = undefined;
  }, 20);
  const viewer = new RtmpViewer(`${nginx.url}/floor`);
  for (let i = 0; i < 200 && viewer.seconds < 2; i++) await sleep(50);
  const stages: Stages = { playToHeard: [] };
  const pcm = tone(RATE);
  for (let n = 0; n < TONES; n++) {
    await sleep(700 + Math.random() * 100);
    const at = Date.now();
    pub.stdin.write(pcm);
    const heard = await heardBy(viewer, at);
    if (heard !== undefined) stages.playToHeard!.push(heard - at);
  }
  clearInterval(timer);
  viewer.stop();
  pub.kill('SIGKILL');
  return stages;
}

async function main(): Promise<void> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'idolcast-transport-'));
  const nginx = new NginxRtmp(path.join(dir, 'nginx'));
  await nginx.start();
  try {
    log('floor');
    const floor = await floorPath(nginx);
    log('our path');
    const ours = await ourPath(dir, nginx);
    console.log(JSON.stringify({ load: os.loadavg().map((l) => Math.round(l * 10) / 10), tones: TONES, floor: summary(floor), broadcaster: summary(ours) }, null, 2));
  } finally {
    await nginx.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

runMain(main);
