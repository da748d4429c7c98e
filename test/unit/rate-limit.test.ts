import { RateLimiter } from '../../src/control/rate-limit';

describe('RateLimiter (the local chat box limits)', () => {
  it('allows a burst, then says how long until the next token, and refills at its rate', () => {
    let now = 0;
    const limiter = new RateLimiter({ burst: 2, perMinute: 6 }, 100, () => now);
    expect(limiter.take('a')).toBe(0);
    expect(limiter.take('a')).toBe(0);
    expect(limiter.take('a')).toBe(10_000);
    now += 10_000;
    expect(limiter.take('a')).toBe(0);
    expect(limiter.take('a')).toBe(10_000);
  });

  it('keeps at most maxKeys buckets however many clients come, forgetting the least recently used', () => {
    let now = 0;
    const limiter = new RateLimiter({ burst: 1, perMinute: 1 }, 3, () => now);
    limiter.take('busy');
    for (let i = 0; i < 1000; i++) {
      now += 1;
      limiter.take(`client-${i}`);
      limiter.take('busy');
    }
    expect(limiter.size).toBe(3);
    // The busy client was used last every time: it is still remembered, and still limited.
    expect(limiter.take('busy')).toBeGreaterThan(0);
  });
});
