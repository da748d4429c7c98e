/** RTMP's chunk stream (the framing under every message), both ways. */

/** Message types an RTMP publisher sends or answers. */
export const MSG = {
  setChunkSize: 1,
  ack: 3,
  userControl: 4,
  windowAckSize: 5,
  audio: 8,
  video: 9,
  data: 18,
  command: 20,
} as const;

const EXTENDED = 0xffffff;

function basicHeader(fmt: number, csid: number): Buffer {
  if (csid < 2 || csid > 63) throw new Error(`chunk stream id ${csid} out of the one-byte range`);
  return Buffer.from([(fmt << 6) | csid]);
}

/**
 * One message cut into chunks of `chunkSize`: a full (type 0) header with the absolute timestamp,
 * then type 3 continuations. Every message carries a full header, so nothing depends on what the
 * previous message on the chunk stream looked like.
 */
export function chunkMessage(csid: number, type: number, streamId: number, timestamp: number, payload: Buffer, chunkSize: number): Buffer {
  const ts = timestamp >>> 0;
  const extended = ts >= EXTENDED;
  const head = Buffer.alloc(11);
  head.writeUIntBE(extended ? EXTENDED : ts, 0, 3);
  head.writeUIntBE(payload.length, 3, 3);
  head[6] = type;
  head.writeUInt32LE(streamId, 7);
  const ext = Buffer.alloc(extended ? 4 : 0);
  if (extended) ext.writeUInt32BE(ts);
  const parts = [basicHeader(0, csid), head, ext];
  for (let o = 0; o < payload.length || o === 0; o += chunkSize) {
    if (o > 0) parts.push(basicHeader(3, csid), ext);
    parts.push(payload.subarray(o, o + chunkSize));
    if (payload.length === 0) break;
  }
  return Buffer.concat(parts);
}

interface InStream {
  length: number;
  type: number;
  streamId: number;
  extended: boolean;
  parts: Buffer[];
  got: number;
}

/**
 * Reassembles the server's messages from its chunks. Timestamps are skipped: a publisher only
 * reads control and command messages, whose time means nothing to it.
 */
export class ChunkReader {
  chunkSize = 128;
  private buf: Buffer = Buffer.alloc(0);
  private readonly streams = new Map<number, InStream>();

  constructor(private readonly onMessage: (type: number, streamId: number, payload: Buffer) => void) {}

  push(data: Buffer): void {
    this.buf = this.buf.length ? Buffer.concat([this.buf, data]) : data;
    let used: number;
    while ((used = this.chunk()) > 0) this.buf = this.buf.subarray(used);
  }

  /** Parse one whole chunk at the start of the buffer: the bytes it took, or 0 if it has not all arrived. */
  private chunk(): number {
    const b = this.buf;
    if (b.length < 1) return 0;
    const fmt = b[0]! >> 6;
    let csid = b[0]! & 0x3f;
    let o = 1;
    if (csid === 0) [csid, o] = b.length >= 2 ? [64 + b[1]!, 2] : [-1, 0];
    else if (csid === 1) [csid, o] = b.length >= 3 ? [64 + b[1]! + b[2]! * 256, 3] : [-1, 0];
    if (csid < 0) return 0;
    const headerBytes = [11, 7, 3, 0][fmt]!;
    if (b.length < o + headerBytes) return 0;
    const prev = this.streams.get(csid) ?? { length: 0, type: 0, streamId: 0, extended: false, parts: [], got: 0 };
    const s = { ...prev };
    if (fmt <= 2) s.extended = b.readUIntBE(o, 3) === EXTENDED;
    if (fmt <= 1) {
      s.length = b.readUIntBE(o + 3, 3);
      s.type = b[o + 6]!;
    }
    if (fmt === 0) s.streamId = b.readUInt32LE(o + 7);
    o += headerBytes + (s.extended ? 4 : 0);
    const n = Math.min(this.chunkSize, s.length - s.got);
    if (b.length < o + n) return 0;
    s.parts.push(Buffer.from(b.subarray(o, o + n)));
    s.got += n;
    if (s.got >= s.length) {
      this.onMessage(s.type, s.streamId, Buffer.concat(s.parts));
      s.parts = [];
      s.got = 0;
    }
    this.streams.set(csid, s);
    return o + n;
  }
}
