import { decodeAmf0, encodeAmf0 } from '../../src/broadcast/amf0';
import { FlvTagReader, type FlvTag } from '../../src/broadcast/flv-tags';
import { ChunkReader, chunkMessage } from '../../src/broadcast/rtmp-chunks';
import { parseTarget } from '../../src/broadcast/rtmp-publisher';

describe('RTMP publishing pieces', () => {
  it('a target: the key is the stream name, the app is the URL path, and errors never quote the URL', () => {
    expect(parseTarget('rtmp://live.example:1936/app/', 'live_1?x#y')).toEqual({ secure: false, host: 'live.example', port: 1936, app: 'app', tcUrl: 'rtmp://live.example:1936/app', name: 'live_1?x#y' });
    expect(parseTarget('rtmps://ingest.example/live2/sub')).toMatchObject({ secure: true, port: 443, app: 'live2', name: 'sub', tcUrl: 'rtmps://ingest.example/live2' });
    expect(parseTarget('rtmp://h/app/name?token=1')).toMatchObject({ port: 1935, app: 'app', name: 'name?token=1' });
    for (const bad of ['http://h/app/SECRETKEY', 'rtmp://h/SECRETKEY', 'not a url SECRETKEY']) {
      expect(() => parseTarget(bad)).toThrow();
      expect(() => parseTarget(bad)).not.toThrow(/SECRETKEY/);
    }
  });

  it('AMF0 values round-trip, and an unknown type is an error, not a crash', () => {
    const values = ['connect', 1, { app: 'live', nested: { ok: true, n: null } }, null, undefined, [1, 'two'], false];
    expect(decodeAmf0(encodeAmf0(values))).toEqual(values);
    expect(() => decodeAmf0(Buffer.from([0x42]))).toThrow(/AMF0 type 66/);
    expect(() => decodeAmf0(Buffer.from([0x02, 0x00, 0x09, 0x61]))).toThrow(/cut short/);
  });

  it('chunked messages reassemble whatever the read boundaries, chunk size and timestamp (extended past 2^24 ms)', () => {
    const got: [number, number, Buffer][] = [];
    const reader = new ChunkReader((type, id, payload) => got.push([type, id, payload]));
    const big = Buffer.from(Array.from({ length: 10_000 }, (_, i) => i % 251));
    reader.chunkSize = 4096;
    const wire = Buffer.concat([chunkMessage(6, 9, 1, 0x1234567, big, 4096), chunkMessage(3, 20, 0, 5, Buffer.from('hi'), 4096), chunkMessage(4, 8, 1, 7, Buffer.alloc(0), 4096)]);
    for (let i = 0; i < wire.length; i += 7) reader.push(wire.subarray(i, i + 7));
    expect(got).toEqual([[9, 1, big], [20, 0, Buffer.from('hi')], [8, 1, Buffer.alloc(0)]]);
  });

  it('FLV tags come out whole from a stream cut anywhere', () => {
    const tag = (type: number, ts: number, data: Buffer) => {
      const h = Buffer.alloc(11);
      h[0] = type;
      h.writeUIntBE(data.length, 1, 3);
      h.writeUIntBE(ts & 0xffffff, 4, 3);
      h[7] = ts >>> 24;
      const prev = Buffer.alloc(4);
      prev.writeUInt32BE(11 + data.length);
      return Buffer.concat([h, data, prev]);
    };
    const stream = Buffer.concat([Buffer.from('FLV\x01\x05\x00\x00\x00\x09\x00\x00\x00\x00', 'latin1'), tag(18, 0, Buffer.from('meta')), tag(9, 0x01020304, Buffer.alloc(300, 1)), tag(8, 40, Buffer.from('aac'))]);
    const tags: FlvTag[] = [];
    const reader = new FlvTagReader((t) => tags.push(t));
    for (let i = 0; i < stream.length; i += 5) reader.push(stream.subarray(i, i + 5));
    expect(tags.map((t) => [t.type, t.timestamp, t.data.length])).toEqual([[18, 0, 4], [9, 0x01020304, 300], [8, 40, 3]]);
    expect(() => new FlvTagReader(() => {}).push(Buffer.from('GIF89a-not-flv'))).toThrow(/not an FLV/);
  });
});
