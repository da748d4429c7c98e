import { spawn } from 'node:child_process';
import type { VoiceConfig } from '../config/schema';
import { parseWavHeader } from '../audio/wav';
import { stripEngineMarkup } from './text';
import type { SpeechStream, TtsEngine } from './tts-engine';

/**
 * The local espeak-ng voice: the embedded default and the last fallback of every chain.
 * Text goes in on stdin and arguments are an array, so user text never reaches a shell or
 * espeak-ng's option parser; it is stripped of engine markup first (espeak-ng reads `[[…]]` as
 * raw phonemes even without -m), so a line can never be pronounced as something it does not say.
 */
export class EspeakEngine implements TtsEngine {
  readonly name = 'espeak-ng';

  constructor(
    private readonly binary: string,
    private readonly timeoutMs: number,
  ) {}

  async synthesize(text: string, voice: VoiceConfig, signal?: AbortSignal): Promise<SpeechStream> {
    const args = ['--stdout', '-v', voice.voice, '-s', String(voice.speed), '-p', String(voice.pitch)];
    const child = spawn(this.binary, args, { stdio: ['pipe', 'pipe', 'pipe'], signal, timeout: this.timeoutMs, killSignal: 'SIGKILL' });
    const stderr: Buffer[] = [];
    child.stderr.on('data', (d: Buffer) => stderr.length < 16 && stderr.push(d));
    const exited = new Promise<void>((resolve, reject) => {
      child.on('error', (err) => reject(new Error(`espeak-ng could not run (${this.binary}): ${err.message}`)));
      child.on('close', (code, sig) => {
        if (code === 0) resolve();
        else reject(new Error(`espeak-ng failed (${sig ? `killed by ${sig}` : `exit ${code}`}): ${Buffer.concat(stderr).toString().trim().slice(0, 300)}`));
      });
    });
    child.stdin.on('error', () => {
      /* reported through 'close' */
    });
    child.stdin.end(stripEngineMarkup(text));

    // espeak-ng writes the whole WAV quickly; the header tells the format, the rest is PCM.
    const out: Buffer[] = [];
    for await (const chunk of child.stdout) out.push(chunk as Buffer);
    await exited;
    const wav = Buffer.concat(out);
    const { format, dataOffset } = parseWavHeader(wav);
    let pcm = wav.subarray(dataOffset);
    if (pcm.length % 2) pcm = pcm.subarray(0, pcm.length - 1);
    return { format, chunks: (async function* () { yield pcm; })() };
  }
}
