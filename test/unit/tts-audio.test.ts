import { checkSpeech, cutPcm, pcmSeconds } from '../../src/tts/audio-check';
import { BadAudioError } from '../../src/tts/remote-engines';
import { cutToSeconds, withoutStackedMarks } from '../../src/tts/speakable';
import { tone } from '../../testkit/fake-tts';

const format = { sampleRate: 24000, channels: 1 };

function reason(pcm: Buffer, text: string, f = format): string | undefined {
  try {
    checkSpeech('cloud', pcm, f, text);
    return undefined;
  } catch (err) {
    return (err as BadAudioError).reason;
  }
}

describe('engine audio checks', () => {
  it('takes speech of a plausible length, numbers and symbols included', () => {
    expect(reason(tone(1800), 'Thank you for the follow!')).toBeUndefined();
    // "one million two hundred thirty-four thousand… dollars and eighty-nine cents"
    expect(reason(tone(5500), '$1,234,567.89')).toBeUndefined();
    expect(reason(tone(300), '!!!')).toBeUndefined();
  });

  it('refuses a few bytes, silence, runaway length, an odd frame and an unusable rate, naming why', () => {
    expect(reason(Buffer.alloc(24, 7), 'Thank you for the follow!')).toBe('too-short');
    expect(reason(Buffer.alloc(tone(1800).length), 'Thank you for the follow!')).toBe('silence');
    expect(reason(tone(60_000), 'Hello there')).toBe('too-long');
    expect(reason(Buffer.concat([tone(1800), Buffer.alloc(1)]), 'Thank you for the follow!')).toBe('format');
    expect(reason(tone(1800), 'Thank you for the follow!', { sampleRate: 1000, channels: 1 })).toBe('format');
  });

  it('cuts audio at a limit, ending in silence rather than a click', () => {
    const pcm = tone(5000);
    const cut = cutPcm(pcm, format, 3);
    expect(pcmSeconds(cut, format)).toBe(3);
    expect(cut.readInt16LE(cut.length - 2)).toBe(0);
    expect(cutPcm(pcm, format, 10)).toBe(pcm);
  });
});

describe('speakable text', () => {
  it('removes zalgo stacks but keeps accents and the marks scripts spell with', () => {
    expect(withoutStackedMarks('H\u0335\u0321\u0300e\u0489\u0301l\u20d2lo')).toBe('Hello');
    expect(withoutStackedMarks('cafe\u0301 déjà vu')).toBe('café déjà vu');
    expect(withoutStackedMarks('नमस्ते दुनिया')).toBe('नमस्ते दुनिया');
    expect(withoutStackedMarks('ภาษาไทย่')).toBe('ภาษาไทย่');
  });

  it('cuts text that would speak too long at the last sentence that fits, else at a word', () => {
    expect(cutToSeconds('Short line.', 30)).toEqual({ text: 'Short line.', cut: false });
    expect(cutToSeconds('First sentence here. Second one is longer than that.', 2)).toEqual({ text: 'First sentence here.', cut: true });
    expect(cutToSeconds('今日は配信に来てくれてありがとう。次の歌は少し長いのでお楽しみに。', 2)).toEqual({ text: '今日は配信に来てくれてありがとう。', cut: true });
    expect(cutToSeconds('no sentence ends anywhere in this rather long line of words', 2)).toEqual({ text: 'no sentence ends anywhere in', cut: true });
  });
});
