/** One FLV tag: an audio frame (8), a video frame (9) or script data (18), with its timestamp in ms. */
export interface FlvTag {
  type: number;
  timestamp: number;
  data: Buffer;
}

const FILE_HEADER = 9 + 4; // 'FLV', version, flags, header size; then PreviousTagSize0
const TAG_HEADER = 11;

/** Cuts an FLV byte stream (ffmpeg's `-f flv pipe:1`) into its tags, whatever the read boundaries. */
export class FlvTagReader {
  private buf: Buffer = Buffer.alloc(0);
  private headerSeen = false;

  constructor(private readonly onTag: (tag: FlvTag) => void) {}

  push(chunk: Buffer): void {
    this.buf = this.buf.length ? Buffer.concat([this.buf, chunk]) : chunk;
    if (!this.headerSeen) {
      if (this.buf.length < FILE_HEADER) return;
      if (this.buf.toString('latin1', 0, 3) !== 'FLV') throw new Error('not an FLV stream');
      this.headerSeen = true;
      this.buf = this.buf.subarray(FILE_HEADER);
    }
    while (this.buf.length >= TAG_HEADER) {
      const size = this.buf.readUIntBE(1, 3);
      const whole = TAG_HEADER + size + 4; // the tag, then its PreviousTagSize
      if (this.buf.length < whole) return;
      const b = this.buf;
      // 24 bits of timestamp, then its upper 8 bits
      const timestamp = (b[7]! * 2 ** 24 + b.readUIntBE(4, 3)) >>> 0;
      this.onTag({ type: b[0]! & 0x1f, timestamp, data: Buffer.from(b.subarray(TAG_HEADER, TAG_HEADER + size)) });
      this.buf = b.subarray(whole);
    }
  }
}
