/**
 * `BENCH_ONLY=avatar`: the avatar's cost in the real broadcaster (issue #15). Channel `main` at
 * 1280x720@30 pushed to nginx-rtmp twice: with the avatar (as the embedded default has it) and
 * with the plain picture. For each: the broadcaster's CPU share (with its ffmpeg children; 1.0 =
 * one core) idle and while it speaks without pause, and the encoder's speed while speaking:
 * video frames received from nginx-rtmp against wall time (1.0× = every frame of real time), with
 * the frames the broadcaster dropped because the encoder fell behind (its own counter). The
 * avatar's speaking window is BENCH_AVATAR_SECONDS long (300 s by default: "sustained"). Then the
 * lip-sync offset (scripts/avatar-lipsync.ts).
 */
import { spawn } from 'node:child_process';
import path from 'node:path';
import { Queues, type Payload } from '../queues/registry';
import { ensureDefaultPack } from '../src/avatar/default-pack';
import { loadPack } from '../src/avatar/pack';
import { listFleet } from '../src/fleet';
import { createRedis, keyspace, type Redis } from '../src/redis';
import { sleep } from '../src/time';
import { RtmpVideoFrames } from '../testkit/rtmp-pull';
import type { ReplicaBench } from './bench-replicas';
import { lipSyncOfFile, lipSyncProbe } from './avatar-lipsync';
import { cpuShareDuring, startStream, type LiveStream } from './bench-stream';
import { log } from './bench-kit';

const VIDEO = { width: 1280, height: 720, fps: 30, videoBitrateKbps: 2000 };
/** Where the embedded default puts the avatar (src/config/default.yaml). */
const AVATAR = { x: 760, y: 120 };
const IDLE_SECONDS = 10;
/** The plain picture's speaking window (the avatar's is the sustained one). */
const PLAIN_SECONDS = 30;
/** Seconds of the avatar's speech recorded for its lip-sync offset. */
const RECORD_SECONDS = 40;
const TARGET_SPEAKING_SHARE = 0.6;

const SENTENCES = [
  'Thank you all so much for being here with me today, it really means a lot.',
  'Let me tell you about the song I have been practising all week long.',
  'Chat is moving fast tonight, I can barely keep up with all of you.',
  'Does anyone want to hear a story about the time I got lost in a game?',
];

function line(i: number): Payload<'tts'> {
  return { utteranceId: `avatar-${i}`, channel: 'main', text: `${SENTENCES[i % SENTENCES.length]} Number ${i}.`, voice: 'default', priority: 2, acceptedAt: Date.now(), origin: { platform: 'bench', user: 'bench' } };
}

/** Keeps the playout fed (a few lines always waiting), so the idol speaks without pause until `stop`. */
function keepSpeaking(queues: Queues): { stop: () => Promise<void> } {
  let running = true;
  let n = 0;
  const loop = (async () => {
    while (running) {
      const c = await queues.queue('playout', 'main').getJobCounts('waiting', 'prioritized');
      const tts = await queues.queue('tts').getJobCounts('waiting', 'prioritized', 'active');
      const queued = Object.values(c).reduce((a, v) => a + v, 0) + Object.values(tts).reduce((a, v) => a + v, 0);
      for (let k = queued; k < 3; k++) await queues.enqueue('tts', line(n++));
      await sleep(500);
    }
  })();
  return { stop: async () => { running = false; await loop; } };
}

/** The frames the broadcasters dropped (idolcast_video_frames_dropped_total, as the fleet members last published it). */
async function droppedFrames(redis: Redis, prefix: string): Promise<number> {
  const keys = keyspace(prefix);
  const members = await listFleet(redis, keys, 5000);
  const published = members.length ? await redis.mget(members.map((m) => keys.metrics(m.id))) : [];
  let dropped = 0;
  for (const raw of published) {
    const set = raw ? (JSON.parse(raw) as { name: string; values: { value: number }[] }[]) : [];
    for (const v of set.find((m) => m.name === 'idolcast_video_frames_dropped_total')?.values ?? []) dropped += v.value;
  }
  return dropped;
}

/** The first `seconds` of the stream from now, copied as it is (not encoded again) into `file`. */
function record(url: string, file: string, seconds: number): Promise<void> {
  const proc = spawn('ffmpeg', ['-loglevel', 'error', '-rw_timeout', '20000000', '-i', url, '-map', '0', '-c', 'copy', '-t', String(seconds), '-y', '-f', 'mpegts', file], { stdio: 'ignore' });
  return new Promise((resolve) => proc.on('close', () => resolve()));
}

/**
 * Speaking for `seconds`: the broadcaster's CPU share and the video frames received per second of
 * wall time, against the frame rate; the window's first seconds recorded into `recording`, if given.
 */
async function speakingWindow(stream: LiveStream, queues: Queues, seconds: number, recording?: string) {
  const frames = new RtmpVideoFrames(stream.url);
  const speech = keepSpeaking(queues);
  try {
    await sleep(3000); // the first line voiced and the reader's frames flowing
    const from = { frames: frames.frames, at: Date.now() };
    const recorded = recording ? record(stream.url, recording, Math.min(seconds, RECORD_SECONDS)) : undefined;
    const share = await cpuShareDuring(stream.broadcaster.pid!, () => sleep(seconds * 1000));
    await recorded;
    const wallS = (Date.now() - from.at) / 1000;
    const received = frames.frames - from.frames;
    return { share, speed: Math.round((received / wallS / VIDEO.fps) * 1000) / 1000, framesReceived: received, framesOfRealTime: Math.round(wallS * VIDEO.fps) };
  } finally {
    await speech.stop();
    frames.stop();
  }
}

/** One picture (avatar on or off): idle, then speaking for `seconds` (the first of them recorded into `recording`). */
async function pictureRun(b: ReplicaBench, avatar: boolean, seconds: number, recording?: string) {
  await b.flush();
  const stream = await startStream(b, { name: avatar ? 'avatar' : 'plain', workers: [['worker', 'tts'], ['worker', 'audio']], video: { ...VIDEO, avatar: { enabled: avatar, ...AVATAR } } });
  const redis = createRedis(b.url);
  const queues = new Queues(redis, b.prefix);
  try {
    const idle = await cpuShareDuring(stream.broadcaster.pid!, () => sleep(IDLE_SECONDS * 1000));
    log(`avatar ${avatar ? 'on' : 'off'}: idle ${idle}; speaking for ${seconds} s`);
    const speaking = await speakingWindow(stream, queues, seconds, recording);
    await sleep(6000); // the broadcaster's counters are published with its heartbeat
    const dropped = await droppedFrames(redis, b.prefix);
    return { cpuShare: { idle, speaking: speaking.share }, encoder: { speakingSeconds: seconds, speed: speaking.speed, framesReceived: speaking.framesReceived, framesOfRealTime: speaking.framesOfRealTime, droppedFrames: dropped } };
  } finally {
    await queues.close();
    redis.disconnect();
    await stream.stop();
  }
}

/** The avatar figures (see the file's comment); `seconds`: the avatar's sustained speaking window. */
export async function avatarFigures(b: ReplicaBench, seconds = 300) {
  const plain = await pictureRun(b, false, Math.min(seconds, PLAIN_SECONDS));
  const recording = path.join(b.dir, 'avatar-speaking.ts');
  const avatar = await pictureRun(b, true, seconds, recording);
  log('avatar: lip-sync offset');
  const pack = loadPack(ensureDefaultPack(path.join(b.dir, 'avatar-pack')));
  const lipSync = {
    broadcast: { ...lipSyncOfFile(pack, recording, AVATAR), seconds: Math.min(seconds, RECORD_SECONDS), note: 'espeak-ng speech from the broadcaster, recorded from nginx-rtmp' },
    renderer: { ...(await lipSyncProbe(pack, 10)), note: 'synthetic syllables through the renderer and one ffmpeg (scripts/avatar-lipsync.ts)' },
  };
  return {
    picture: `${VIDEO.width}x${VIDEO.height}@${VIDEO.fps}, libx264 veryfast ${VIDEO.videoBitrateKbps} kb/s`,
    plain,
    avatar,
    lipSync: { ...lipSync, note: 'frames from each speech onset to the mouth opening, median and worst (positive: the mouth opens late)' },
    targets: { speakingCpuShare: TARGET_SPEAKING_SHARE, speed: 1, droppedFrames: 0, lipSyncFrames: 1 },
    pass: {
      speakingCpuShare: avatar.cpuShare.speaking <= TARGET_SPEAKING_SHARE,
      speed: avatar.encoder.speed >= 0.99 && avatar.encoder.droppedFrames === 0,
      lipSync: Math.abs(lipSync.broadcast.offsetFrames) <= 1,
    },
    note: 'cpuShare: CPU seconds per second of the broadcaster and its ffmpeg children (1.0 = one core); speed: video frames received from nginx-rtmp per second of wall time / fps',
  };
}

/** The sustained window: BENCH_AVATAR_SECONDS (a shorter run for a quick look), 300 s by default. */
export function avatarSeconds(): number {
  const s = Number(process.env.BENCH_AVATAR_SECONDS ?? 300);
  if (!Number.isInteger(s) || s < 5) throw new Error('BENCH_AVATAR_SECONDS: a whole number of seconds, 5 or more');
  return s;
}
