import fs from 'node:fs';
import type { ChatEvent } from '../../src/chat/chat-event';
import { processChat } from '../../src/chat/command-processor';
import { normaliseText, splitArgs } from '../../src/chat/normalise';
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

describe('command processor', () => {
  it('speaks a plain message at the plain-chat priority', () => {
    const d = processChat(event('Hello idol!'), config);
    expect(d.decision).toBe('speak');
    expect(d.tts).toHaveLength(1);
    expect(d.tts[0]).toMatchObject({ text: 'Hello idol!', priority: config.chat.plainPriority, utteranceId: 'local-abc', acceptedAt: 2, voice: 'default', origin: { user: 'Alice' } });
  });
  it('!say speaks its argument at the say priority', () => {
    const d = processChat(event('!say   good morning everyone'), config);
    expect(d.tts[0]).toMatchObject({ text: 'good morning everyone', priority: config.chat.sayPriority });
    expect(d.reason).toBe('command say');
  });
  it('ignores unknown commands and empty text quietly', () => {
    expect(processChat(event('!dance now'), config)).toMatchObject({ decision: 'ignored', tts: [] });
    expect(processChat(event('\u200b \u0000'), config)).toMatchObject({ decision: 'ignored', reason: 'empty after normalisation' });
    expect(processChat(event('!say'), config)).toMatchObject({ decision: 'ignored' });
  });
  it('keeps shell and ffmpeg-filter metacharacters as plain text to speak (never interpreted)', () => {
    const hostile = `$(rm -rf /); \`id\` | drawtext=text='%{pts}' \\ ;`;
    const d = processChat(event(hostile), config);
    expect(d.tts[0]?.text).toBe(hostile);
  });
  it('sends messages for an unknown channel to the default channel', () => {
    expect(processChat(event('hi', { channel: 'elsewhere' }), config).tts[0]?.channel).toBe('main');
  });
});
