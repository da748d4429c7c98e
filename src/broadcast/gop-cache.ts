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
  /** The latest program tables: a reader starting mid-stream knows the streams from its first byte. */
  private pat?: Buffer;
  private pmt?: Buffer;
  private pmtPid = -1;
  /** The video stream's PID (the PMT's PCR PID: ffmpeg clocks the program on its video). */
  private videoPid = -1;

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
      const pid = ((packet[1]! & 0x1f) << 8) | packet[2]!;
      if (pid === 0) {
        this.pat = Buffer.from(packet);
        this.pmtPid = pmtPidOf(packet);
      } else if (pid === this.pmtPid) {
        this.pmt = Buffer.from(packet);
        this.videoPid = pcrPidOf(packet);
      }
      // Audio frames carry the random-access flag too: only the video's marks a new group.
      if (pid === this.videoPid && isRandomAccess(packet)) {
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
    if (!this.packets.length) return this.partial;
    return Buffer.concat([...(this.pat && this.pmt ? [this.pat, this.pmt] : []), ...this.packets, this.partial]);
  }

  clear(): void {
    this.pat = this.pmt = undefined;
    this.pmtPid = this.videoPid = -1;
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

/** Where a PSI table's section starts in a packet (after the adaptation field and pointer), or -1. */
function sectionStart(p: Buffer): number {
  const adaptation = (p[3]! >> 4) & 0x3;
  const o = 4 + (adaptation === 2 || adaptation === 3 ? 1 + p[4]! : 0);
  if ((p[1]! & 0x40) === 0 || o >= TS_PACKET) return -1;
  return o + 1 + p[o]!;
}

/** The PMT's PID from a PAT packet (first program), or -1. */
function pmtPidOf(p: Buffer): number {
  const s = sectionStart(p);
  // 8 bytes of table header, then program_number (2) + PID (2) per program
  if (s < 0 || s + 12 > TS_PACKET) return -1;
  return ((p[s + 10]! & 0x1f) << 8) | p[s + 11]!;
}

/** The PCR PID from a PMT packet, or -1. */
function pcrPidOf(p: Buffer): number {
  const s = sectionStart(p);
  if (s < 0 || s + 10 > TS_PACKET) return -1;
  return ((p[s + 8]! & 0x1f) << 8) | p[s + 9]!;
}
