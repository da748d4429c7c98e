import { spawnSync } from 'node:child_process';
import { parseWavHeader } from '../../src/audio/wav';
import { pcmDurationMs, rms, toPlayoutPcm } from '../../src/audio/pcm';
import { RealtimePump } from '../../src/broadcast/realtime-pump';

function tone(rate: number, seconds: number, hz = 440): Buffer {
  const n = Math.round(rate * seconds);
  const b = Buffer.alloc(n * 2);
  for (let i = 0; i < n; i++) b.writeInt16LE(Math.round(Math.sin((2 * Math.PI * hz * i) / rate) * 12000), i * 2);
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
});

describe('realtime pump', () => {
  it('writes a continuous timeline: silence, then the speech sample-exact, then silence', async () => {
    const rate = 8000;
    const written: Buffer[] = [];
    const pump = new RealtimePump(rate, 50, (b) => written.push(b), 10);
    pump.start();
    await new Promise((r) => setTimeout(r, 100));
    const speech = tone(rate, 0.2);
    const times = await pump.play(speech);
    await new Promise((r) => setTimeout(r, 100));
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
});
