import { PassThrough, type Readable } from 'node:stream';
import type { Logger } from '../logger';
import { runFfmpeg, type FfmpegProcess } from './ffmpeg-process';
import { FlvTagReader } from './flv-tags';
import { RtmpPublisher, parseTarget, type RtmpTarget } from './rtmp-publisher';

/** A pusher that has sent nothing for this long (refused, hung, or a paused broadcaster's leftover holding the slot) is restarted. */
const STALL_MS = 5000;

/** Past this much unsent stream a pusher is stalled: its data is dropped so the others are never held up. */
const MAX_BACKLOG_BYTES = 4 * 1024 * 1024;

export interface RelayEvents {
  onAir(on: boolean): void;
  reconnect(): void;
  sent(bytes: number): void;
  dropped(bytes: number): void;
}

/**
 * Pushes the channel's encoded stream (MPEG-TS from the encoder, copied, not re-encoded) to one
 * platform's RTMP ingest. Each destination has its own pusher, so one that fails is restarted
 * with capped backoff and jitter while the others carry on.
 * The stream key never leaves this process's memory: ffmpeg only remuxes to FLV on its stdout
 * (its command line names no destination), and our own RTMP publisher speaks to the platform.
 * The key is cut out of every message before anything is logged.
 */
export class DestinationRelay {
  private input?: PassThrough;
  private command?: FfmpegProcess;
  private publisher?: RtmpPublisher;
  /** Why the current pusher's platform connection ended, for the log (ffmpeg's own exit says less). */
  private droppedWhy?: string;
  private stopping = false;
  private delayMs = 500;
  private startedAt = 0;
  private live = false;
  private retry?: NodeJS.Timeout;
  /** Publishing: the stream is written and a silent pusher counts as stalled. A standby's pusher is spawned but idle. */
  private armed = false;
  private armCurrent?: () => void;
  /** Where to publish, or why the configured URL cannot be used (logged at each try, like a refusal). */
  private readonly target: RtmpTarget | string;

  constructor(
    readonly name: string,
    /** Ingest URL: with a key, the application's URL; without, the stream name is its last segment. */
    url: string,
    /** The stream key: held here only, never logged, never on a command line. */
    private readonly secret: string | undefined,
    private readonly log: Logger,
    private readonly events: RelayEvents,
    /** The stream since its last keyframe, written first on every (re)connect. */
    private readonly primer: () => Buffer = () => Buffer.alloc(0),
  ) {
    try {
      this.target = parseTarget(url, secret);
    } catch (err) {
      this.target = (err as Error).message;
    }
  }

  get onAir(): boolean {
    return this.live;
  }

  /**
   * A standby's pusher: ffmpeg started and waiting for the stream, not connected to the platform
   * (it connects once ffmpeg has probed its input and written FLV), so taking over skips ffmpeg's start-up.
   */
  prepare(): void {
    this.stopping = false;
    if (!this.command) this.spawn();
  }

  /** Publish: the stream starts with the cached keyframe, and from now on silence means stalled. */
  start(): void {
    this.prepare();
    this.armed = true;
    this.armCurrent?.();
  }

  /** Hand the pusher the next bytes of the stream; dropped while it reconnects or is stalled. */
  write(chunk: Buffer): void {
    if (!this.armed) return; // not publishing yet: the primer will start the stream
    const input = this.input;
    if (!input || input.destroyed || input.writableLength > MAX_BACKLOG_BYTES) {
      this.events.dropped(chunk.length);
      return;
    }
    input.write(chunk);
    this.events.sent(chunk.length);
  }

  /** The encoder started over (timestamps restart): reconnect so the platform gets a clean stream. */
  restart(): void {
    this.command?.kill();
  }

  private redact(text: string): string {
    return this.secret ? text.split(this.secret).join('[key]') : text;
  }

  private spawn(): void {
    const input = new PassThrough({ highWaterMark: 256 * 1024 });
    const args = [
      // The stream starts on a keyframe (the primer), so a short probe finds everything; ffmpeg's
      // default 5 s would keep the platform waiting after every (re)connect.
      '-f', 'mpegts', '-fflags', '+genpts+nobuffer', '-flags', 'low_delay', '-analyzeduration', '500000', '-probesize', '1000000', '-i', 'pipe:0',
      '-map', '0', '-c', 'copy', '-f', 'flv', '-flvflags', 'no_duration_filesize', '-flush_packets', '1', '-max_interleave_delta', '1', '-loglevel', 'error', 'pipe:1',
    ];
    const command = runFfmpeg({ role: 'pusher', args, log: this.log, input, stdout: true, redact: (t) => this.redact(t) });
    // Bytes reaching the platform's connection mean it moves; none for a while means stuck.
    let stall: NodeJS.Timeout | undefined;
    const watch = () => {
      if (!this.armed) return;
      clearTimeout(stall);
      stall = setTimeout(() => {
        if (command !== this.command) return;
        this.log.warn({ destination: this.name, stalledMs: STALL_MS }, 'destination stalled: reconnecting');
        command.kill();
      }, STALL_MS);
    };
    watch();
    void command.exited.then((exit) => {
      clearTimeout(stall);
      this.exited(command, exit.why);
    });
    // Through a 256 KiB buffer, as before: what ffmpeg may run ahead of a full platform connection.
    const flv = command.stdout!.pipe(new PassThrough({ highWaterMark: 256 * 1024 }));
    this.pipeToPlatform(command, flv, watch);
    this.input = input;
    this.command = command;
    this.publisher = undefined;
    this.droppedWhy = undefined;
    this.startedAt = Date.now();
    this.armCurrent = () => {
      this.armCurrent = undefined;
      this.startedAt = Date.now();
      const primer = this.primer();
      if (primer.length) input.write(primer);
      watch();
    };
    if (this.armed) this.armCurrent();
  }

  /** ffmpeg's FLV, tag by tag, to the platform: connected at the first tag, paused while the connection is full. */
  private pipeToPlatform(command: FfmpegProcess, flv: Readable, moving: () => void): void {
    const tags = new FlvTagReader((tag) => {
      if (command !== this.command) return;
      this.publisher ??= this.connect(command, flv, moving);
      if (this.publisher && !this.publisher.send(tag)) flv.pause();
    });
    flv.on('data', (d: Buffer) => {
      try {
        tags.push(d);
      } catch (err) {
        this.dropped(command, (err as Error).message);
      }
    });
  }

  private connect(command: FfmpegProcess, flv: Readable, moving: () => void): RtmpPublisher | undefined {
    if (typeof this.target === 'string') return void this.dropped(command, this.target);
    const publisher = new RtmpPublisher(this.target, {
      publishing: () => {
        if (command !== this.command || this.live) return;
        this.live = true;
        this.events.onAir(true);
        this.log.info({ destination: this.name }, 'destination on air');
      },
      flushed: () => command === this.command && moving(),
      closed: (why) => this.dropped(command, why),
    });
    publisher.onDrain(() => flv.resume());
    return publisher;
  }

  /** The platform connection failed: this pusher is done, and `exited` restarts it. */
  private dropped(command: FfmpegProcess, why: string): void {
    if (command !== this.command || this.stopping) return;
    this.droppedWhy ??= why;
    command.kill();
  }

  private exited(command: FfmpegProcess, ffmpegWhy: string): void {
    if (command !== this.command) return;
    const why = this.droppedWhy ?? ffmpegWhy;
    this.command = undefined;
    this.input?.destroy();
    this.input = undefined;
    if (this.live) this.events.onAir(false);
    this.live = false;
    if (this.stopping) return;
    this.publisher?.destroy();
    if (Date.now() - this.startedAt > 30_000) this.delayMs = 500;
    const wait = Math.round(this.delayMs * (0.75 + Math.random() * 0.5));
    this.log.warn({ destination: this.name, why: this.redact(why).slice(0, 300), retryInMs: wait }, 'destination dropped: retrying');
    this.events.reconnect();
    this.retry = setTimeout(() => !this.stopping && this.spawn(), wait);
    this.delayMs = Math.min(this.delayMs * 2, 10_000);
  }

  /** Stop at once, sending nothing more (the broadcast lock was lost). */
  kill(): void {
    this.stopping = true;
    clearTimeout(this.retry);
    this.command?.kill();
    this.publisher?.destroy();
  }

  /** Finish sending what the pusher has, then close the connection. */
  async stop(): Promise<void> {
    this.stopping = true;
    clearTimeout(this.retry);
    const command = this.command;
    if (!command) return;
    await command.stop(3000, 'eof');
    await this.publisher?.close();
  }
}
