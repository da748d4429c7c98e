const TS_PACKET = 188;
/** Bound on the cache: a keyframe interval of a high-bitrate stream fits many times over. */
const MAX_BYTES = 8 * 1024 * 1024;

/**
 * The encoded stream (MPEG-TS) since its last keyframe. A destination pusher that (re)connects
 * is handed this first, so it starts on a keyframe at once instead of probing the live stream
 * until the next one comes by: platforms see a picture sooner after every reconnect or takeover.
 * Keyframes are found by the random-access indicator the MPEG-TS muxer sets on them.
 */
export class GopCache {
  private packets: Buffer[] = [];
  private bytes = 0;
  private partial = Buffer.alloc(0);

  push(chunk: Buffer): void {
    const data = this.partial.length ? Buffer.concat([this.partial, chunk]) : chunk;
    let i = 0;
    for (; i + TS_PACKET <= data.length; i += TS_PACKET) {
      if (data[i] !== 0x47) {
        // Lost sync (should not happen on a pipe): start over at the next sync byte.
        const next = data.indexOf(0x47, i + 1);
        if (next < 0) {
          i = data.length;
          break;
        }
        i = next - TS_PACKET;
        continue;
      }
      const packet = data.subarray(i, i + TS_PACKET);
      if (isRandomAccess(packet)) {
        this.packets = [];
        this.bytes = 0;
      }
      if (this.bytes < MAX_BYTES) {
        this.packets.push(Buffer.from(packet));
        this.bytes += TS_PACKET;
      }
    }
    this.partial = i < data.length ? Buffer.from(data.subarray(i)) : Buffer.alloc(0);
  }

  /** The stream from its last keyframe up to now, so the next chunk pushed continues it exactly. */
  snapshot(): Buffer {
    return Buffer.concat([...this.packets, this.partial]);
  }

  clear(): void {
    this.packets = [];
    this.bytes = 0;
    this.partial = Buffer.alloc(0);
  }
}

/** A packet that starts a keyframe: adaptation field present with its random_access_indicator set. */
function isRandomAccess(p: Buffer): boolean {
  const adaptation = (p[3]! >> 4) & 0x3;
  return (adaptation === 2 || adaptation === 3) && p[4]! > 0 && (p[5]! & 0x40) !== 0;
}
