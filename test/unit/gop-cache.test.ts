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

describe('GOP cache for reconnecting destinations', () => {
  it('holds the stream from the last keyframe, whatever the chunk boundaries, continuing exactly into the live stream', () => {
    const stream = Buffer.concat([packet(1, true), packet(2), packet(3), packet(4, true), packet(5), packet(6)]);
    const cache = new GopCache();
    // Odd chunk sizes that split packets.
    for (let i = 0; i < stream.length - 100; i += 77) cache.push(stream.subarray(i, Math.min(i + 77, stream.length - 100)));
    const snap = cache.snapshot();
    // From packet 4 (the last keyframe) to the last byte pushed; the rest of the stream follows it.
    expect(snap.subarray(0, 188)).toEqual(packet(4, true));
    expect(Buffer.concat([snap, stream.subarray(stream.length - 100)])).toEqual(stream.subarray(3 * 188));
  });

  it('starts empty, and is emptied when the encoder starts over', () => {
    const cache = new GopCache();
    expect(cache.snapshot().length).toBe(0);
    cache.push(Buffer.concat([packet(1, true), packet(2)]));
    expect(cache.snapshot().length).toBe(376);
    cache.clear();
    expect(cache.snapshot().length).toBe(0);
  });
});
