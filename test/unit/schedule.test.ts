import { ConfigError, parseConfig } from '../../src/config/load';
import { inQuietHours } from '../../src/schedule/clock';
import { previewSchedule } from '../../src/schedule/preview';

const config = (schedule: string) => parseConfig(`schedule:\n${schedule.replace(/^/gm, '  ')}`, 'programme.yaml');
const iso = (ms: number) => new Date(ms).toISOString();

describe('the programme from the config', () => {
  it('cron patterns in a time zone fire at the right instants across both daylight-saving changes', () => {
    const c = config(`
routines:
  morning: { cron: "0 9 * * *", tz: Europe/Berlin, action: { say: good morning } }
  night: { cron: "30 2 * * *", tz: Europe/Berlin, action: { scene: night } }
`);
    // Autumn: 09:00 is 07:00Z in summer time, 08:00Z in winter time; the ambiguous 02:30 runs once.
    const autumn = previewSchedule(c, Date.parse('2026-10-23T12:00:00Z'), 72).firings;
    expect(autumn.filter((f) => f.routine === 'morning').map((f) => iso(f.at))).toEqual(['2026-10-24T07:00:00.000Z', '2026-10-25T08:00:00.000Z', '2026-10-26T08:00:00.000Z']);
    expect(autumn.filter((f) => f.routine === 'night').map((f) => iso(f.at))).toEqual(['2026-10-24T00:30:00.000Z', '2026-10-25T00:30:00.000Z', '2026-10-26T01:30:00.000Z']);
    // Spring: 02:30 does not exist on 29 March; it runs once, at 03:30 summer time.
    const spring = previewSchedule(c, Date.parse('2026-03-27T12:00:00Z'), 72).firings;
    expect(spring.filter((f) => f.routine === 'night').map((f) => iso(f.at))).toEqual(['2026-03-28T01:30:00.000Z', '2026-03-29T01:30:00.000Z', '2026-03-30T00:30:00.000Z']);
    expect(spring.filter((f) => f.routine === 'morning').map((f) => iso(f.at))).toEqual(['2026-03-28T08:00:00.000Z', '2026-03-29T07:00:00.000Z', '2026-03-30T07:00:00.000Z']);
  });

  it('preview lists a daily, an hourly and a weekly schedule and flags a planted overlap and quiet hours', () => {
    const c = config(`
timezone: Asia/Tokyo
quietHours: { start: "02:00", end: "06:00" }
timelines:
  karaoke:
    - { at: 0s, scene: karaoke }
    - { at: 90m, say: that was karaoke night }
  talk:
    - { at: 0s, say: talk time }
    - { at: 30m, say: bye }
routines:
  daily: { cron: "0 8 * * *", action: { say: good morning } }
  hourly: { cron: "0 * * * *", action: { scene: clock } }
  weekly: { cron: "0 20 * * 5", action: { timeline: karaoke } }
  planted: { cron: "30 20 * * 5", action: { timeline: talk } }
  night-owl: { cron: "0 3 * * *", action: { say: still up? } }
  night-owl-ok: { cron: "0 4 * * *", ignoreQuietHours: true, action: { say: shh } }
`);
    // Thursday 2026-11-26 00:00 Tokyo, for 7 days.
    const from = Date.parse('2026-11-25T15:00:00Z');
    const p = previewSchedule(c, from, 24 * 7);
    const of = (name: string) => p.firings.filter((f) => f.routine === name);
    expect(of('daily').map((f) => iso(f.at))).toEqual(Array.from({ length: 7 }, (_, d) => iso(from + d * 86_400_000 + 8 * 3_600_000)));
    expect(of('hourly')).toHaveLength(7 * 24);
    expect(of('hourly').every((f, i) => f.at === from + i * 3_600_000)).toBe(true);
    // Friday 20:00 Tokyo is 11:00Z.
    expect(of('weekly').map((f) => iso(f.at))).toEqual(['2026-11-27T11:00:00.000Z']);
    expect(of('weekly')[0]!.until).toBe(Date.parse('2026-11-27T12:30:00Z'));
    expect(p.omitted).toBe(0);

    const overlaps = p.conflicts.filter((x) => x.kind === 'timeline-overlap');
    expect(overlaps).toHaveLength(1);
    expect(overlaps[0]!.routines).toEqual(['weekly', 'planted']);
    expect(iso(overlaps[0]!.at)).toBe('2026-11-27T11:30:00.000Z');
    const quiet = p.conflicts.filter((x) => x.kind === 'quiet-hours');
    expect(quiet.map((q) => q.routines[0])).toEqual(['night-owl']);
    expect(quiet[0]!.message).toMatch(/7× inside quiet hours/);
    // Scene changes are not speech: quiet hours do not silence the hourly clock.
    expect(of('hourly').some((f) => f.quiet)).toBe(false);
  });

  it('an every schedule previews one firing per interval and a huge one is bounded', () => {
    const c = config(`routines:\n  tick: { every: 200ms, action: { scene: a } }\n  hourly: { every: 1h, action: { scene: b } }`);
    const p = previewSchedule(c, 0, 24, 500);
    expect(p.firings).toHaveLength(500);
    expect(p.omitted).toBe(24 * 18_000 - 1 + 23 - 500);
    const hourly = config(`routines:\n  hourly: { every: 1h, action: { scene: b } }`);
    expect(previewSchedule(hourly, 0, 24).firings.map((f) => f.at)).toEqual(Array.from({ length: 23 }, (_, i) => (i + 1) * 3_600_000));
  });

  it('quiet hours may wrap midnight, in the configured time zone', () => {
    const q = { start: '22:00', end: '07:00' };
    expect(inQuietHours(Date.parse('2026-11-25T22:30:00Z'), q, 'UTC')).toBe(true);
    expect(inQuietHours(Date.parse('2026-11-25T06:59:00Z'), q, 'UTC')).toBe(true);
    expect(inQuietHours(Date.parse('2026-11-25T07:00:00Z'), q, 'UTC')).toBe(false);
    expect(inQuietHours(Date.parse('2026-11-25T12:00:00Z'), q, 'UTC')).toBe(false);
    // 14:00Z is 23:00 in Tokyo.
    expect(inQuietHours(Date.parse('2026-11-25T14:00:00Z'), q, 'Asia/Tokyo')).toBe(true);
  });

  it('a bad cron pattern, an unknown action or a missing pool is named by its path', () => {
    const problems = (yaml: string) => {
      try {
        config(yaml);
      } catch (e) {
        expect(e).toBeInstanceOf(ConfigError);
        return (e as ConfigError).problems.join('\n');
      }
      throw new Error('config was accepted');
    };
    expect(problems(`routines:\n  a: { cron: "61 * * * *", action: { scene: x } }`)).toMatch(/schedule\.routines\.a\.cron: not a valid cron pattern/);
    expect(problems(`routines:\n  b: { every: 1h, action: { dance: now } }`)).toMatch(/schedule\.routines\.b\.action: an action with one of: say, pool, scene, avatar, timeline, maintenance/);
    expect(problems(`routines:\n  c: { every: 1h, action: { pool: nope } }`)).toMatch(/schedule\.routines\.c\.action\.pool: no phrase pool named "nope"/);
    expect(problems(`routines:\n  d: { cron: "0 * * * *", every: 1h, action: { scene: x } }`)).toMatch(/schedule\.routines\.d: give exactly one of cron or every/);
    expect(problems(`timezone: Mars/Olympus\nroutines: {}`)).toMatch(/schedule\.timezone: unknown time zone/);
    expect(problems(`timelines:\n  t: [{ at: soon, say: hi }]`)).toMatch(/schedule\.timelines\.t\.0/);
  });

  it('routines and timeline steps may set the avatar\'s expression; the preview names it', () => {
    const c = config(`timelines:\n  show: [{ at: 0s, avatar: { expression: happy } }, { at: 1m, avatar: { expression: sad, holdMs: 5000 } }]\nroutines:\n  cheer: { every: 1h, action: { avatar: { expression: happy } } }`);
    expect(c.schedule.timelines.show![1]).toMatchObject({ at: 60_000, avatar: { expression: 'sad', holdMs: 5000 } });
    expect(previewSchedule(c, Date.UTC(2026, 0, 1), 2).firings.map((f) => f.action)).toContain('avatar happy');
    expect(() => config(`routines:\n  x: { every: 1h, action: { avatar: { expression: "a b" } } }`)).toThrow(ConfigError);
  });
});
