import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { CaptionFile, wrapCaption } from '../../src/broadcast/caption-file';
import { HlsEncoder } from '../../src/broadcast/hls-encoder';
import { parseConfig } from '../../src/config/load';
import { createLogger } from '../../src/logger';
import { sleep } from '../../src/time';


/** The first picture of the newest complete segment, as 8-bit grey pixels. */
function latestFrame(liveDir: string): Buffer {
  const segs = fs.readFileSync(path.join(liveDir, 'index.m3u8'), 'utf8').split('\n').filter((l) => l.endsWith('.ts'));
  const out = spawnSync('ffmpeg', ['-loglevel', 'error', '-i', path.join(liveDir, segs.at(-1)!), '-frames:v', '1', '-f', 'rawvideo', '-pix_fmt', 'gray', 'pipe:1'], { maxBuffer: 16 * 1024 * 1024 });
  return out.stdout;
}
const differing = (a: Buffer, b: Buffer) => a.reduce((n, v, i) => n + (Math.abs(v - b[i]!) > 40 ? 1 : 0), 0);

describe('captions drawn on the picture (real ffmpeg drawtext)', () => {
  it("a caption with ' : %{ \\ and newlines shows as text, breaks nothing, and goes away", async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'idolcast-caption-'));
    const config = parseConfig('{}', 'x.yaml');
    const channel = { ...config.channels.main!, live: { ...config.channels.main!.live, dir } };
    const caption = new CaptionFile(path.join(dir, 'main.caption.txt'));
    caption.clear();
    let restarts = 0;
    const encoder = new HlsEncoder(channel, path.join(dir, 'main'), 24000, createLogger('test', 'silent'), () => restarts++, undefined, caption.path);
    encoder.start();
    // Silence in real time, as the playout would feed it (bounded: the test ends it).
    const feed = setInterval(() => encoder.write(Buffer.alloc(480 * 2), Date.now()), 20);
    try {
      // The number of the newest segment (the playlist keeps only the last few).
      const segments = () => Number(/seg-(\d+)\.ts\s*$/.exec(fs.readFileSync(path.join(dir, 'main', 'index.m3u8'), 'utf8'))?.[1] ?? -1);
      await encoder.clockReady;
      await sleep(2000);
      const blank = latestFrame(path.join(dir, 'main'));

      const hostile = "It's 5:00 %{localtime} \\n C:\\path\\to 'quote' [x];,\nsecond line %{pts} done";
      caption.set(hostile);
      expect(fs.readFileSync(caption.path, 'utf8')).toBe(wrapCaption(hostile, 42, 3));
      // The playlist may lag the encoder by a segment under load, and the segment being written
      // when the caption changed starts without it: wait until two whole segments came after it.
      const before = segments();
      while (segments() < before + 3) await sleep(100);
      const captioned = latestFrame(path.join(dir, 'main'));
      // Text was drawn: many pixels changed, all in the lower part of the picture.
      const { width, height } = channel.video;
      expect(captioned.length).toBe(width * height);
      expect(differing(blank, captioned)).toBeGreaterThan(500);
      expect(differing(blank.subarray(0, (width * height) / 2), captioned.subarray(0, (width * height) / 2))).toBe(0);

      caption.clear();
      const mid = segments();
      while (segments() < mid + 3) await sleep(100);
      expect(differing(blank, latestFrame(path.join(dir, 'main')))).toBeLessThan(50);
      expect(restarts).toBe(0);
      expect(encoder.running).toBe(true);
    } finally {
      clearInterval(feed);
      await encoder.stop();
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('long captions wrap into at most three lines and are cut with an ellipsis', () => {
    expect(wrapCaption('a '.repeat(10).trim(), 5, 3)).toBe('a a a\na a a\na a…');
    expect(wrapCaption('supercalifragilistic', 8, 3)).toBe('supercal\nifragili\nstic');
    expect(wrapCaption('tab\there\u200bzero', 42, 3)).toBe('tab here zero');
  });
});
