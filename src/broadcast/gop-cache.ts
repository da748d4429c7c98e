import { TS_PACKET, audioPidOf, isRandomAccess, pesDts, pidOf, sectionStart, tickDiff, ticksToMs } from './ts-timestamps';

/** Bound on the cache: a keyframe interval of a high-bitrate stream fits many times over. */
const MAX_BYTES = 8 * 1024 * 1024;

/** The on-air clock at one point of the stream: the wall time (ms) its audio at `pts` is heard on air. */
export interface StreamClock {
  pts: number;
  at: number;
}

/**
 * The encoded stream (MPEG-TS) since its last keyframe. A destination pusher or a live viewer that
 * (re)connects is handed this first, so it starts on a keyframe at once instead of probing the live
 * stream until the next one comes by: platforms and viewers see a picture sooner after every
 * reconnect or takeover. Keyframes are found by the random-access indicator the MPEG-TS muxer sets on them.
 * It also follows the stream's timestamps, so it can tell which on-air moment a snapshot starts at.
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
  private audioPid = -1;
  /** The first decode times of the cached group, per stream: a player's timeline starts at the earlier one. */
  private groupDts: { video?: number; audio?: number } = {};
  private anchor?: StreamClock;

  /** `firstClock`: the on-air time of the first audio of a run, when this cache sees the encoder's own output. */
  constructor(private readonly firstClock?: () => number | undefined) {}

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
      this.packet(data.subarray(i, i + TS_PACKET));
    }
    this.partial = i < data.length ? Buffer.from(data.subarray(i)) : Buffer.alloc(0);
  }

  private packet(packet: Buffer): void {
    const pid = pidOf(packet);
    if (pid === 0) {
      this.pat = Buffer.from(packet);
      this.pmtPid = pmtPidOf(packet);
    } else if (pid === this.pmtPid) {
      this.pmt = Buffer.from(packet);
      this.videoPid = pcrPidOf(packet);
      this.audioPid = audioPidOf(packet);
    }
    // Audio frames carry the random-access flag too: only the video's marks a new group.
    if (pid === this.videoPid && isRandomAccess(packet)) {
      this.packets = [];
      this.bytes = 0;
      this.groupDts = {};
    }
    // Audio first: a sound-only channel's audio is also its PCR stream.
    if (pid === this.videoPid || pid === this.audioPid) this.timestamps(packet, pid === this.audioPid ? 'audio' : 'video');
    if (this.bytes < MAX_BYTES) {
      this.packets.push(Buffer.from(packet));
      this.bytes += TS_PACKET;
    }
  }

  private timestamps(packet: Buffer, kind: 'video' | 'audio'): void {
    const dts = pesDts(packet);
    if (dts === undefined) return;
    this.groupDts[kind] ??= dts;
    if (kind !== 'audio') return;
    // The clock moves with the audio: the latest audio PES is the anchor (a wrap of the 33 bits is crossed here).
    if (this.anchor) this.anchor = { pts: dts, at: this.anchor.at + ticksToMs(tickDiff(dts, this.anchor.pts)) };
    else {
      const first = this.firstClock?.();
      if (first !== undefined) this.anchor = { pts: dts, at: first };
    }
  }

  /** The on-air clock at the latest audio, once known. */
  get clock(): StreamClock | undefined {
    return this.anchor;
  }

  /** Set the clock from the stream's source (a reader of a broadcaster's stream is told it on connecting). */
  setClock(clock: StreamClock): void {
    this.anchor = { ...clock };
  }

  /** The on-air time (ms) of the snapshot's first timestamp: where a player starting with the snapshot has its time zero. */
  snapshotClock(): number | undefined {
    const { video, audio } = this.groupDts;
    const first = video === undefined ? audio : audio === undefined || tickDiff(video, audio) <= 0 ? video : audio;
    if (first === undefined || !this.anchor) return undefined;
    return this.anchor.at + ticksToMs(tickDiff(first, this.anchor.pts));
  }

  /** The stream from its last keyframe up to now, so the next chunk pushed continues it exactly. */
  snapshot(): Buffer {
    if (!this.packets.length) return this.partial;
    return Buffer.concat([...(this.pat && this.pmt ? [this.pat, this.pmt] : []), ...this.packets, this.partial]);
  }

  clear(): void {
    this.pat = this.pmt = undefined;
    this.pmtPid = this.videoPid = this.audioPid = -1;
    this.packets = [];
    this.bytes = 0;
    this.partial = Buffer.alloc(0);
    this.groupDts = {};
    this.anchor = undefined;
  }
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
