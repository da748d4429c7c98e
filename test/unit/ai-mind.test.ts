import fs from 'node:fs';
import { classify, PRIORITY, ReplyPolicy } from '../../src/ai/reply-policy';
import { createLogger } from '../../src/logger';
import { decideIdle } from '../../src/ai/idle';
import { viewerPart } from '../../src/ai/keys';
import { CANNED_KIND, SPOKEN_SITUATIONS } from '../../src/config/ai.schema';
import { ConfigError, DEFAULT_CONFIG_PATH, parseConfig } from '../../src/config/load';
import { previewSchedule } from '../../src/schedule/preview';

const shipped = parseConfig(fs.readFileSync(DEFAULT_CONFIG_PATH, 'utf8'), DEFAULT_CONFIG_PATH);

describe('the embedded default talks by itself', () => {
  it('its persona answers from canned lines for every spoken situation without keys', () => {
    const persona = shipped.ai.personas[shipped.ai.defaultPersona]!;
    const last = shipped.ai.engines[persona.chain.at(-1)!]!;
    expect(last.kind).toBe(CANNED_KIND);
    for (const s of SPOKEN_SITUATIONS) expect(last.kind === CANNED_KIND && last.lines[s].length).toBeGreaterThan(0);
  });

  it('its programme fires through the day: an hourly chat prompt and two greetings', () => {
    const from = Date.parse('2026-06-01T00:00:00Z');
    const { firings, conflicts } = previewSchedule(shipped, from, 24);
    expect(firings.filter((f) => f.routine === 'chat-prompt')).toHaveLength(24);
    expect(firings.filter((f) => f.routine.endsWith('-greeting')).map((f) => new Date(f.at).toISOString())).toEqual(['2026-06-01T09:00:00.000Z', '2026-06-01T20:00:00.000Z']);
    expect(conflicts).toEqual([]);
  });
});

describe('reply policy: classify', () => {
  const cfg = shipped.ai.reply;
  const base = { cfg, personaName: 'Aiko', firstTime: false, random: () => 0.99 };
  const msg = (text: string, paid = false) => ({ id: '1', viewer: 'twitch:1', name: 'v', text, paid });
  it.each([
    ['paid wins over everything', msg('aiko?', true), 'paid'],
    ['!ask, its text without the command', msg('!ASK where do you live'), 'ask'],
    ['the name as a word', msg('AIKO!!'), 'mention'],
    ['@name', msg('hi @Aiko'), 'mention'],
    ['a question', msg('is it raining?'), 'question'],
    ['a full-width question mark', msg('元気？'), 'question'],
  ])('%s', (_what, m, reason) => {
    expect(classify(m, base)?.reason).toBe(reason);
  });
  it('a name inside a word is no mention; a bare !ask and plain text are not picked; first-timers are greeted', () => {
    expect(classify(msg('aikotoba'), base)).toBeUndefined();
    expect(classify(msg('!ask'), base)).toBeUndefined();
    expect(classify(msg('!ask where?'), base)).toEqual({ reason: 'ask', text: 'where?' });
    expect(classify(msg('hello'), { ...base, firstTime: true })?.reason).toBe('first');
    expect(classify(msg('hello'), { ...base, random: () => 0 })?.reason).toBe('sampled');
    expect(classify(msg('hello'), { ...base, cfg: { ...cfg, sampleRate: 0 }, random: () => 0 })).toBeUndefined();
  });
});

describe('reply policy: the rank a flood is sampled by', () => {
  const msg = (text: string, paid = false) => ({ id: '1', viewer: 'twitch:1', name: 'v', text, paid });
  const texts = ['hello', 'AIKO!!', 'hi @Aiko', 'aikotoba', 'is it raining?', '元気？', '!ASK where do you live', '  !ask why', 'Ask me anything', 'ask why', 'asking around', '!ask'];
  it.each(['!ask', 'ask'])('agrees with classify (first-timers and sampling aside) for every kind, with askCommand %s', (askCommand) => {
    const config = { ...shipped, ai: { ...shipped.ai, reply: { ...shipped.ai.reply, askCommand } } };
    const policy = new ReplyPolicy({ config, redis: undefined as never, log: createLogger('test', 'silent') });
    for (const [text, paid] of [...texts.map((t) => [t, false] as const), ['hello', true] as const]) {
      const picked = classify(msg(text, paid), { cfg: config.ai.reply, personaName: 'Aiko', firstTime: false, random: () => 1 });
      expect([text, policy.rank(msg(text, paid), 'Aiko')]).toEqual([text, picked ? PRIORITY[picked.reason] : 0]);
    }
  });
});

describe('idle decision and keys', () => {
  it('disabled or a zero budget never starts', () => {
    const off = { ...shipped, ai: { ...shipped.ai, idle: { ...shipped.ai.idle, maxPerHour: 0 } } };
    expect(decideIdle(off, { now: 1e12, linesLastHour: 0 })).toEqual({ start: false, reason: 'disabled' });
    expect(decideIdle(shipped, { now: 1e12, lastChatAt: 1e12 - 1000, linesLastHour: 0 })).toEqual({ start: false, reason: 'chat active', retryAt: 1e12 - 1000 + shipped.ai.idle.afterMs });
  });
  it('viewer ids in keys: plain ids kept, odd ones hashed, hashing is idempotent', () => {
    expect(viewerPart('twitch:12345')).toBe('twitch:12345');
    const odd = viewerPart('a b\n*');
    expect(odd).toMatch(/^h~[0-9a-f]{32}$/);
    expect(viewerPart(odd)).toBe(odd);
    expect(viewerPart('x'.repeat(101))).toMatch(/^h~/);
  });
  it('an unknown idle time zone is a config error with its path', () => {
    expect(() => parseConfig('ai:\n  idle:\n    timezone: Mars/Olympus\n', 'x.yaml')).toThrow(ConfigError);
    expect(() => parseConfig('ai:\n  idle:\n    timezone: Mars/Olympus\n', 'x.yaml')).toThrow(/ai\.idle\.timezone: unknown time zone "Mars\/Olympus"/);
  });
});
