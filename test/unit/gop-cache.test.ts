import { GopCache } from '../../src/broadcast/gop-cache';

/** A 188-byte MPEG-TS packet; `key` sets the random-access indicator of a keyframe's first packet. */
function packet(n: number, key = false): Buffer {
  const p = Buffer.alloc(188, n & 0xff);
  p[0] = 0x47;
  p[1] = 0x01;
  p[2] = 0x00;
  p[3] = key ? 0x30 : 0x10; // adaptation field + payload, or payload only
  if (key) {
    p[4] = 7;
    p[5] = 0x40;
  }
  return p;
}

/** The program tables: PAT naming PMT PID 0x1000, PMT naming PCR (video) PID 0x100. */
function table(pid: number, body: number[]): Buffer {
  const p = Buffer.alloc(188, 0xff);
  p[0] = 0x47;
  p[1] = 0x40 | (pid >> 8);
  p[2] = pid & 0xff;
  p[3] = 0x10;
  p[4] = 0; // pointer field
  Buffer.from(body).copy(p, 5);
  return p;
}
const PAT = table(0, [0x00, 0xb0, 0x0d, 0, 1, 0xc1, 0, 0, 0, 1, 0xf0, 0x00]);
const PMT = table(0x1000, [0x02, 0xb0, 0x17, 0, 1, 0xc1, 0, 0, 0xe1, 0x00]);

/** An audio packet: its frames carry the random-access flag too, and must not start a group. */
function audio(n: number): Buffer {
  const p = packet(n, true);
  p[2] = 0x01; // PID 0x101
  return p;
}

describe('GOP cache for reconnecting destinations', () => {
  it('holds the stream from the last keyframe, whatever the chunk boundaries, continuing exactly into the live stream', () => {
    const stream = Buffer.concat([PAT, PMT, packet(1, true), packet(2), audio(3), packet(4, true), audio(5), packet(6)]);
    const cache = new GopCache();
    // Odd chunk sizes that split packets.
    for (let i = 0; i < stream.length - 100; i += 77) cache.push(stream.subarray(i, Math.min(i + 77, stream.length - 100)));
    const snap = cache.snapshot();
    // The tables, then from packet 4 (the last video keyframe) to the last byte pushed; the live stream continues it.
    expect(snap.subarray(0, 376)).toEqual(Buffer.concat([PAT, PMT]));
    expect(snap.subarray(376, 564)).toEqual(packet(4, true));
    expect(Buffer.concat([snap.subarray(376), stream.subarray(stream.length - 100)])).toEqual(stream.subarray(5 * 188));
  });

  it('starts empty, and is emptied when the encoder starts over', () => {
    const cache = new GopCache();
    expect(cache.snapshot().length).toBe(0);
    cache.push(Buffer.concat([PAT, PMT, packet(1, true), packet(2)]));
    expect(cache.snapshot().length).toBe(4 * 188);
    cache.clear();
    expect(cache.snapshot().length).toBe(0);
  });
});

/** A packet starting a PES with a PTS (90 kHz ticks, 33 bits) on `pid`; `key` marks a video keyframe. */
function pes(pid: number, pts: number, key = false): Buffer {
  const p = Buffer.alloc(188, 0xff);
  p[0] = 0x47;
  p[1] = 0x40 | (pid >> 8); // payload unit start
  p[2] = pid & 0xff;
  let o = 4;
  if (key) {
    p[3] = 0x30;
    p[4] = 1;
    p[5] = 0x40;
    o = 6;
  } else p[3] = 0x10;
  Buffer.from([0, 0, 1, 0xe0, 0, 0, 0x80, 0x80, 5]).copy(p, o);
  const hi = Math.floor(pts / 2 ** 30) & 0x07;
  const lo = pts % 2 ** 30;
  Buffer.from([0x21 | (hi << 1), (lo >> 22) & 0xff, (((lo >> 15) & 0x7f) << 1) | 1, (lo >> 7) & 0xff, ((lo & 0x7f) << 1) | 1]).copy(p, o + 9);
  return p;
}
/** PMT naming video PID 0x100 (H.264, also the PCR PID) and audio PID 0x101 (AAC). */
const PMT_AV = table(0x1000, [0x02, 0xb0, 0x17, 0, 1, 0xc1, 0, 0, 0xe1, 0x00, 0xf0, 0x00, 0x1b, 0xe1, 0x00, 0xf0, 0x00, 0x0f, 0xe1, 0x01, 0xf0, 0x00, 0, 0, 0, 0]);

describe('the on-air clock of the cached stream', () => {
  it('knows the on-air time of the snapshot\'s first timestamp, from the clock of the run\'s first audio', () => {
    const cache = new GopCache(() => 1_000_000);
    cache.push(Buffer.concat([PAT, PMT_AV, pes(0x101, 90_000), pes(0x100, 90_000, true), pes(0x101, 91_800)]));
    // 1 s of stream later (90,000 ticks), a new keyframe: its snapshot starts 1 s after the first audio went on air.
    cache.push(Buffer.concat([pes(0x100, 180_000, true), pes(0x101, 181_800)]));
    expect(cache.clock).toEqual({ pts: 181_800, at: 1_000_000 + 1020 });
    expect(cache.snapshotClock()).toBe(1_001_000);
  });

  it('follows the 33-bit timestamps across their wrap (every 26.5 hours)', () => {
    const cache = new GopCache();
    const nearWrap = 2 ** 33 - 9000; // 100 ms before the wrap
    cache.push(Buffer.concat([PAT, PMT_AV, pes(0x101, nearWrap)]));
    cache.setClock({ pts: nearWrap, at: 5000 });
    cache.push(Buffer.concat([pes(0x100, 9000, true), pes(0x101, 18_000)]));
    expect(cache.clock).toEqual({ pts: 18_000, at: 5000 + 300 });
    expect(cache.snapshotClock()).toBe(5000 + 200);
  });

  it('keeps the clock of a sound-only channel, whose audio is also its PCR stream', () => {
    const cache = new GopCache(() => 7000);
    const pmtAudioOnly = table(0x1000, [0x02, 0xb0, 0x12, 0, 1, 0xc1, 0, 0, 0xe1, 0x01, 0xf0, 0x00, 0x0f, 0xe1, 0x01, 0xf0, 0x00]);
    cache.push(Buffer.concat([PAT, pmtAudioOnly, pes(0x101, 90_000, true), pes(0x101, 91_800, true)]));
    expect(cache.clock).toEqual({ pts: 91_800, at: 7020 });
    expect(cache.snapshotClock()).toBe(7020);
  });

  it('knows no clock before one is set or the first audio is seen, and none after the encoder starts over', () => {
    const cache = new GopCache(() => 42);
    cache.push(Buffer.concat([PAT, PMT_AV, pes(0x100, 3000, true)]));
    expect(cache.snapshotClock()).toBeUndefined();
    cache.push(pes(0x101, 3000));
    expect(cache.snapshotClock()).toBe(42);
    cache.clear();
    expect(cache.clock).toBeUndefined();
  });
});
