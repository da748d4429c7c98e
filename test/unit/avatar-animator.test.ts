import { Animator, levelDb, mouthFromPcm, seededRandom } from '../../src/avatar/animator';

const RATE = 48_000;
const FRAME = RATE / 30; // samples encoded with one video frame at 30 fps

function tone(amplitude: number, n = FRAME, hz = 220): Int16Array {
  return Int16Array.from({ length: n }, (_, i) => Math.round(amplitude * Math.sin((2 * Math.PI * hz * i) / RATE)));
}

function noise(amplitude: number, random: () => number, n = FRAME): Int16Array {
  return Int16Array.from({ length: n }, () => Math.round((random() * 2 - 1) * amplitude));
}

describe('lip sync from the samples on air', () => {
  it('keeps the mouth closed in silence and in quiet room tone', () => {
    const random = seededRandom(1);
    let mouth = 0;
    for (let i = 0; i < 60; i++) {
      mouth = mouthFromPcm(i % 2 ? new Int16Array(FRAME) : noise(60, random), RATE, mouth);
      expect(mouth).toBe(0);
    }
    expect(levelDb(new Int16Array(0))).toBe(-Infinity);
  });

  it('opens in the first frame speech is heard and closes again once it stops', () => {
    let mouth = mouthFromPcm(new Int16Array(FRAME), RATE, 0);
    mouth = mouthFromPcm(tone(9000), RATE, mouth);
    expect(mouth).toBeGreaterThan(0.5);
    const quieter = mouthFromPcm(tone(1200), RATE, 0);
    expect(quieter).toBeGreaterThan(0);
    expect(quieter).toBeLessThan(mouth); // softer speech, a smaller mouth
    const closing: number[] = [];
    for (let i = 0; i < 6; i++) closing.push((mouth = mouthFromPcm(new Int16Array(FRAME), RATE, mouth)));
    expect(closing[0]).toBeGreaterThan(0); // released, not snapped shut between syllables
    expect(closing.at(-1)).toBe(0);
  });

  it('closes the mouth when a frame comes without samples (the playout stalled)', () => {
    let mouth = mouthFromPcm(tone(9000), RATE, 0);
    for (let i = 0; i < 6; i++) mouth = mouthFromPcm(new Int16Array(0), RATE, mouth);
    expect(mouth).toBe(0);
  });
});

describe('the animator', () => {
  const silence = new Int16Array(FRAME);

  function eyesOverTenSeconds(seed: number): { eyes: number[]; blinks: number } {
    const a = new Animator({ random: seededRandom(seed) });
    const eyes = Array.from({ length: 300 }, (_, f) => a.frame((f * 1000) / 30, silence, RATE).eyes);
    return { eyes, blinks: a.blinks };
  }

  it('blinks at random pauses: closed eyes happen, open eyes dominate, and a seed replays them', () => {
    const run = eyesOverTenSeconds(7);
    expect(run.eyes).toContain(0);
    expect(run.eyes.filter((e) => e === 1).length).toBeGreaterThan(270);
    expect(run.blinks).toBeGreaterThanOrEqual(1); // at most 6 s between blinks
    expect(eyesOverTenSeconds(7)).toEqual(run);
    expect(eyesOverTenSeconds(8).eyes).not.toEqual(run.eyes);
  });

  it('breathes: the phase runs through a whole breath and repeats', () => {
    const a = new Animator({ random: seededRandom(1), breathPeriodMs: 4000 });
    expect(a.frame(0, silence, RATE).breath).toBe(0);
    expect(a.frame(2000, silence, RATE).breath).toBeCloseTo(0.5);
    expect(a.frame(5000, silence, RATE).breath).toBeCloseTo(0.25);
  });

  it('moves the mouth with the audio, and uses a viseme only while sound is heard', () => {
    const a = new Animator({ random: seededRandom(1) });
    expect(a.frame(0, silence, RATE, 'O').mouth).toBe(0);
    expect(a.frame(33, tone(9000), RATE, 'O').mouth).toBe('O');
    expect(a.frame(66, tone(9000), RATE).mouth).toBeGreaterThan(0.5);
  });

  it('returns to neutral after the hold time, and neutral stays', () => {
    const a = new Animator({ random: seededRandom(1), neutralAfterMs: 8000 });
    a.setExpression('happy', 1000);
    expect(a.frame(8999, silence, RATE).expression).toBe('happy');
    expect(a.frame(9000, silence, RATE).expression).toBe('neutral');
    a.setExpression('surprised', 10_000, 500);
    expect(a.expressionAt(10_499)).toBe('surprised');
    expect(a.expressionAt(10_500)).toBe('neutral');
    a.setExpression('neutral', 11_000);
    expect(a.expressionAt(1e12)).toBe('neutral');
  });

  it('an expression set ahead of its frames (a line about to air) shows from its time on, its hold counted from there', () => {
    const a = new Animator({ random: seededRandom(1), neutralAfterMs: 8000 });
    a.setExpression('sad', 1000);
    a.setExpression('happy', 5000, 2000);
    expect(a.expressionAt(4999)).toBe('neutral'); // the later call replaced the earlier one before either showed
    expect(a.expressionAt(5000)).toBe('happy');
    expect(a.expressionAt(6999)).toBe('happy');
    expect(a.expressionAt(7000)).toBe('neutral');
    // Without a time: from the next frame, whatever its time, held from there.
    a.setExpression('sad', undefined, 1000);
    expect(a.expressionAt(3000)).toBe('sad');
    expect(a.expressionAt(3999)).toBe('sad');
    expect(a.expressionAt(4000)).toBe('neutral');
  });

  it('survives a jump in the media clock (a restart) without replaying the missed blinks', () => {
    const a = new Animator({ random: seededRandom(3) });
    a.frame(0, silence, RATE);
    const state = a.frame(1e12, silence, RATE);
    expect(state.eyes).toBe(1);
    expect(a.blinks).toBe(0);
  });
});
