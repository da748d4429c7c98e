import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Animator, seededRandom } from '../src/avatar/animator';
import { ensureDefaultPack } from '../src/avatar/default-pack';
import { loadPack, type AvatarPack } from '../src/avatar/pack';
import { AvatarRenderer, type AvatarState } from '../src/avatar/renderer';
import { YuvCompositor } from '../src/avatar/yuv';
import { cpuSeconds } from '../testkit/procfs';
import { lipSyncProbe } from './avatar-lipsync';

/**
 * The avatar's cost on this machine (usage: node dist/scripts/avatar-bench.js [seconds] [runs]).
 * Render: ms a frame (median, p99) and the Node process's CPU share (1.0 = one core) at 30 fps,
 * with the mouth shape changing every frame (cache off, cache on) and idle (blinks, breathing).
 * End to end: the frames paced at 30 fps into a real ffmpeg encoding 1280x720@30 with libx264
 * veryfast/zerolatency (+ AAC), three ways: the plain background (today's picture), the avatar as a
 * second rawvideo rgba input overlaid by ffmpeg, and the avatar blended in Node into yuv420p.
 * Lip sync: speech and the mouth it drives encoded together and read back from the file (onset
 * offset in frames, 0 = same frame). Each figure is run `runs` times: median and spread (min, max).
 */
const FPS = 30;
const OUT = { width: 1280, height: 720 };
const AT = { x: 400, y: 120 };
const RATE = 48_000;
const SHAPES: Array<number | string> = [0.3, 0.9, 0, 'O', 'I']; // a different mouth every frame

type Mode = 'speakingNoCache' | 'speaking' | 'idle';

/** Synthetic speech for mouthFromPcm's cost: a tone chopped into syllables. */
function speechChunk(frame: number): Int16Array {
  const loud = frame % 6 < 4 ? 9000 : 0;
  return Int16Array.from({ length: RATE / FPS }, (_, i) => Math.round(loud * Math.sin((2 * Math.PI * 220 * (frame * 1600 + i)) / RATE)));
}

function stateFor(mode: Mode, anim: Animator, frame: number): AvatarState {
  const nowMs = (frame * 1000) / FPS;
  if (mode === 'idle') return anim.frame(nowMs, new Int16Array(RATE / FPS), RATE);
  const s = anim.frame(nowMs, speechChunk(frame), RATE);
  return { ...s, mouth: SHAPES[frame % SHAPES.length]! };
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

function quantile(xs: number[], q: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(q * s.length))] ?? NaN;
}

const r3 = (x: number) => Math.round(x * 1000) / 1000;

/**
 * Calls `frame(i)` at 30 fps for `seconds`; returns ms each call took and the CPU share of this
 * process (and of `child`, if given) over the run.
 */
async function paced(seconds: number, frame: (i: number) => Promise<void> | void, child?: number) {
  const n = seconds * FPS, took: number[] = [];
  const cpu0 = process.cpuUsage(), child0 = child ? cpuSeconds(child) : 0, t0 = performance.now();
  for (let i = 0; i < n; i++) {
    const due = t0 + (i * 1000) / FPS;
    const wait = due - performance.now();
    if (wait > 1) await sleep(wait);
    const t = performance.now();
    await frame(i);
    took.push(performance.now() - t);
  }
  const wallS = (performance.now() - t0) / 1000;
  const cpu = process.cpuUsage(cpu0);
  const nodeShare = (cpu.user + cpu.system) / 1e6 / wallS;
  const childShare = child ? (cpuSeconds(child) - child0) / wallS : 0;
  return { took, nodeShare, childShare };
}

async function renderRun(pack: AvatarPack, mode: Mode, seconds: number) {
  const renderer = new AvatarRenderer(pack, mode === 'speakingNoCache' ? { compositeCache: 0, frameCache: 0 } : {});
  const anim = new Animator({ random: seededRandom(42) });
  const r = await paced(seconds, (i) => { renderer.render(stateFor(mode, anim, i)); });
  return { msMedian: quantile(r.took, 0.5), msP99: quantile(r.took, 0.99), cpuShare: r.nodeShare };
}

type E2e = 'plain' | 'ffmpegOverlay' | 'nodeBlend';

function startEncoder(kind: E2e, pack: AvatarPack): ChildProcessWithoutNullStreams {
  const video = kind === 'ffmpegOverlay'
    ? ['-f', 'lavfi', '-i', `color=c=0x1e3250:s=${OUT.width}x${OUT.height}:r=${FPS}`,
        '-f', 'rawvideo', '-pix_fmt', 'rgba', '-s', `${pack.width}x${pack.height}`, '-r', String(FPS), '-i', 'pipe:0',
        '-filter_complex', `[0:v][1:v]overlay=x=${AT.x}:y=${AT.y}:shortest=1:format=yuv420,format=yuv420p[v]`]
    : ['-f', 'rawvideo', '-pix_fmt', 'yuv420p', '-s', `${OUT.width}x${OUT.height}`, '-r', String(FPS), '-i', 'pipe:0'];
  const audioIndex = kind === 'ffmpegOverlay' ? 2 : 1;
  return spawn('ffmpeg', ['-loglevel', 'error', '-nostats', '-progress', 'pipe:2', ...video,
    '-f', 'lavfi', '-i', `sine=frequency=220:sample_rate=${RATE}`,
    '-map', kind === 'ffmpegOverlay' ? '[v]' : '0:v', '-map', `${audioIndex}:a`, '-shortest',
    '-c:v', 'libx264', '-preset', 'veryfast', '-tune', 'zerolatency', '-pix_fmt', 'yuv420p',
    '-g', '60', '-keyint_min', '60', '-sc_threshold', '0', '-b:v', '2500k', '-maxrate', '2500k', '-bufsize', '5000k',
    '-c:a', 'aac', '-b:a', '128k', '-ac', '2', '-f', 'null', '-']);
}

/** A yuv420p frame of the background colour the overlay case uses. */
function backgroundFrame(): Buffer {
  const ySize = OUT.width * OUT.height;
  const f = Buffer.alloc((ySize * 3) / 2);
  f.fill(48, 0, ySize); // 0x1e3250 in BT.601 limited range: Y 48, U 152, V 119
  f.fill(152, ySize, ySize + ySize / 4);
  f.fill(119, ySize + ySize / 4);
  return f;
}

/** Writes a frame, waiting when the pipe is full; a stopped ffmpeg fails the run with its last words. */
function write(proc: ChildProcessWithoutNullStreams, buf: Buffer, stderr: () => string): Promise<void> | void {
  if (proc.stdin.destroyed || proc.exitCode !== null) throw new Error(`ffmpeg stopped: ${stderr().slice(-500)}`);
  if (proc.stdin.write(buf)) return;
  return new Promise((r) => proc.stdin.once('drain', () => r()));
}

/** Paced speech through a real encoder; and the encoder's speed when fed flat out. */
async function e2eRun(pack: AvatarPack, kind: E2e, seconds: number) {
  const renderer = new AvatarRenderer(pack);
  const anim = new Animator({ random: seededRandom(42) });
  const bg = backgroundFrame();
  const blend = new YuvCompositor(OUT.width, OUT.height, pack.width, pack.height, AT);
  const frameFor = (i: number): Buffer => {
    if (kind === 'plain') return bg;
    const avatar = renderer.render(stateFor('speaking', anim, i));
    return kind === 'ffmpegOverlay' ? avatar : blend.compose(bg, avatar);
  };
  const proc = startEncoder(kind, pack);
  let progress = '';
  proc.stderr.on('data', (d: Buffer) => { progress = (progress + d.toString()).slice(-4000); });
  proc.stdin.on('error', () => undefined); // EPIPE when ffmpeg stops: write() reports it with ffmpeg's stderr
  const send = (b: Buffer) => write(proc, b, () => progress);
  const closed = new Promise<void>((r) => proc.on('close', () => r()));
  for (let i = 0; i < FPS; i++) await send(frameFor(i)); // warm-up second, not measured
  const r = await paced(seconds, (i) => send(frameFor(FPS + i)), proc.pid);
  const n = seconds * FPS, t0 = performance.now();
  for (let i = 0; i < n; i++) await send(frameFor(i));
  proc.stdin.end();
  await closed;
  const flatOutS = (performance.now() - t0) / 1000;
  const dropped = Number(/drop_frames=(\d+)/.exec(progress)?.[1] ?? 0);
  return { nodeShare: r.nodeShare, ffmpegShare: r.childShare, totalShare: r.nodeShare + r.childShare, flatOutSpeed: n / FPS / flatOutS, dropped };
}

function summarise(runs: Array<Record<string, number>>): Record<string, { median: number; min: number; max: number }> {
  const out: Record<string, { median: number; min: number; max: number }> = {};
  for (const k of Object.keys(runs[0] ?? {})) {
    const xs = runs.map((r) => r[k]!);
    out[k] = { median: r3(quantile(xs, 0.5)), min: r3(Math.min(...xs)), max: r3(Math.max(...xs)) };
  }
  return out;
}

async function main(): Promise<void> {
  const seconds = Number(process.argv[2] ?? 10), runs = Number(process.argv[3] ?? 3);
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'idolcast-avatar-bench-'));
  try {
    const pack = loadPack(ensureDefaultPack(path.join(tmp, 'default')));
    const render: Record<string, Array<Record<string, number>>> = {}, e2e: Record<string, Array<Record<string, number>>> = {};
    for (let run = 0; run < runs; run++) {
      for (const mode of ['speakingNoCache', 'speaking', 'idle'] as const) (render[mode] ??= []).push(await renderRun(pack, mode, seconds));
      for (const kind of ['plain', 'ffmpegOverlay', 'nodeBlend'] as const) (e2e[kind] ??= []).push(await e2eRun(pack, kind, seconds));
      (e2e.lipSync ??= []).push(await lipSyncProbe(pack, seconds));
    }
    const summary = (o: typeof render) => Object.fromEntries(Object.entries(o).map(([k, v]) => [k, summarise(v)]));
    const report = JSON.stringify({
      machine: { cpus: os.cpus().length, loadavg1: r3(os.loadavg()[0]!) }, seconds, runs,
      avatar: { width: pack.width, height: pack.height }, output: `${OUT.width}x${OUT.height}@${FPS}`,
      render: summary(render), e2e: summary(e2e),
    }, null, 1);
    console.log(report.replace(/\{\s+"median": ([^,]+),\s+"min": ([^,]+),\s+"max": ([^\s]+)\s+\}/g, '{ "median": $1, "min": $2, "max": $3 }'));
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true });
  }
}

main().catch((err) => { console.error(err); process.exitCode = 1; });
