import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Animator, levelDb, seededRandom, DEFAULT_MOUTH } from '../src/avatar/animator';
import type { AvatarPack } from '../src/avatar/pack';
import { AvatarRenderer, HALF_AT } from '../src/avatar/renderer';

const FPS = 30, RATE = 48_000, SPF = RATE / FPS;
const OUT = { width: 1280, height: 720 }, AT = { x: 400, y: 120 };

/** Syllables of random length and pauses (seeded): frame i is loud when `plan[i]`. */
function speechPlan(frames: number, random: () => number): boolean[] {
  const plan: boolean[] = [];
  let loud = false;
  while (plan.length < frames) {
    const len = loud ? 3 + Math.floor(random() * 8) : 4 + Math.floor(random() * 10);
    for (let i = 0; i < len && plan.length < frames; i++) plan.push(loud);
    loud = !loud;
  }
  return plan;
}

function chunk(loud: boolean, frame: number): Int16Array {
  return Int16Array.from({ length: SPF }, (_, i) => {
    const t = (frame * SPF + i) / RATE;
    return loud ? Math.round(7000 * Math.sin(2 * Math.PI * 220 * t) + 2500 * Math.sin(2 * Math.PI * 660 * t)) : 0;
  });
}

/**
 * Encodes `plan` as speech with the avatar's mouth driven by the same samples, into a file. The
 * audio goes in as a file written first (two live pipes into one ffmpeg can stall each other).
 */
async function encode(pack: AvatarPack, plan: boolean[], file: string): Promise<void> {
  const renderer = new AvatarRenderer(pack);
  const anim = new Animator({ random: seededRandom(5) });
  const chunks = plan.map((loud, i) => chunk(loud, i));
  const pcmFile = `${file}.s16le`;
  fs.writeFileSync(pcmFile, Buffer.concat(chunks.map((c) => Buffer.from(c.buffer, c.byteOffset, c.byteLength))));
  const proc = spawn('ffmpeg', ['-loglevel', 'error', '-y', '-f', 'lavfi', '-i', `color=c=0x1e3250:s=${OUT.width}x${OUT.height}:r=${FPS}`,
    '-f', 'rawvideo', '-pix_fmt', 'rgba', '-s', `${pack.width}x${pack.height}`, '-r', String(FPS), '-i', 'pipe:0',
    '-f', 's16le', '-ar', String(RATE), '-ac', '1', '-i', pcmFile,
    '-filter_complex', `[0:v][1:v]overlay=x=${AT.x}:y=${AT.y}:shortest=1:format=yuv420,format=yuv420p[v]`,
    '-map', '[v]', '-map', '2:a', '-c:v', 'libx264', '-preset', 'veryfast', '-tune', 'zerolatency', '-g', '60',
    '-c:a', 'aac', '-b:a', '128k', '-f', 'mpegts', file], { stdio: ['pipe', 'ignore', 'pipe'] });
  let stderr = '';
  proc.stderr.on('data', (d: Buffer) => { stderr += d.toString(); });
  const closed = new Promise<number | null>((r) => proc.on('close', r));
  for (let i = 0; i < plan.length; i++) {
    const frame = renderer.render(anim.frame((i * 1000) / FPS, chunks[i]!, RATE));
    if (!proc.stdin.write(frame)) await new Promise((r) => proc.stdin.once('drain', r));
  }
  proc.stdin.end();
  if ((await closed) !== 0) throw new Error(`ffmpeg could not encode the lip-sync probe: ${stderr.slice(-500)}`);
}

/**
 * From the encoded file: dark pixels (lips, mouth inside) in the mouth box of each frame, the
 * avatar's box at `at`. The box has room for breathing, which moves the face a few rows.
 */
function mouthDarkness(pack: AvatarPack, file: string, at: { x: number; y: number }): number[] {
  const m = pack.anchors.mouth, bob = Math.ceil(pack.manifest.breathing.amplitudePx * pack.manifest.scale);
  const w = m.width, h = m.height + bob;
  const out = spawnSync('ffmpeg', ['-loglevel', 'error', '-i', file, '-map', '0:v', '-fps_mode', 'passthrough',
    '-vf', `format=gray,crop=${w}:${h}:${at.x + m.x}:${at.y + m.y}`, '-f', 'rawvideo', 'pipe:1'], { maxBuffer: 1 << 28 }).stdout;
  const size = w * h;
  return Array.from({ length: Math.floor(out.length / size) }, (_, f) => out.subarray(f * size, (f + 1) * size).reduce((n, v) => n + (v < 150 ? 1 : 0), 0));
}

/** Seconds the file's first audio starts after its first video frame (a recording joined mid-stream starts its picture at a keyframe). */
function audioLead(file: string): number {
  const out = spawnSync('ffprobe', ['-v', 'error', '-show_entries', 'stream=codec_type,start_time', '-of', 'csv=p=0', file]).stdout.toString();
  const start = (kind: string) => Number(new RegExp(`^${kind},([\\d.]+)`, 'm').exec(out)?.[1] ?? 0);
  return start('audio') - start('video');
}

/** From the encoded file: the speech level (dBFS) in each video frame's span of audio, the audio lined up with the first frame. */
function frameLevels(file: string): number[] {
  const out = spawnSync('ffmpeg', ['-loglevel', 'error', '-i', file, '-map', '0:a', '-ac', '1', '-ar', String(RATE), '-f', 's16le', 'pipe:1'], { maxBuffer: 1 << 28 }).stdout;
  const decoded = new Int16Array(out.buffer, out.byteOffset, Math.floor(out.length / 2));
  const lead = Math.round(audioLead(file) * RATE);
  let pcm = decoded.subarray(Math.max(0, -lead));
  if (lead > 0) (pcm = new Int16Array(lead + decoded.length)).set(decoded, lead);
  return Array.from({ length: Math.floor(pcm.length / SPF) }, (_, f) => levelDb(pcm.subarray(f * SPF, (f + 1) * SPF)));
}

/** The speech level that shows a mouth at all: the animator's mapping from its gate to wide open, at the renderer's first open shape. */
const SHOWS_MOUTH_DB = DEFAULT_MOUTH.gateDb + HALF_AT * (DEFAULT_MOUTH.fullDb - DEFAULT_MOUTH.gateDb);

/** Frame offsets of the nearest rising edge in `b` from each of `onsets` (positive: b later), where one is within 5 frames. */
function onsetOffsets(onsets: number[], b: boolean[]): number[] {
  const rb = b.flatMap((v, i) => (v && !b[i - 1] && i > 0 ? [i] : []));
  return onsets.flatMap((i) => {
    const j = rb.reduce((best, k) => (Math.abs(k - i) < Math.abs(best - i) ? k : best), Infinity);
    return Math.abs(j - i) <= 5 ? [j - i] : [];
  });
}

// A type, not an interface: scripts/avatar-bench.ts summarises it as a record of numbers.
export type LipSync = {
  /** Median frames from a speech onset to the mouth opening (positive: the mouth opens late). */
  offsetFrames: number;
  worstFrames: number;
  /** Speech onsets found, and those matched to a mouth opening (within 5 frames). */
  onsets: number;
  matched: number;
};

/**
 * The lip sync of an encoded file whose picture has the avatar's box at `at`: where speech starts
 * after a pause (loud enough to show a mouth after 3 frames below the gate: steep, so the level
 * lost to encoding and channel mixing does not move it), against where the mouth leaves its
 * closed shape (what silent frames show most; a bit more counts as open, encoding blurs edges).
 */
export function lipSyncOfFile(pack: AvatarPack, file: string, at: { x: number; y: number }): LipSync {
  const levels = frameLevels(file), dark = mouthDarkness(pack, file, at);
  const silent = dark.filter((_, f) => levels[f]! < DEFAULT_MOUTH.gateDb).sort((x, y) => x - y);
  const closed = silent[silent.length >> 1] ?? Math.min(...dark);
  const quiet = (f: number) => f >= 3 && levels.slice(f - 3, f).every((l) => l < DEFAULT_MOUTH.gateDb);
  const onsets = levels.flatMap((l, f) => (l > SHOWS_MOUTH_DB && quiet(f) ? [f] : []));
  const offsets = onsetOffsets(onsets, dark.map((d) => d > closed * 1.5 + 20)).sort((x, y) => x - y);
  return { offsetFrames: offsets[offsets.length >> 1] ?? NaN, worstFrames: Math.max(...offsets.map(Math.abs)), onsets: onsets.length, matched: offsets.length };
}

/**
 * Lip-sync offset of the renderer as a viewer gets it: synthetic syllables and the mouth they
 * drive are encoded together, then read back from the file (mouth pixels, audio level), with how
 * many syllables there were.
 */
export async function lipSyncProbe(pack: AvatarPack, seconds = 10): Promise<LipSync & { syllables: number }> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'idolcast-lipsync-'));
  try {
    const plan = speechPlan(seconds * FPS, seededRandom(11));
    plan.fill(false, 0, 5); // starts closed
    const file = path.join(dir, 'probe.ts');
    await encode(pack, plan, file);
    return { ...lipSyncOfFile(pack, file, AT), syllables: plan.filter((v, i) => v && !plan[i - 1]).length };
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}
