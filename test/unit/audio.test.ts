import { spawnSync } from 'node:child_process';
import { parseWavHeader } from '../../src/audio/wav';
import { LINE_TAIL_MS, pcmDurationMs, rms, toPlayoutPcm, trimTrailingSilence } from '../../src/audio/pcm';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { GeneratedBed, LoopedBed, decodeBed } from '../../src/broadcast/bed';
import { RealtimePump, START_BURST_MS } from '../../src/broadcast/realtime-pump';
import { sleep } from '../../src/time';
import { createLogger } from '../../src/logger';

function tone(rate: number, seconds: number, hz = 440, amplitude = 12000): Buffer {
  const n = Math.round(rate * seconds);
  const b = Buffer.alloc(n * 2);
  for (let i = 0; i < n; i++) b.writeInt16LE(Math.round(Math.sin((2 * Math.PI * hz * i) / rate) * amplitude), i * 2);
  return b;
}

describe('audio', () => {
  it('reads a streamed espeak-ng WAV header (unknown sizes)', () => {
    const out = spawnSync('espeak-ng', ['--stdout'], { input: 'hello world' });
    const { format, dataOffset } = parseWavHeader(out.stdout);
    expect(format).toEqual({ sampleRate: 22050, channels: 1 });
    expect(dataOffset).toBe(44);
  });

  it('rejects what is not 16-bit PCM WAV', () => {
    expect(() => parseWavHeader(Buffer.from('not a wav at all, not at all'))).toThrow(/RIFF/);
  });

  it('resamples to the playout rate keeping duration and level', () => {
    const src = tone(22050, 1);
    const out = toPlayoutPcm(src, { sampleRate: 22050, channels: 1 }, 24000);
    expect(pcmDurationMs(out.length, 24000)).toBeCloseTo(1000, -1);
    expect(rms(out)).toBeCloseTo(rms(src), 2);
  });

  it('mixes stereo down to mono', () => {
    const mono = tone(24000, 0.1);
    const stereo = Buffer.alloc(mono.length * 2);
    for (let i = 0; i < mono.length / 2; i++) {
      stereo.writeInt16LE(mono.readInt16LE(i * 2), i * 4);
      stereo.writeInt16LE(mono.readInt16LE(i * 2), i * 4 + 2);
    }
    expect(toPlayoutPcm(stereo, { sampleRate: 24000, channels: 2 }, 24000).equals(mono)).toBe(true);
  });

  /** Index of the last sample louder than `floor` (mono 16-bit). */
  const lastAbove = (pcm: Buffer, floor: number) => {
    let i = pcm.length / 2 - 1;
    while (i > 0 && Math.abs(pcm.readInt16LE(i * 2)) <= floor) i--;
    return i;
  };
  const tailBytes = (rate: number) => 2 * Math.round((LINE_TAIL_MS * rate) / 1000);

  it("ends a spoken line soon after its last sound, not after the engine's trailing silence", () => {
    const out = spawnSync('espeak-ng', ['--stdout', '-v', 'en-us+f3', '-s', '165'], { input: 'Line 25: hello stream.' });
    const { format, dataOffset } = parseWavHeader(out.stdout);
    const line = toPlayoutPcm(out.stdout.subarray(dataOffset), format, 24000);
    const trimmed = trimTrailingSilence(line, 24000);
    // espeak-ng pads a line with about a third of a second of silence: most of it goes.
    expect(pcmDurationMs(line.length - trimmed.length, 24000)).toBeGreaterThan(150);
    // The speech itself (anything louder than -40 dBFS) is untouched; the short tail fades to zero, so the cut never clicks.
    const cut = trimmed.length - tailBytes(24000);
    expect(lastAbove(line, 327) * 2).toBeLessThan(cut);
    expect(trimmed.subarray(0, cut).equals(line.subarray(0, cut))).toBe(true);
    expect(trimmed.readInt16LE(trimmed.length - 2)).toBe(0);
  });

  it('keeps a soft ending that is still part of the line, and leaves silence and short tails alone', () => {
    const rate = 24000;
    const loud = tone(rate, 0.3);
    const soft = tone(rate, 0.2, 440, 12000 / 31.6); // 30 dB under the peak: soft, but sound (40 dB under is silence)
    const line = Buffer.concat([loud, soft, Buffer.alloc(rate * 2)]); // then a second of silence
    const trimmed = trimTrailingSilence(line, rate);
    // A sine's last loud sample is within half a period (55 samples at 440 Hz) of the tone's end.
    const kept = loud.length + soft.length - 2 * 55;
    expect(trimmed.length).toBeGreaterThan(kept);
    expect(trimmed.length).toBeLessThanOrEqual(loud.length + soft.length + tailBytes(rate));
    expect(trimmed.subarray(0, kept - tailBytes(rate)).equals(line.subarray(0, kept - tailBytes(rate)))).toBe(true);
    const silence = Buffer.alloc(rate * 2);
    expect(trimTrailingSilence(silence, rate)).toBe(silence);
    const short = Buffer.concat([loud, Buffer.alloc(200)]);
    expect(trimTrailingSilence(short, rate)).toBe(short);
  });
});

describe('realtime pump', () => {
  it('writes a continuous timeline: silence, then the speech sample-exact, then silence', async () => {
    const rate = 8000;
    const written: Buffer[] = [];
    const pump = new RealtimePump(rate, 50, (b) => written.push(b), 10);
    pump.start();
    await sleep(100);
    const speech = tone(rate, 0.2);
    const times = await pump.play(speech);
    await sleep(100);
    pump.stop();
    const all = Buffer.concat(written);
    const start = all.indexOf(speech.subarray(0, 64));
    expect(start).toBeGreaterThan(0);
    expect(all.subarray(start, start + speech.length).equals(speech)).toBe(true);
    expect(rms(all.subarray(0, start))).toBe(0);
    expect(rms(all.subarray(start + speech.length))).toBe(0);
    expect(times.endAt - times.startAt).toBe(200);
    expect(pump.idle).toBe(true);
  });

  it('hands a line starting from idle to the encoder at once, with a burst ahead, and keeps the timeline exact', async () => {
    const rate = 8000;
    const written: Buffer[] = [];
    // A tick far slower than the line: whatever of it is written before the next tick came from play() itself.
    const pump = new RealtimePump(rate, 50, (b) => written.push(b), 60_000);
    pump.start();
    const speech = tone(rate, 0.5);
    void pump.play(speech);
    const now = Buffer.concat(written);
    const start = now.indexOf(speech.subarray(0, 64));
    expect(start).toBeGreaterThan(0);
    // What was due by now, and the burst past it: all of it the line's first samples.
    expect(now.length - start).toBeGreaterThanOrEqual(Math.round((START_BURST_MS * rate) / 1000) * 2);
    expect(now.subarray(start).equals(speech.subarray(0, now.length - start))).toBe(true);
    // A second line queued behind it waits its turn: nothing more is written before the tick.
    void pump.play(tone(rate, 0.2));
    expect(Buffer.concat(written).length).toBe(now.length);
    pump.stop();
    expect(pump.underruns).toBe(0);
  });

  it('mixes the background bed into every gap and ducks it under speech, so the stream is never dead air', async () => {
    const rate = 8000;
    const written: Buffer[] = [];
    let firstDue: number | undefined;
    const bed = new GeneratedBed(rate);
    const pump = new RealtimePump(rate, 50, (b, dueAt) => ((firstDue ??= dueAt), written.push(b)), 10, { bed, level: 0.2, duckLevel: 0.05 });
    pump.start();
    await sleep(1000);
    // "Speech" of pure silence: what is heard under it is the ducked bed alone.
    const times = await pump.play(Buffer.alloc(rate * 2));
    await sleep(700);
    pump.stop();
    const all = Buffer.concat(written);
    const byteAt = (wall: number) => Math.round(((wall - firstDue!) / 1000) * rate) * 2;
    // After the bed's fade-in (400 ms), every 100 ms window carries sound.
    const win = (rate / 10) * 2;
    for (let i = byteAt(firstDue! + 500); i + win <= all.length; i += win) expect(rms(all.subarray(i, i + win))).toBeGreaterThan(0.01);
    const gap = rms(all.subarray(byteAt(times.startAt - 400), byteAt(times.startAt - 50)));
    const under = rms(all.subarray(byteAt(times.startAt + 200), byteAt(times.endAt - 50)));
    const after = rms(all.subarray(byteAt(times.endAt + 500), all.length));
    // Ducked to a quarter (0.05 / 0.2) under speech, and back up after it.
    expect(under / gap).toBeGreaterThan(0.2);
    expect(under / gap).toBeLessThan(0.3);
    expect(after / gap).toBeGreaterThan(0.8);
  });

  it('a bed file from the config is decoded once and looped; an unusable one is refused with the reason', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'idolcast-bed-'));
    const file = path.join(dir, 'bed.wav');
    spawnSync('ffmpeg', ['-loglevel', 'error', '-f', 'lavfi', '-i', 'sine=f=330:d=1.5', file]);
    const samples = await decodeBed(file, 8000, createLogger('test', 'silent'));
    expect(samples.length).toBe(12000);
    const bed = new LoopedBed(samples);
    bed.next(11000);
    const wrapped = bed.next(2000);
    expect(wrapped[1000]).toBeCloseTo(samples[0]! / 32768, 6);
    fs.writeFileSync(path.join(dir, 'junk.mp3'), 'not audio');
    await expect(decodeBed(path.join(dir, 'junk.mp3'), 8000, createLogger('test', 'silent'))).rejects.toThrow(/cannot use .*junk\.mp3 as the background bed/);
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('counts an underrun when the event loop falls behind the lead, and keeps the timeline whole', async () => {
    const rate = 8000;
    const written: Buffer[] = [];
    const pump = new RealtimePump(rate, 50, (b) => written.push(b), 10);
    pump.start();
    await sleep(200);
    const before = pump.underruns; // a busy machine may already have been late once or twice
    const until = Date.now() + 300;
    while (Date.now() < until); // a stalled event loop
    await sleep(100);
    pump.stop();
    expect(pump.underruns).toBeGreaterThan(before);
    // No samples lost: the pump caught up, so the timeline still matches the clock.
    const seconds = Buffer.concat(written).length / 2 / rate;
    expect(seconds).toBeGreaterThan(0.6);
  });
});
