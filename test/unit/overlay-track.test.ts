import { OverlayTrack, type OverlayAvatarState } from '../../src/avatar/overlay-track';
import { PcmRing } from '../../src/avatar/pcm-ring';

const RATE = 16000;

/** `ms` of a loud tone (speech level) as 16-bit PCM. */
function tone(ms: number, amplitude = 12000): Buffer {
  const n = (RATE * ms) / 1000;
  const b = Buffer.alloc(n * 2);
  for (let i = 0; i < n; i++) b.writeInt16LE(Math.round(amplitude * Math.sin((2 * Math.PI * 220 * i) / RATE)), i * 2);
  return b;
}

function track(speech: PcmRing, sent: OverlayAvatarState[], t0: number) {
  return new OverlayTrack({ speech, sampleRate: RATE, streamOffsetMs: () => 1000, stepMs: 50, lookAheadMs: 100, neutralAfterMs: 60_000, refreshMs: 2000, publish: (s) => sent.push(s) }, t0);
}

describe('OverlayTrack: the overlay avatar\'s mouth and expression from the speech on air', () => {
  it('in silence says closed once, then only as a refresh', () => {
    const sent: OverlayAvatarState[] = [];
    const t = track(new PcmRing(RATE), sent, 0);
    for (let now = 50; now <= 1950; now += 50) t.tick(now);
    expect(sent).toEqual([{ mouth: 'closed', expression: 'neutral', showAt: 1150 }]);
    t.tick(2050);
    expect(sent).toHaveLength(2);
    expect(sent[1]!.mouth).toBe('closed');
  });

  it('opens when the speech is due (stream clock: due time + offset), at most one update a step, and closes after it', () => {
    const speech = new PcmRing(RATE);
    speech.push(tone(400), 1000); // due from 1000 to 1400 ms
    const sent: OverlayAvatarState[] = [];
    const t = track(speech, sent, 0);
    for (let now = 50; now <= 2000; now += 50) {
      const before = sent.length;
      t.tick(now);
      expect(sent.length - before).toBeLessThanOrEqual(1);
    }
    const open = sent.filter((s) => s.mouth !== 'closed');
    expect(open.map((s) => s.mouth)).toContain('open');
    // Every open state belongs to the speech: after its first sample (1000 + offset), up to a step past its last (1400 + offset) plus the release.
    for (const s of open) expect(s.showAt).toBeGreaterThan(2000);
    expect(Math.max(...open.map((s) => s.showAt))).toBeLessThan(2400 + 150);
    expect(sent.at(-1)!.mouth).toBe('closed');
    expect(sent.at(-1)!.showAt).toBeGreaterThanOrEqual(2400);
  });

  it('an expression goes out at once and falls back to neutral after its hold', () => {
    const sent: OverlayAvatarState[] = [];
    const t = track(new PcmRing(RATE), sent, 0);
    t.tick(50);
    t.setExpression('happy', 500, 60);
    t.tick(100);
    expect(sent.at(-1)).toMatchObject({ mouth: 'closed', expression: 'happy' });
    for (let now = 150; now <= 700; now += 50) t.tick(now);
    expect(sent.at(-1)!.expression).toBe('neutral');
  });

  it('after a stall it goes on from now instead of replaying the missed moments', () => {
    const sent: OverlayAvatarState[] = [];
    const t = track(new PcmRing(RATE), sent, 0);
    t.tick(50);
    t.setExpression('sad', 60_000, 60);
    t.tick(10_000);
    expect(sent).toHaveLength(2);
    expect(sent[1]!.showAt).toBe(10_000 + 100 + 1000);
  });
});
