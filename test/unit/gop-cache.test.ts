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
