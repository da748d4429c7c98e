/**
 * The one way the fleet runs ffmpeg: the encoder, the destination pushers, the feed readers, the
 * bed decode and the watchdog's probes all start here, are logged by role, stop the same way
 * (SIGTERM or end of input, then SIGKILL after a grace) and report their exit the same way.
 *
 * Built on child_process.spawn, not fluent-ffmpeg: the watchdog reads thumbnails from a second
 * output pipe (fd 3), which fluent-ffmpeg cannot open; its `kill` has no grace-then-SIGKILL, its
 * process is reachable only through a private field, and its argument builder (`_getArguments`) is
 * private too. Every caller already writes ffmpeg's own flags, so an argument list is the plainest
 * description of a run, and nothing left in the fleet needed fluent-ffmpeg (no ffprobe either).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import type { Duplex, Readable } from 'node:stream';
import type { Logger } from '../logger';

export interface FfmpegSpec {
  /** Who this ffmpeg is, for logs and errors ('encoder', 'pusher', 'feed reader', …). */
  role: string;
  /** ffmpeg's arguments. Never a secret: they can be read by any local user in /proc. */
  args: readonly string[];
  log: Logger;
  /** What we write for ffmpeg to read on stdin (`pipe:0`); none: stdin is closed. */
  input?: Duplex;
  /** Keep ffmpeg's stdout readable (`pipe:1`); otherwise it is discarded. */
  stdout?: boolean;
  /** Extra output pipes at fd 3, 4, … (`pipe:3`). */
  extraPipes?: number;
  /** Every stderr line (progress lines end with \r and count as lines). */
  onStderrLine?: (line: string) => void;
  /** Applied to ffmpeg's own words before they reach an exit reason. */
  redact?: (text: string) => string;
  /** The program to run (tests point it elsewhere). */
  binary?: string;
}

export interface FfmpegExit {
  code: number | null;
  signal: NodeJS.Signals | null;
  /** Set when ffmpeg could not be started at all (not installed, not executable). */
  error?: Error;
  /** ffmpeg's last words on stderr (progress lines left out), redacted. */
  said: string;
  /** One line for the logs: how it ended and ffmpeg's last words. */
  why: string;
}

/** Stderr lines kept for the exit reason. */
const TAIL_LINES = 4;
/** ffmpeg's progress lines (`size= … time= …`, `frame= …`) say nothing about why it ended. */
const PROGRESS_LINE = /^\s*(size|frame)=/;

export class FfmpegProcess {
  private readonly child: ChildProcess;
  private done = false;
  private readonly tail: string[] = [];
  /** ffmpeg's stdout, when asked for. */
  readonly stdout: Readable | null;
  /** The extra output pipes, fd 3 first. */
  readonly pipes: Readable[];
  /** Resolves once ffmpeg has exited (and its stderr is read), or could not be started. Never rejects. */
  readonly exited: Promise<FfmpegExit>;

  constructor(private readonly spec: FfmpegSpec) {
    const extra = Array.from({ length: spec.extraPipes ?? 0 }, () => 'pipe' as const);
    const binary = spec.binary ?? 'ffmpeg';
    this.child = spawn(binary, spec.args, { stdio: [spec.input ? 'pipe' : 'ignore', spec.stdout ? 'pipe' : 'ignore', 'pipe', ...extra] });
    this.stdout = this.child.stdout;
    this.pipes = this.child.stdio.slice(3) as Readable[];
    this.exited = new Promise((resolve) => this.watch(binary, resolve));
    if (spec.input && this.child.stdin) {
      // ffmpeg closing its stdin (it died, or stopped reading) is reported by its exit, not as an EPIPE here.
      this.child.stdin.on('error', () => {});
      spec.input.pipe(this.child.stdin);
    }
    if (this.child.pid) spec.log.debug({ role: spec.role, ffmpegPid: this.child.pid }, 'ffmpeg started');
  }

  private watch(binary: string, resolve: (exit: FfmpegExit) => void): void {
    const { role, log } = this.spec;
    const finish = (exit: FfmpegExit) => {
      if (this.done) return;
      this.done = true;
      resolve(exit);
    };
    this.child.on('error', (err: NodeJS.ErrnoException) => {
      if (this.child.pid !== undefined) return; // a failed kill of a running ffmpeg: its exit still comes
      const error = new Error(err.code === 'ENOENT' ? `${binary} not found: the ${role} needs ffmpeg installed and on the PATH` : `cannot start ${binary} for the ${role}: ${err.message}`, { cause: err });
      log.error({ role, err: error.message }, 'ffmpeg could not be started');
      finish({ code: null, signal: null, error, said: '', why: error.message });
    });
    let exit: { code: number | null; signal: NodeJS.Signals | null } | undefined;
    let stderrClosed = false;
    const settle = () => {
      if (!exit || !stderrClosed) return;
      log.debug({ role, code: exit.code, signal: exit.signal }, 'ffmpeg exited');
      const said = this.redact(this.tail.join(' | '));
      const how = exit.signal ? `ffmpeg was killed with signal ${exit.signal}` : `ffmpeg exited with code ${exit.code}`;
      finish({ ...exit, said, why: said ? `${how}: ${said}` : how });
    };
    this.readStderr(() => ((stderrClosed = true), settle()));
    this.child.on('exit', (code, signal) => ((exit = { code, signal }), settle()));
  }

  /** Split stderr into lines (on \n and \r), hand them on, and keep the last few for the exit reason. */
  private readStderr(closed: () => void): void {
    const stderr = this.child.stderr!;
    stderr.setEncoding('utf8');
    let rest = '';
    stderr.on('data', (text: string) => {
      const lines = (rest + text).split(/\r\n|\r|\n/);
      rest = lines.pop()!;
      for (const line of lines) this.line(line);
    });
    stderr.on('close', () => {
      if (rest) this.line(rest);
      closed();
    });
  }

  private line(line: string): void {
    if (!line.trim()) return;
    this.spec.onStderrLine?.(line);
    if (PROGRESS_LINE.test(line)) return;
    this.tail.push(line.trim());
    if (this.tail.length > TAIL_LINES) this.tail.shift();
  }

  private redact(text: string): string {
    return this.spec.redact ? this.spec.redact(text) : text;
  }

  /** Still running (started, not exited). */
  get running(): boolean {
    return !this.done && this.child.pid !== undefined;
  }

  /** At once (SIGKILL): for a run whose output no longer matters. */
  kill(): void {
    if (this.running) this.child.kill('SIGKILL');
  }

  /**
   * Ask ffmpeg to finish (SIGTERM: it closes its outputs properly; or 'eof': its input ends and it
   * drains), and SIGKILL it if it has not exited after `graceMs`. Resolves with its exit.
   */
  async stop(graceMs: number, how: 'SIGTERM' | 'eof' = 'SIGTERM'): Promise<FfmpegExit> {
    if (!this.running) return this.exited;
    const timer = setTimeout(() => this.kill(), graceMs);
    if (how === 'eof') this.spec.input?.end(); // what is written still reaches ffmpeg, then its stdin ends
    else this.child.kill('SIGTERM');
    const exit = await this.exited;
    clearTimeout(timer);
    return exit;
  }
}

/** Start an ffmpeg; its failures come back through `exited`, never as a throw or an unhandled error. */
export function runFfmpeg(spec: FfmpegSpec): FfmpegProcess {
  return new FfmpegProcess(spec);
}

/**
 * A run to its end with its outputs collected (a decode, a probe): stdout and the extra pipes,
 * read to their ends before this resolves.
 */
export async function ffmpegOutput(spec: Omit<FfmpegSpec, 'stdout'>): Promise<{ exit: FfmpegExit; stdout: Buffer; pipes: Buffer[] }> {
  const proc = runFfmpeg({ ...spec, stdout: true });
  const read = (r: Readable | null) =>
    new Promise<Buffer>((resolve) => {
      if (!r) return resolve(Buffer.alloc(0));
      const parts: Buffer[] = [];
      r.on('data', (d: Buffer) => parts.push(d));
      r.on('close', () => resolve(Buffer.concat(parts)));
    });
  const [exit, stdout, ...pipes] = await Promise.all([proc.exited, read(proc.stdout), ...proc.pipes.map(read)]);
  return { exit, stdout, pipes };
}
