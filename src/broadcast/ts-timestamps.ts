/**
 * Reading the timestamps of an MPEG-TS stream (the encoder's output), so the live view can tell a
 * viewer which moment of the on-air clock each point of its stream is: captions then follow what
 * the viewer hears, whatever the delay of its path.
 */
export const TS_PACKET = 188;
/** PTS/DTS count 90 kHz ticks in 33 bits: they wrap every 26.5 hours of a 24/7 stream. */
const WRAP = 2 ** 33;
/** Stream types of the audio codecs ffmpeg's MPEG-TS muxer writes (AAC, MP3, AC-3, AAC LATM). */
const AUDIO_TYPES = new Set([0x0f, 0x03, 0x04, 0x81, 0x11]);

/** `a - b` in ticks, across a wrap (the nearer way round). */
export function tickDiff(a: number, b: number): number {
  const d = (((a - b) % WRAP) + WRAP) % WRAP;
  return d >= WRAP / 2 ? d - WRAP : d;
}

/** Milliseconds of a tick count. */
export const ticksToMs = (ticks: number) => ticks / 90;

export const pidOf = (p: Buffer) => ((p[1]! & 0x1f) << 8) | p[2]!;

/** Where a packet's payload starts (after the adaptation field), or -1 when it has none. */
function payloadStart(p: Buffer): number {
  const adaptation = (p[3]! >> 4) & 0x3;
  if (adaptation === 2) return -1;
  const o = 4 + (adaptation === 3 ? 1 + p[4]! : 0);
  return o < TS_PACKET ? o : -1;
}

/** A packet that starts a keyframe: adaptation field present with its random_access_indicator set. */
export function isRandomAccess(p: Buffer): boolean {
  const adaptation = (p[3]! >> 4) & 0x3;
  return (adaptation === 2 || adaptation === 3) && p[4]! > 0 && (p[5]! & 0x40) !== 0;
}

/** Where a PSI table's section starts in a packet (after the adaptation field and pointer), or -1. */
export function sectionStart(p: Buffer): number {
  const o = payloadStart(p);
  if ((p[1]! & 0x40) === 0 || o < 0) return -1;
  return o + 1 + p[o]!;
}

/** The first audio stream's PID named by a PMT packet, or -1. */
export function audioPidOf(p: Buffer): number {
  const s = sectionStart(p);
  if (s < 0 || s + 12 > TS_PACKET) return -1;
  const end = Math.min(TS_PACKET, s + 3 + (((p[s + 1]! & 0x0f) << 8) | p[s + 2]!) - 4);
  for (let i = s + 12 + (((p[s + 10]! & 0x0f) << 8) | p[s + 11]!); i + 5 <= end; i += 5 + (((p[i + 3]! & 0x0f) << 8) | p[i + 4]!)) {
    if (AUDIO_TYPES.has(p[i]!)) return ((p[i + 1]! & 0x1f) << 8) | p[i + 2]!;
  }
  return -1;
}

/** A 33-bit timestamp from its 5 bytes in a PES header (multiplied, not shifted: it is past 32 bits). */
function timestamp(p: Buffer, o: number): number {
  return ((p[o]! >> 1) & 0x07) * 2 ** 30 + (p[o + 1]! << 22) + ((p[o + 2]! >> 1) << 15) + (p[o + 3]! << 7) + (p[o + 4]! >> 1);
}

/** The decode time (DTS, else PTS) of the PES that starts in this packet, or undefined. */
export function pesDts(p: Buffer): number | undefined {
  const o = payloadStart(p);
  if ((p[1]! & 0x40) === 0 || o < 0 || o + 14 > TS_PACKET) return undefined;
  if (p[o] !== 0 || p[o + 1] !== 0 || p[o + 2] !== 1) return undefined;
  const flags = p[o + 7]! >> 6;
  if (flags === 3 && o + 19 <= TS_PACKET) return timestamp(p, o + 14);
  return flags >= 2 ? timestamp(p, o + 9) : undefined;
}
