import fs from 'node:fs';
import type { ChatEvent } from '../../queues/chat-event.schema';
import { commandTable, fillTemplate, hasPermission, parseCommand, runCommand } from '../../src/chat/commands';
import { bypassed, localFilter } from '../../src/chat/filter';
import { normaliseText, splitArgs, stripEmotes } from '../../src/chat/normalise';
import { DEFAULT_CONFIG_PATH, parseConfig } from '../../src/config/load';

const config = parseConfig(fs.readFileSync(DEFAULT_CONFIG_PATH, 'utf8'), DEFAULT_CONFIG_PATH);
const event = (text: string, extra: Partial<ChatEvent> = {}): ChatEvent => ({
  platform: 'local', channel: 'main', id: 'abc', kind: 'message', text, emotes: [], timestamp: 1, acceptedAt: 2,
  user: { id: 'local-alice', login: 'alice', displayName: 'Alice', roles: [] }, ...extra,
});

describe('text normalisation', () => {
  it('removes control and invisible characters and collapses space', () => {
    expect(normaliseText('hi\u0000\u0007 there\u200b\u202e  you\n\n', 100).text).toBe('hi there you');
  });
  it('defuses zalgo to at most two marks per letter', () => {
    const zalgo = 'h' + '\u0301\u0302\u0303\u0304\u0305\u0306'.repeat(5) + 'i';
    expect(normaliseText(zalgo, 100).text).toBe('h\u0301\u0302i');
  });
  it('folds full-width lookalikes (NFKC)', () => {
    expect(normaliseText('ｈｅｌｌｏ', 100).text).toBe('hello');
  });
  it('cuts long text at a word boundary and says so', () => {
    const r = normaliseText('word '.repeat(100), 42);
    expect(r.truncated).toBe(true);
    expect(r.text.length).toBeLessThanOrEqual(42);
    expect(r.text.endsWith('word')).toBe(true);
  });
  it('bounds the work on a 1 MB message', () => {
    const r = normaliseText('a'.repeat(1024 * 1024), 300);
    expect(r.text.length).toBe(300);
    expect(r.truncated).toBe(true);
  });
  it('splits quoted arguments', () => {
    expect(splitArgs(`scene "Just Chatting" 'a b' c`)).toEqual(['scene', 'Just Chatting', 'a b', 'c']);
  });
});

describe('commands', () => {
  const env = { config, channel: 'main', voice: 'default', backlog: 3, utteranceId: (s: string) => `u-${s}` };
  const table = commandTable(config);
  const run = (text: string, roles: ChatEvent['user']['roles'] = []) => {
    const cmd = parseCommand(text, '!')!;
    return runCommand(table.get(cmd.word)!, cmd, event(text, { user: { id: 'u1', login: 'alice', displayName: 'Alice', roles } }), env);
  };

  it('parses the command word case-insensitively and keeps the rest', () => {
    expect(parseCommand('!SAY hello "big world"', '!')).toEqual({ word: 'say', rest: 'hello "big world"', args: ['hello', 'big world'] });
    expect(parseCommand('hello', '!')).toBeUndefined();
    expect(parseCommand('!', '!')).toBeUndefined();
  });
  it('ranks permissions: broadcaster > moderator > vip > subscriber > everyone', () => {
    expect(hasPermission([], 'everyone')).toBe(true);
    expect(hasPermission(['subscriber'], 'vip')).toBe(false);
    expect(hasPermission(['vip', 'subscriber'], 'vip')).toBe(true);
    expect(hasPermission(['broadcaster'], 'moderator')).toBe(true);
    expect(table.get('scene')!.permission).toBe('moderator');
  });
  it('!say speaks its text at the say priority', () => {
    expect(run('!say good morning everyone').tts[0]!.payload).toMatchObject({ text: 'good morning everyone', priority: config.chat.sayPriority, utteranceId: 'u-say' });
  });
  it('!voice speaks in a named voice; only moderators switch the channel voice', () => {
    expect(run('!voice whisper psst secret').tts[0]!.payload).toMatchObject({ voice: 'whisper', text: 'psst secret' });
    expect(run('!voice whisper').setVoice).toBeUndefined();
    expect(run('!voice whisper', ['moderator']).setVoice).toBe('whisper');
    expect(run('!voice nobody').replies[0]).toMatch(/voices: default, whisper/);
  });
  it('!queue, !commands, !skip and !clear answer or act', () => {
    expect(run('!queue').replies).toEqual(['3 lines waiting']);
    expect(run('!commands').replies[0]).not.toContain('!skip');
    expect(run('!commands', ['moderator']).replies[0]).toContain('!skip');
    expect(run('!skip', ['moderator']).control).toBe('skip');
    expect(run('!clear', ['moderator']).control).toBe('clear');
  });
  it('!emote sets only an expression the channel\'s avatar pack offers', () => {
    expect(run('!emote Happy', ['moderator']).emote).toBe('happy');
    const unknown = run('!emote constructor', ['moderator']);
    expect(unknown.emote).toBeUndefined();
    expect(unknown.replies[0]).toMatch(/expressions: neutral, happy, sad, angry, surprised, thinking/);
    expect(commandTable(config).get('emote')!.permission).toBe('moderator');
  });
  it('fills templates with text, never interpreting it', () => {
    expect(fillTemplate('{user} hugs {args} ({arg1}) {unknown}', { user: '<b>Al</b>', args: '$(id) %{pts}', arg1: '$(id)' })).toBe('<b>Al</b> hugs $(id) %{pts} ($(id)) {unknown}');
  });
  it('runs a configured command: aliases, sequences with offsets, reply', () => {
    const c = parseConfig(
      'chat:\n  commands:\n    - name: hug\n      aliases: [cuddle]\n      cooldown: { userMs: 60000 }\n      actions:\n        - say: "{user} hugs {args}"\n        - scene: Hug Cam\n          atMs: 2000\n      reply: "hug sent to {arg1}"\n',
      'x.yaml',
    );
    const t = commandTable(c);
    expect(t.get('cuddle')!.name).toBe('hug');
    const fx = runCommand(t.get('cuddle')!, parseCommand('!cuddle Bob', '!')!, event('!cuddle Bob'), { ...env, config: c });
    expect(fx.tts[0]!.payload.text).toBe('Alice hugs Bob');
    expect(fx.scenes[0]).toEqual({ payload: { channel: 'main', scene: 'Hug Cam' }, delay: 2000 });
    expect(fx.replies).toEqual(['hug sent to Bob']);
  });
});

describe('local filter', () => {
  const f = config.chat.filter;
  const none = new Set<never>();
  it('strips links by default, and blocks them when configured', () => {
    expect(localFilter('look at https://evil.example/x now', event(''), f, none)).toEqual({ ok: true, text: 'look at now' });
    expect(localFilter('visit spam.com today', event(''), { ...f, links: 'block' }, none)).toEqual({ ok: false, reason: 'link' });
  });
  it('rejects caps, symbol and emote floods and banned words', () => {
    expect(localFilter('WHY IS NOBODY ANSWERING ME', event(''), f, none)).toEqual({ ok: false, reason: 'caps flood' });
    expect(localFilter('!!!!!!!!!!??????$$$$', event(''), f, none)).toEqual({ ok: false, reason: 'symbol flood' });
    const emotes = Array.from({ length: 12 }, (_, i) => ({ id: 'e', start: i, end: i }));
    expect(localFilter('Kappa', event('', { emotes }), f, none)).toEqual({ ok: false, reason: 'emote flood' });
    expect(localFilter('you are a Potato', event(''), { ...f, bannedWords: ['potato'] }, none)).toEqual({ ok: false, reason: 'banned word' });
  });
  it('lets roles bypass what the config says', () => {
    const mod = event('', { user: { id: 'm', login: 'm', displayName: 'M', roles: ['moderator'] } });
    const skip = bypassed(mod, f);
    expect(skip.has('caps')).toBe(true);
    expect(skip.has('bannedWords')).toBe(false);
    expect(localFilter('WHY IS NOBODY ANSWERING ME', mod, f, skip)).toMatchObject({ ok: true });
  });
});

describe('emotes', () => {
  it('are cut from what is spoken, by their positions in the raw text', () => {
    expect(stripEmotes('Kappa that was great PogChamp', 'Kappa that was great PogChamp', [{ start: 0, end: 4 }, { start: 21, end: 28 }])).toBe('that was great');
    expect(stripEmotes('no emotes here', 'no emotes here', [])).toBe('no emotes here');
  });
});
