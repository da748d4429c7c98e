/**
 * The speech the playout handed the encoder, kept for a few seconds with the wall time each chunk
 * is due on air, so the avatar's frame for a moment can take exactly the samples encoded with it.
 */
export class PcmRing {
  private chunks: Array<{ dueAt: number; samples: Int16Array }> = [];

  constructor(private readonly sampleRate: number, private readonly keepMs = 8000) {}

  /** A chunk of 16-bit mono PCM whose first sample is due at `dueAt` (ms). Copied: the caller may reuse it. */
  push(pcm: Buffer, dueAt: number): void {
    const samples = new Int16Array(pcm.length >> 1);
    for (let i = 0; i < samples.length; i++) samples[i] = pcm.readInt16LE(i * 2);
    this.chunks.push({ dueAt, samples });
    while (this.chunks.length > 1 && this.chunks[0]!.dueAt < dueAt - this.keepMs) this.chunks.shift();
  }

  /** The samples due in [fromMs, toMs); none (silence) where nothing was handed over. */
  window(fromMs: number, toMs: number): Int16Array {
    const parts: Int16Array[] = [];
    const perMs = this.sampleRate / 1000;
    for (const c of this.chunks) {
      const end = c.dueAt + c.samples.length / perMs;
      if (end <= fromMs || c.dueAt >= toMs) continue;
      const a = Math.max(0, Math.round((fromMs - c.dueAt) * perMs));
      const b = Math.min(c.samples.length, Math.round((toMs - c.dueAt) * perMs));
      if (b > a) parts.push(c.samples.subarray(a, b));
    }
    if (parts.length === 1) return parts[0]!;
    const out = new Int16Array(parts.reduce((n, p) => n + p.length, 0));
    let at = 0;
    for (const p of parts) { out.set(p, at); at += p.length; }
    return out;
  }
}
