import type { PcmFormat } from '../../queues/utterance.schema';

/**
 * Read the header of a 16-bit PCM WAV and return the format and where the samples start.
 * Streamed WAVs (espeak-ng --stdout) leave the RIFF and data sizes unknown (0 or 0xFFFFFFFF),
 * so sizes are ignored: the samples run to the end of the input.
 */
export function parseWavHeader(buf: Buffer): { format: PcmFormat; dataOffset: number } {
  if (buf.length < 12 || buf.toString('ascii', 0, 4) !== 'RIFF' || buf.toString('ascii', 8, 12) !== 'WAVE') {
    throw new Error('not a RIFF/WAVE stream');
  }
  let off = 12;
  let format: PcmFormat | undefined;
  while (off + 8 <= buf.length) {
    const id = buf.toString('ascii', off, off + 4);
    const size = buf.readUInt32LE(off + 4);
    if (id === 'fmt ') {
      if (off + 24 > buf.length) break;
      const audioFormat = buf.readUInt16LE(off + 8);
      const channels = buf.readUInt16LE(off + 10);
      const sampleRate = buf.readUInt32LE(off + 12);
      const bits = buf.readUInt16LE(off + 22);
      if (audioFormat !== 1 || bits !== 16) throw new Error(`unsupported WAV encoding (format ${audioFormat}, ${bits} bits): 16-bit PCM expected`);
      format = { sampleRate, channels };
    } else if (id === 'data') {
      if (!format) throw new Error('WAV data chunk before its fmt chunk');
      return { format, dataOffset: off + 8 };
    }
    off += 8 + size + (size % 2);
  }
  throw new Error('WAV header incomplete');
}
