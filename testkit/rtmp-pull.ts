import { spawn, type ChildProcess } from 'node:child_process';

/**
 * A viewer of an RTMP stream: ffprobe lists every audio packet's timestamp as it arrives (for
 * gaps in the stream) and ffmpeg decodes the audio to mono 16-bit PCM (for what is heard).
 */
export class RtmpViewer {
  readonly packets: { pts: number; dur: number; wall: number }[] = [];
  private readonly pcm: Buffer[] = [];
  /** When each decoded chunk arrived: wall time and its byte offset in `audio`. */
  readonly arrivals: { wall: number; offset: number }[] = [];
  private bytes = 0;
  /** The decoder exited (the stream ended or could not be opened). */
  ended = false;
  /** Wall time the first decoded sample arrived. */
  firstSampleAt?: number;
  private readonly procs: ChildProcess[] = [];

  constructor(
    readonly url: string,
    readonly rate = 16000,
  ) {
    const low = ['-fflags', 'nobuffer', '-flags', 'low_delay', '-rw_timeout', '20000000'];
    const probe = spawn('ffprobe', ['-v', 'error', ...low, '-select_streams', 'a', '-show_entries', 'packet=pts_time,duration_time', '-of', 'csv=p=0', url], { stdio: ['ignore', 'pipe', 'ignore'] });
    let rest = '';
    probe.stdout.on('data', (d: Buffer) => {
      const lines = (rest + d.toString()).split('\n');
      rest = lines.pop() ?? '';
      for (const l of lines) {
        const [pts, dur] = l.split(',').map(Number);
        if (Number.isFinite(pts) && Number.isFinite(dur)) this.packets.push({ pts: pts!, dur: dur!, wall: Date.now() });
      }
    });
    const decode = spawn('ffmpeg', ['-loglevel', 'error', ...low, '-probesize', '32', '-analyzeduration', '0', '-i', url, '-vn', '-ac', '1', '-ar', String(rate), '-f', 's16le', 'pipe:1'], { stdio: ['ignore', 'pipe', 'ignore'] });
    decode.stdout.on('data', (d: Buffer) => {
      this.firstSampleAt ??= Date.now();
      this.arrivals.push({ wall: Date.now(), offset: this.bytes });
      this.bytes += d.length;
      this.pcm.push(d);
    });
    decode.on('exit', () => (this.ended = true));
    this.procs.push(probe, decode);
  }

  /**
   * When sound first arrived after `since` (wall ms): the arrival time of the decoded chunk holding
   * the first 10 ms window louder than `threshold`, or undefined if none yet.
   */
  heardAfter(since: number, threshold = 0.02): number | undefined {
    const from = this.arrivals.findIndex((a) => a.wall >= since);
    if (from < 0) return undefined;
    const win = Math.round(this.rate / 100) * 2;
    for (let c = from; c < this.pcm.length; c++) {
      const chunk = this.pcm[c]!;
      for (let i = 0; i + win <= chunk.length; i += win) {
        let sum = 0;
        for (let j = 0; j < win; j += 2) {
          const v = chunk.readInt16LE(i + j) / 32768;
          sum += v * v;
        }
        if (Math.sqrt(sum / (win / 2)) > threshold) return this.arrivals[c]!.wall;
      }
    }
    return undefined;
  }

  /** Forget what arrived before `wall` (a long watch keeps memory bounded); offsets are rebased. */
  trim(wall: number): void {
    const keep = this.arrivals.findIndex((a) => a.wall >= wall);
    const drop = keep < 0 ? this.arrivals.length : keep;
    if (!drop) return;
    const removed = this.pcm.splice(0, drop).reduce((n, c) => n + c.length, 0);
    this.arrivals.splice(0, drop);
    for (const a of this.arrivals) a.offset -= removed;
    this.bytes -= removed;
    const p = this.packets.findIndex((x) => x.wall >= wall);
    this.packets.splice(0, p < 0 ? this.packets.length : p);
  }

  get audio(): Buffer {
    return Buffer.concat(this.pcm);
  }

  /** Seconds of audio received so far. */
  get seconds(): number {
    return this.packets.length ? this.packets[this.packets.length - 1]!.pts - this.packets[0]!.pts : 0;
  }

  /** Largest hole between consecutive audio packets (ms): a packet that starts later than the previous one ended. */
  largestGapMs(fromWall = 0, toWall = Infinity): number {
    let worst = 0;
    const ps = this.packets.filter((p) => p.wall >= fromWall && p.wall <= toWall);
    for (let i = 1; i < ps.length; i++) worst = Math.max(worst, (ps[i]!.pts - (ps[i - 1]!.pts + ps[i - 1]!.dur)) * 1000);
    return worst;
  }

  stop(): void {
    for (const p of this.procs) p.kill('SIGKILL');
  }
}

/** Counts the video frames of an RTMP stream as they arrive (ffprobe lists every video packet): the encoder's real output rate. */
export class RtmpVideoFrames {
  frames = 0;
  private readonly probe: ChildProcess;

  constructor(readonly url: string) {
    this.probe = spawn('ffprobe', ['-v', 'error', '-fflags', 'nobuffer', '-rw_timeout', '20000000', '-select_streams', 'v', '-show_entries', 'packet=pts_time', '-of', 'csv=p=0', url], { stdio: ['ignore', 'pipe', 'ignore'] });
    let rest = '';
    this.probe.stdout!.on('data', (d: Buffer) => {
      const lines = (rest + d.toString()).split('\n');
      rest = lines.pop() ?? '';
      this.frames += lines.filter((l) => l.trim()).length;
    });
  }

  stop(): void {
    this.probe.kill('SIGKILL');
  }
}
