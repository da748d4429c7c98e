import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import type { Logger } from '../logger';
import { filterPath } from './caption-file';
import { ffmpegOutput, runFfmpeg, type FfmpegProcess } from './ffmpeg-process';

export interface FrameFormat {
  width: number;
  height: number;
  fps: number;
}

/**
 * How both feed readers (picture and sound) open the feed: little buffering and a short probe, so
 * a feed coming back is on air soon, and a read timeout, so a feed gone silent ends the reader.
 */
export function feedInput(url: string): string[] {
  return ['-loglevel', 'error', '-fflags', 'nobuffer', '-flags', 'low_delay', '-analyzeduration', '1000000', '-probesize', '500000', '-rw_timeout', '3000000', '-i', url];
}

const frameBytes = (f: FrameFormat) => (f.width * f.height * 3) / 2; // yuv420p

/** How a looped video file is read as a feed: at its own pace (-re), from the start again at its end. */
function loopInput(file: string): string[] {
  return ['-loglevel', 'error', '-re', '-stream_loop', '-1', '-i', file];
}

/**
 * An external video feed (OBS pushing RTMP or SRT to us, or any URL ffmpeg reads), decoded to
 * raw frames at the channel's size and rate. Reconnects with capped backoff when the feed ends.
 * With `loop`, the URL is a video file played in a loop (the picture under the avatar).
 */
export class VideoFeed {
  private proc?: FfmpegProcess;
  private stopped = false;
  private delayMs = 500;
  private pending: Buffer[] = [];
  private pendingBytes = 0;
  latest?: Buffer;
  latestAt = 0;
  /** When the picture last changed: a feed sending the same frame over and over is frozen. */
  changedAt = 0;
  private fingerprint = -1;

  constructor(
    private readonly url: string,
    private readonly format: FrameFormat,
    private readonly log: Logger,
    private readonly loop = false,
  ) {}

  start(): void {
    const { width, height, fps } = this.format;
    const size = frameBytes(this.format);
    const args = [...(this.loop ? loopInput(this.url) : feedInput(this.url)), '-an', '-vf', `scale=${width}:${height},fps=${fps}`, '-pix_fmt', 'yuv420p', '-f', 'rawvideo', 'pipe:1'];
    const proc = runFfmpeg({ role: 'feed picture reader', args, log: this.log, stdout: true });
    this.proc = proc;
    proc.stdout!.on('data', (d: Buffer) => {
      this.pending.push(d);
      this.pendingBytes += d.length;
      while (this.pendingBytes >= size) {
        const all = Buffer.concat(this.pending);
        this.latest = all.subarray(0, size);
        this.latestAt = Date.now();
        const fp = fingerprint(this.latest, this.format.width * this.format.height);
        if (fp !== this.fingerprint) {
          this.fingerprint = fp;
          this.changedAt = this.latestAt;
        }
        this.delayMs = 500;
        const rest = all.subarray(size);
        this.pending = rest.length ? [rest] : [];
        this.pendingBytes = rest.length;
      }
    });
    void proc.exited.then(() => {
      if (this.stopped || proc !== this.proc) return;
      this.pending = [];
      this.pendingBytes = 0;
      setTimeout(() => !this.stopped && this.start(), this.delayMs);
      this.delayMs = Math.min(this.delayMs * 2, 2000); // a feed coming back should be on air soon
    });
  }

  stop(): void {
    this.stopped = true;
    this.proc?.kill();
  }
}

/** One raw frame of the slate: the still image (or the channel colour) with its text, drawn by ffmpeg from a file. */
export async function renderSlate(format: FrameFormat, background: string, text: string, textFile: string, log: Logger, image?: string): Promise<Buffer> {
  fs.mkdirSync(path.dirname(textFile), { recursive: true });
  fs.writeFileSync(textFile, text);
  const { width, height } = format;
  const input = image ? ['-i', image] : ['-f', 'lavfi', '-i', `color=c=0x${background.slice(1)}:s=${width}x${height}`];
  const args = ['-loglevel', 'error', ...input, '-frames:v', '1', '-vf', `scale=${width}:${height},drawtext=textfile=${filterPath(textFile)}:expansion=none:fontcolor=white:fontsize=${Math.round(height / 10)}:x=(w-text_w)/2:y=(h-text_h)/2`, '-pix_fmt', 'yuv420p', '-f', 'rawvideo', 'pipe:1'];
  const { exit, stdout: out } = await ffmpegOutput({ role: 'slate', args, log });
  const said = exit.error?.message ?? exit.said;
  if (out.length !== frameBytes(format)) throw new Error(`could not render the slate (${image ?? 'colour'}): got ${out.length} bytes${said ? `: ${said.slice(0, 300)}` : ''}`);
  return out;
}

/**
 * Hands the encoder one frame per frame interval over a unix socket its ffmpeg listens on: the
 * feed's latest frame while it is fresh, the slate once it has been silent for `lossMs`.
 * Paced by our clock, the picture never stalls the encoder, whatever the feed does.
 * The socket lives in a directory only this user can enter (mode 0700, made by mkdtemp), so no
 * other local process can connect to the encoder first and put its own picture on air (a
 * loopback TCP port could be taken by any local user).
 */
export class FramePacer {
  private timer?: NodeJS.Timeout;
  private socket?: net.Socket;
  private onSlate = true;
  private written = 0;
  private t0 = 0;
  private readonly dir = privateDir();
  /** Where the encoder's ffmpeg listens for our frames. */
  readonly socketPath = path.join(this.dir, 'frames.sock');
  /** Frames skipped because we fell more than a second behind. */
  droppedFrames = 0;
  /** The watchdog saw a bad picture from the feed: the slate stays on until then (ms). */
  private slateUntil = 0;

  constructor(
    /** None: the slate is the picture (the generated background under the avatar). */
    private readonly feed: VideoFeed | undefined,
    private readonly slate: Buffer,
    private readonly format: FrameFormat,
    private readonly lossMs: number,
    /** The same picture for this long counts as a lost feed (0: never). */
    private readonly frozenMs: number,
    private readonly log: Logger,
    /** Draws over each frame (the avatar), given the frame's number in this encoder run. */
    private readonly compose?: (frame: Buffer, index: number) => Buffer,
  ) {}

  /** Connect to the encoder's frame socket (retrying while it starts) and keep feeding it. */
  attach(): void {
    this.socket?.destroy();
    const connect = (tries: number) => {
      const s = net.connect(this.socketPath);
      s.on('error', () => {
        s.destroy();
        if (tries > 0 && !this.socket) setTimeout(() => connect(tries - 1), 50);
      });
      s.on('connect', () => {
        this.socket = s;
        this.t0 = performance.now();
        this.written = 0;
      });
      s.on('close', () => this.socket === s && (this.socket = undefined));
    };
    this.socket = undefined;
    connect(200);
    if (!this.timer) this.timer = setInterval(() => this.tick(), Math.max(5, Math.floor(500 / this.format.fps)));
  }

  private tick(): void {
    const s = this.socket;
    if (!s) return;
    const due = Math.floor(((performance.now() - this.t0) / 1000) * this.format.fps) + 1 - this.written;
    const now = Date.now();
    const feed = this.feed;
    const arriving = feed?.latest !== undefined && now - feed.latestAt < this.lossMs;
    const frozen = arriving && this.frozenMs > 0 && now - feed.changedAt >= this.frozenMs;
    const forced = now < this.slateUntil;
    const fresh = arriving && !frozen && !forced;
    if (feed && fresh === this.onSlate) {
      this.onSlate = !fresh;
      if (fresh) this.log.info({ source: 'feed' }, 'video feed on air');
      else this.log.warn({ source: 'slate', reason: forced ? 'watchdog' : frozen ? 'frozen' : 'gone' }, 'video feed lost: slate on air');
    }
    // Never queue more than a second in the socket: a slow encoder drops frames, never lags.
    for (let i = 0; i < Math.min(due, this.format.fps) && s.writableLength < this.slate.length * this.format.fps; i++) {
      const frame = fresh ? feed.latest! : this.slate;
      s.write(this.compose ? this.compose(frame, this.written) : frame);
      this.written++;
    }
    if (due > this.format.fps) {
      this.droppedFrames += due - this.format.fps;
      this.written += due - this.format.fps;
    }
  }

  /** The feed's own picture is on air (not the slate). */
  get feedOnAir(): boolean {
    return !this.onSlate;
  }

  /** Put the slate on for `ms` whatever the feed does (the watchdog's fallback); the feed is tried again after. */
  forceSlate(ms: number): void {
    this.slateUntil = Date.now() + ms;
  }

  stop(): void {
    clearInterval(this.timer);
    this.socket?.destroy();
    fs.rmSync(this.dir, { recursive: true, force: true });
  }
}

const FRAMES_DIR = /^idolcast-frames-(\d+)-/;

/**
 * A fresh directory only this user can enter, named after our pid. Those of broadcasters that
 * were killed (no chance to clean up) are removed first, so a crash loop does not fill the temp
 * directory; only directories of our own user, whose process is gone, are touched.
 */
function privateDir(): string {
  const tmp = os.tmpdir();
  for (const name of fs.readdirSync(tmp)) {
    const pid = Number(FRAMES_DIR.exec(name)?.[1]);
    if (!pid || pid === process.pid || alive(pid)) continue;
    const dir = path.join(tmp, name);
    const st = fs.lstatSync(dir, { throwIfNoEntry: false });
    if (st?.isDirectory() && st.uid === process.getuid?.()) fs.rmSync(dir, { recursive: true, force: true });
  }
  return fs.mkdtempSync(path.join(tmp, `idolcast-frames-${process.pid}-`));
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM'; // someone else's: alive
  }
}

/** A cheap fingerprint of a frame's luma plane: a strided sample, enough to tell a moving picture from a still one. */
function fingerprint(frame: Buffer, lumaBytes: number): number {
  let h = 0;
  for (let i = 0; i < lumaBytes; i += 61) h = (h * 31 + frame[i]!) | 0;
  return h;
}
