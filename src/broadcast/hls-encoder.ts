import fs from 'node:fs';
import path from 'node:path';
import { PassThrough } from 'node:stream';
import type { ChannelConfig } from '../config/schema';
import { filterPath } from './caption-file';
import type { Logger } from '../logger';
import { sleep } from '../time';
import { runFfmpeg, type FfmpegProcess } from './ffmpeg-process';

/** The encoder's speed is measured over this much of its recent progress. */
const SPEED_WINDOW_MS = 10_000;

/** Escape a value for the tee muxer's `[opt=value]target` syntax. */
function teeEscape(v: string): string {
  return v.replace(/[\\:|[\]]/g, (c) => `\\${c}`);
}

/**
 * The long-running ffmpeg of a channel: the playout PCM on stdin plus a generated picture,
 * encoded to the local HLS live view. When ffmpeg dies it is restarted (capped backoff) and
 * the playlist continues with a discontinuity, so players carry on.
 */
export class HlsEncoder {
  private input?: PassThrough;
  private command?: FfmpegProcess;
  private stopping = false;
  private restartDelayMs = 250;
  private startedAt = 0;
  /** The respawn waiting out the crash backoff, if any. */
  private respawnTimer?: NodeJS.Timeout;
  /** The next exit was asked for (the watchdog): respawn at once, outside the crash backoff. */
  private restartAsked = false;
  private restarts = 0;
  /** ffmpeg's progress (`time=`, media seconds encoded) at wall times, over the last SPEED_WINDOW_MS. */
  private progress: { at: number; media: number }[] = [];
  /** Wall time the first sample of the current ffmpeg run was due (set by its first write). */
  private runFirstSampleAt?: number;
  private offsetMs = 0;
  private clockMeasured!: () => void;
  /** Resolves once the live view's clock is known (the first segment is out). */
  readonly clockReady = new Promise<void>((resolve) => (this.clockMeasured = resolve));
  readonly playlist: string;

  constructor(
    private readonly channel: ChannelConfig,
    private readonly liveDir: string,
    private readonly sampleRate: number,
    private readonly log: Logger,
    private readonly onRestart: () => void = () => {},
    /** Receives the encoded stream (MPEG-TS) for the low-latency live view and the destination pushers; none: HLS only. */
    private readonly onStream?: (chunk: Buffer) => void,
    /** File whose text is drawn on the picture (re-read every frame); none: no caption. */
    private readonly captionPath?: string,
    /** Picture from raw frames we send to a unix socket ffmpeg listens on (an external feed); none: the channel colour. */
    private readonly frames?: { socketPath: string; onStart: () => void },
  ) {
    this.playlist = path.join(liveDir, 'index.m3u8');
  }

  get running(): boolean {
    return this.command !== undefined;
  }

  /** When the running ffmpeg started (undefined while none runs): a fresh run needs time for its first segment. */
  get runningSince(): number | undefined {
    return this.command ? this.startedAt : undefined;
  }

  /**
   * Wall time the current run's first sample was due: the encoder stamps audio and our frames
   * from zero each run, so frame k of the run is encoded with the audio due k frame times after it.
   */
  get mediaStartAt(): number | undefined {
    return this.runFirstSampleAt;
  }

  /**
   * Media seconds encoded per second over the last few seconds (ffmpeg's own `speed=` counts from
   * its start, so a slow start weighs on it for minutes). Under 1.0 the encoder falls behind the
   * playout: viewers and destinations drift ever later.
   */
  get speed(): number | undefined {
    const first = this.progress[0];
    const last = this.progress[this.progress.length - 1];
    if (!this.command || !first || !last || last.at - first.at < SPEED_WINDOW_MS / 2) return undefined;
    return Math.round(((last.media - first.media) / ((last.at - first.at) / 1000)) * 1000) / 1000;
  }

  private progressLine(line: string): void {
    const m = /time=\s*(\d+):(\d\d):(\d\d(?:\.\d+)?)/.exec(line);
    if (!m) return;
    const at = Date.now();
    this.progress.push({ at, media: Number(m[1]) * 3600 + Number(m[2]) * 60 + Number(m[3]) });
    while (this.progress.length > 2 && at - this.progress[1]!.at >= SPEED_WINDOW_MS) this.progress.shift();
  }

  get restartCount(): number {
    return this.restarts;
  }

  start(): void {
    // Clear what an earlier run left, file by file and best effort: the ffmpeg of a broadcaster
    // that was just killed (a standby taking over) may still be writing its last segment here.
    fs.mkdirSync(this.liveDir, { recursive: true });
    for (const f of fs.readdirSync(this.liveDir)) {
      try {
        fs.rmSync(path.join(this.liveDir, f), { force: true, recursive: true });
      } catch {
        /* gone already, or still being written: the new playlist replaces it */
      }
    }
    this.spawn(false);
  }

  /** Hand PCM due on air at `dueAt`; dropped while ffmpeg is restarting (the timeline keeps going). */
  write(pcm: Buffer, dueAt: number): void {
    if (!this.input || this.input.destroyed) return;
    if (this.runFirstSampleAt === undefined) {
      this.runFirstSampleAt = dueAt;
      void this.measureOffset(this.command);
    }
    this.input.write(pcm);
  }

  /**
   * How far the live view's clock (EXT-X-PROGRAM-DATE-TIME, which ffmpeg stamps from its own
   * start) runs from the playout clock. ffmpeg starts a variable time after its first sample
   * was due; adding this offset to on-air times makes captions match what viewers hear.
   */
  get streamOffsetMs(): number {
    return this.offsetMs;
  }

  private async measureOffset(run: FfmpegProcess | undefined): Promise<void> {
    const deadline = Date.now() + 15000;
    while (run === this.command && Date.now() < deadline) {
      await sleep(100);
      let text: string;
      try {
        text = fs.readFileSync(this.playlist, 'utf8');
      } catch {
        continue;
      }
      // This run's segments follow the last discontinuity (or start the playlist).
      const runPart = text.slice(text.lastIndexOf('#EXT-X-DISCONTINUITY') + 1);
      const m = runPart.match(/#EXT-X-PROGRAM-DATE-TIME:(\S+)/);
      if (!m || this.runFirstSampleAt === undefined) continue;
      const first = Date.parse(m[1]!.replace(/([+-]\d\d)(\d\d)$/, '$1:$2'));
      if (Number.isNaN(first)) return;
      this.offsetMs = first - this.runFirstSampleAt;
      this.log.info({ streamOffsetMs: this.offsetMs }, 'live view clock measured');
      this.clockMeasured();
      return;
    }
  }

  /** ffmpeg's arguments for one run: the PCM on stdin, the picture, the encode and the outputs. */
  private args(resumed: boolean): string[] {
    const { video, live } = this.channel;
    const gop = Math.max(1, Math.round(video.fps * live.segmentSeconds));
    const flags = ['delete_segments', 'omit_endlist', 'independent_segments', 'program_date_time'];
    if (resumed) flags.push('append_list', 'discont_start');
    const hls: [string, string][] = [
      ['hls_time', String(live.segmentSeconds)],
      ['hls_list_size', String(live.listSize)],
      ['hls_flags', flags.join('+')],
      ['hls_segment_filename', path.join(this.liveDir, 'seg-%d.ts')],
    ];
    const filters = this.filters();
    const encode = [
      // -shortest: when our stdin closes (the broadcaster died), ffmpeg ends instead of encoding the endless picture alone.
      '-shortest',
      // Write each packet as soon as it is encoded instead of holding audio back to interleave it
      // with the next video frame (here and in the pushers: ~150 ms of chat → audible).
      '-max_interleave_delta', '1',
      '-map', '0:a',
      ...(video.audioOnly
        ? []
        : [
            '-map', '1:v', ...(filters.length ? ['-vf', filters.join(',')] : []),
            '-c:v', 'libx264', '-preset', 'veryfast', '-tune', 'zerolatency', '-pix_fmt', 'yuv420p',
            '-g', String(gop), '-keyint_min', String(gop), '-sc_threshold', '0',
            '-b:v', `${video.videoBitrateKbps}k`, '-maxrate', `${video.videoBitrateKbps}k`, '-bufsize', `${video.videoBitrateKbps * 2}k`,
          ]),
      '-c:a', 'aac', '-b:a', `${video.audioBitrateKbps}k`, '-ar', '48000', '-ac', '2',
    ];
    // Encoded once: with destinations, the tee muxer also writes MPEG-TS to stdout for their pushers.
    const output = this.onStream
      ? ['-f', 'tee', `[f=hls:${hls.map(([k, v]) => `${k}=${teeEscape(v)}`).join(':')}]${teeEscape(this.playlist)}|[f=mpegts:onfail=ignore:max_interleave_delta=1:flush_packets=1:max_delay=0:pes_payload_size=0]pipe:1`]
      : ['-f', 'hls', ...hls.flatMap(([k, v]) => [`-${k}`, v]), this.playlist];
    // -y: the playlist is rewritten in place (without it ffmpeg would ask, on the stdin that carries our PCM).
    return ['-f', 's16le', '-ar', String(this.sampleRate), '-ac', '1', '-i', 'pipe:0', ...this.pictureInput(), '-y', ...encode, ...output];
  }

  /** The picture's filters: fitting a still image or a looped video into the frame, and the caption. */
  private filters(): string[] {
    const { video } = this.channel;
    const { width: w, height: h, fps } = video;
    const filters: string[] = [];
    if (video.audioOnly) return filters;
    // A still image or a looped video is fitted into the channel's frame (letterboxed in its colour).
    if (!this.frames && (video.image || video.loop)) {
      filters.push(`scale=${w}:${h}:force_original_aspect_ratio=decrease`, `pad=${w}:${h}:(ow-iw)/2:(oh-ih)/2:color=0x${video.background.slice(1)}`, `fps=${fps}`, 'format=yuv420p');
    }
    if (this.captionPath) {
      filters.push(`drawtext=textfile=${filterPath(this.captionPath)}:reload=1:expansion=none:fontcolor=white:fontsize=${Math.round(h / 16)}:line_spacing=6:box=1:boxcolor=black@0.55:boxborderw=10:x=(w-text_w)/2:y=h-text_h-${Math.round(h / 12)}`);
    }
    return filters;
  }

  /**
   * The picture's input. No -re on it: the playout audio, written in real time, is the clock. Paced
   * by the picture instead, ffmpeg would keep whatever audio queued in the pipe while it started (~2 s) as lasting delay.
   */
  private pictureInput(): string[] {
    const { video } = this.channel;
    const { width: w, height: h, fps } = video;
    if (video.audioOnly) return []; // the sound alone
    if (this.frames) {
      // A run killed mid-way leaves its socket file behind, and ffmpeg cannot bind over it.
      fs.rmSync(this.frames.socketPath, { force: true });
      return ['-f', 'rawvideo', '-listen', '1', '-pix_fmt', 'yuv420p', '-video_size', `${w}x${h}`, '-framerate', String(fps), '-i', `unix:${this.frames.socketPath}`];
    }
    if (video.image) return ['-loop', '1', '-framerate', String(fps), '-i', path.resolve(video.image)];
    if (video.loop) return ['-stream_loop', '-1', '-i', path.resolve(video.loop)];
    return ['-f', 'lavfi', '-i', `color=c=0x${video.background.slice(1)}:s=${w}x${h}:r=${fps}`];
  }

  private spawn(resumed: boolean): void {
    const input = new PassThrough({ highWaterMark: this.sampleRate * 2 });
    this.progress = [];
    const onStderrLine = (line: string) => command === this.command && this.progressLine(line);
    const command = runFfmpeg({ role: 'encoder', args: this.args(resumed), log: this.log, input, stdout: !!this.onStream, onStderrLine });
    this.input = input;
    this.command = command;
    this.startedAt = Date.now(); // this run's age: the crash backoff's reset and the watchdog's first-segment grace
    this.runFirstSampleAt = undefined;
    void command.exited.then((exit) => this.exited(command, exit.why));
    if (!command.running) return; // could not start: `exited` says why and schedules the retry
    this.frames?.onStart();
    if (this.onStream) command.stdout!.on('data', (chunk: Buffer) => command === this.command && this.onStream?.(chunk));
    this.log.info({ playlist: this.playlist, resumed }, 'encoder started');
  }

  private exited(command: FfmpegProcess, why: string): void {
    if (command !== this.command) return;
    this.command = undefined;
    this.input?.destroy();
    this.input = undefined;
    if (this.stopping) return;
    this.restarts++;
    this.onRestart();
    if (this.restartAsked) {
      this.restartAsked = false;
      this.log.warn({ why: why.slice(0, 300) }, 'encoder restarted on request');
      return this.spawn(true);
    }
    // A run that lasted a while resets the backoff; a crash loop slows down to 5 s.
    if (Date.now() - this.startedAt > 30_000) this.restartDelayMs = 250;
    this.log.error({ why: why.slice(0, 300), restartInMs: this.restartDelayMs }, 'encoder exited: restarting');
    this.respawnTimer = setTimeout(() => {
      this.respawnTimer = undefined;
      if (!this.stopping) this.spawn(true);
    }, this.restartDelayMs);
    this.restartDelayMs = Math.min(this.restartDelayMs * 2, 5000);
  }

  /**
   * A fresh ffmpeg now (the watchdog's first step): the running one is killed and replaced at
   * once, or the one waiting out a crash backoff starts without waiting. Not a crash, so the
   * backoff does not grow: the watchdog's own step time paces repeated requests.
   */
  restart(): void {
    if (this.stopping) return;
    if (this.command) {
      this.restartAsked = true;
      this.command.kill();
    } else if (this.respawnTimer) {
      clearTimeout(this.respawnTimer);
      this.respawnTimer = undefined;
      this.spawn(true);
    }
  }

  /** Stop at once (the broadcast lock was lost). */
  kill(): void {
    this.stopping = true;
    clearTimeout(this.respawnTimer);
    this.command?.kill();
  }

  /**
   * Let ffmpeg finish its current segment and exit: its input ends (the playout has stopped by
   * now), so it encodes what it has, writes the last segment and exits by itself. A signal would
   * not do: ffmpeg waiting on a silent stdin does not notice SIGTERM or SIGINT, and was SIGKILLed
   * 5 s later without its last segment. SIGKILL after 5 s is still the backstop.
   */
  async stop(): Promise<void> {
    this.stopping = true;
    clearTimeout(this.respawnTimer);
    await this.command?.stop(5000, 'eof');
  }
}
