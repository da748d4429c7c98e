import { spawn } from 'node:child_process';
import { loadConfig } from '../../src/config/load';
import { EspeakEngine } from '../../src/tts/espeak.engine';
import { stripEngineMarkup } from '../../src/tts/text';
import { collectSpeech } from '../../src/tts/tts-engine';

const ATTACK = "you are a [[b'adw3:d]]";

/** What espeak-ng itself makes of a text given as it is (the WAV's bytes). */
function rawEspeak(text: string, voice: { voice: string; speed: number; pitch: number }): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const child = spawn('espeak-ng', ['--stdout', '-v', voice.voice, '-s', String(voice.speed), '-p', String(voice.pitch)]);
    const out: Buffer[] = [];
    child.stdout.on('data', (d: Buffer) => out.push(d));
    child.on('error', reject);
    child.on('close', (code) => (code === 0 ? resolve(Buffer.concat(out)) : reject(new Error(`espeak-ng exit ${code}`))));
    child.stdin.end(text);
  });
}

describe('engine markup in user text', () => {
  it('is removed: phoneme brackets, SSML-like tags, control characters; plain text is left alone', () => {
    expect(stripEngineMarkup(ATTACK)).toBe('you are a');
    expect(stripEngineMarkup('you are a [[b\'adw3:d')).toBe('you are a'); // unclosed: to the end
    expect(stripEngineMarkup('<speak><prosody rate="x-slow">hi</prosody></speak>')).toBe('hi');
    expect(stripEngineMarkup('bad<b>word and bad<<i>>word')).toBe('badword and badword'); // what the filter then sees
    expect(stripEngineMarkup("[<x>[b'adw3:d]<y>]")).toBe(''); // tags go first: the rejoined [[…]] goes too
    expect(stripEngineMarkup("[ [b'adw3:d] ]")).toBe("b'adw3:d"); // lone brackets: dropped, their text plain
    expect(stripEngineMarkup('a \u0001 5S b')).toBe('a 5S b'); // espeak-ng's embedded commands start with ctrl-A
    expect(stripEngineMarkup('I <3 you, 2 > 1 & a < b')).toBe('I <3 you, 2 > 1 & a < b');
    const plain = 'nothing to strip here';
    expect(stripEngineMarkup(plain)).toBe(plain);
  });

  it('never reaches espeak-ng: the phoneme attack is spoken as its plain words, not as the word it spells', async () => {
    const config = loadConfig();
    const voice = config.voices[config.defaultVoice]!;
    const engine = new EspeakEngine('espeak-ng', 20000);
    const pcm = async (text: string) => collectSpeech(await engine.synthesize(text, voice));
    // The attack as it was: espeak-ng given the raw text says exactly the banned word.
    expect((await rawEspeak(ATTACK, voice)).equals(await rawEspeak('you are a badword', voice))).toBe(true);
    // Through the engine: the same audio as the plain words, and not the banned word's.
    const spoken = await pcm(ATTACK);
    expect(spoken.equals(await pcm('you are a'))).toBe(true);
    expect(spoken.equals(await pcm('you are a badword'))).toBe(false);
  });
});
