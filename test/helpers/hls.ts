import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';

/**
 * A copy of what a live HLS playlist holds right now, closed with EXT-X-ENDLIST so ffmpeg reads it
 * once and stops (the live one keeps growing and dropping segments). Returns the copy's playlist.
 */
export function snapshotLiveHls(liveDir: string, workDir: string): string {
  const snap = fs.mkdtempSync(path.join(workDir, 'hls-'));
  const playlist = fs.readFileSync(path.join(liveDir, 'index.m3u8'), 'utf8');
  for (const line of playlist.split('\n')) {
    if (line.endsWith('.ts')) fs.copyFileSync(path.join(liveDir, line), path.join(snap, line));
  }
  fs.writeFileSync(path.join(snap, 'index.m3u8'), `${playlist.trimEnd()}\n#EXT-X-ENDLIST\n`);
  return path.join(snap, 'index.m3u8');
}

/** What `ffmpeg -loglevel error <args>` writes to stdout (rejects with its error output). */
export function ffmpegStdout(args: string[]): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const ff = spawn('ffmpeg', ['-loglevel', 'error', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    let err = '';
    ff.stdout.on('data', (d: Buffer) => out.push(d));
    ff.stderr.on('data', (d: Buffer) => (err += d.toString()));
    ff.on('close', (code) => (code === 0 ? resolve(Buffer.concat(out)) : reject(new Error(`ffmpeg could not decode the live view: ${err}`))));
  });
}

/** Decode what a live HLS playlist holds right now to mono 16-bit PCM at `rate`. */
export async function decodeLiveHls(liveDir: string, workDir: string, rate = 16000): Promise<Buffer> {
  return ffmpegStdout(['-i', snapshotLiveHls(liveDir, workDir), '-f', 's16le', '-ac', '1', '-ar', String(rate), 'pipe:1']);
}

/** RMS level of consecutive windows of 16-bit mono PCM. */
export function windowLevels(pcm: Buffer, rate: number, windowMs: number): number[] {
  const w = Math.round((rate * windowMs) / 1000);
  const levels: number[] = [];
  for (let i = 0; i + w * 2 <= pcm.length; i += w * 2) {
    let sum = 0;
    for (let j = 0; j < w; j++) {
      const v = pcm.readInt16LE(i + j * 2) / 32768;
      sum += v * v;
    }
    levels.push(Math.sqrt(sum / w));
  }
  return levels;
}
