import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { PassThrough } from 'node:stream';
import { ffmpegOutput, runFfmpeg, type FfmpegProcess } from '../../src/broadcast/ffmpeg-process';
import { createLogger } from '../../src/logger';

const log = createLogger('test', 'silent');

/** Resolves at the first stderr line matching `re` (ffmpeg's progress lines count). */
function lineSeen(re: RegExp): { onStderrLine: (line: string) => void; seen: Promise<void>; lines: string[] } {
  const lines: string[] = [];
  let hit!: () => void;
  const seen = new Promise<void>((resolve) => (hit = resolve));
  return { lines, seen, onStderrLine: (line) => (lines.push(line), re.test(line) && hit()) };
}

describe('ffmpeg-process: the one way ffmpeg is run', () => {
  let dir: string;
  const running: FfmpegProcess[] = [];
  beforeAll(() => (dir = fs.mkdtempSync(path.join(os.tmpdir(), 'idolcast-ffmpeg-'))));
  afterAll(() => {
    for (const p of running) p.kill();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('stop() lets a running ffmpeg finish on SIGTERM: it exits by itself and its output file is complete', async () => {
    const file = path.join(dir, 'tone.wav');
    const progress = lineSeen(/time=/);
    const ff = runFfmpeg({ role: 'test tone', args: ['-re', '-f', 'lavfi', '-i', 'sine=f=440', '-ar', '8000', '-y', file], log, onStderrLine: progress.onStderrLine });
    running.push(ff);
    await progress.seen;
    const exit = await ff.stop(10_000);
    expect({ code: exit.code, signal: exit.signal }).toEqual({ code: 255, signal: null });
    expect(exit.why).toMatch(/received signal 15/);
    // The RIFF size is filled in only when ffmpeg writes the trailer, i.e. when it closed the file properly.
    const wav = fs.readFileSync(file);
    expect(wav.readUInt32LE(4)).toBe(wav.length - 8);
    expect(ff.running).toBe(false);
  });

  it('stop() escalates to SIGKILL when the process ignores SIGTERM', async () => {
    const said = lineSeen(/^ready$/);
    // A tiny node child standing in for an ffmpeg stuck where SIGTERM cannot reach it.
    const script = "process.on('SIGTERM', () => console.error('ignored SIGTERM')); console.error('ready'); setInterval(() => {}, 1000);";
    const stuck = runFfmpeg({ role: 'stuck', args: ['-e', script], log, binary: process.execPath, onStderrLine: said.onStderrLine });
    running.push(stuck);
    await said.seen;
    const exit = await stuck.stop(1000);
    expect({ code: exit.code, signal: exit.signal }).toEqual({ code: null, signal: 'SIGKILL' });
    expect(said.lines).toContain('ignored SIGTERM');
    expect(exit.why).toBe('ffmpeg was killed with signal SIGKILL: ready | ignored SIGTERM');
  });

  it("stop(grace, 'eof') ends ffmpeg's input: what was written is processed, then it exits cleanly", async () => {
    const input = new PassThrough();
    const ff = runFfmpeg({ role: 'pcm copy', args: ['-loglevel', 'error', '-f', 's16le', '-ar', '8000', '-ac', '1', '-i', 'pipe:0', '-f', 's16le', 'pipe:1'], log, input, stdout: true });
    running.push(ff);
    let out = 0;
    ff.stdout!.on('data', (d: Buffer) => (out += d.length));
    input.write(Buffer.alloc(16000, 1));
    const exit = await ff.stop(10_000, 'eof');
    expect({ code: exit.code, signal: exit.signal, out }).toEqual({ code: 0, signal: null, out: 16000 });
  });

  it('reads stdout and an extra pipe (fd 3) to their ends, and kill() ends a run at once', async () => {
    const args = ['-loglevel', 'error', '-f', 'lavfi', '-i', 'sine=d=1', '-f', 'lavfi', '-i', 'color=c=white:s=8x8:r=5:d=1', '-map', '0:a', '-ac', '1', '-ar', '8000', '-f', 's16le', 'pipe:1', '-map', '1:v', '-pix_fmt', 'gray', '-f', 'rawvideo', 'pipe:3'];
    const { exit, stdout, pipes } = await ffmpegOutput({ role: 'two outputs', args, log, extraPipes: 1 });
    expect({ code: exit.code, audioBytes: stdout.length, frames: pipes[0]!.length / 64, white: pipes[0]!.every((b) => b > 200) }).toEqual({ code: 0, audioBytes: 16000, frames: 5, white: true });

    const progress = lineSeen(/time=/);
    const endless = runFfmpeg({ role: 'endless', args: ['-re', '-f', 'lavfi', '-i', 'sine', '-f', 'null', '-'], log, onStderrLine: progress.onStderrLine });
    running.push(endless);
    await progress.seen;
    endless.kill();
    expect((await endless.exited).signal).toBe('SIGKILL');
  });

  it('ffmpeg missing is a clear error through exited, never a throw or a crash; stop and kill are then no-ops', async () => {
    const missing = runFfmpeg({ role: 'encoder', args: ['-version'], log, binary: path.join(dir, 'no-such-ffmpeg') });
    const exit = await missing.exited;
    expect(exit.error?.message).toBe(`${path.join(dir, 'no-such-ffmpeg')} not found: the encoder needs ffmpeg installed and on the PATH`);
    expect({ code: exit.code, signal: exit.signal, running: missing.running }).toEqual({ code: null, signal: null, running: false });
    missing.kill();
    expect(await missing.stop(1000)).toBe(exit);
    const probe = await ffmpegOutput({ role: 'watchdog probe', args: [], log, binary: path.join(dir, 'no-such-ffmpeg'), extraPipes: 1 });
    expect(probe.exit.why).toMatch(/not found: the watchdog probe needs ffmpeg/);
  });
});
