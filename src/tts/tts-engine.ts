import type { PcmFormat } from '../../queues/utterance.schema';
import type { VoiceConfig } from '../config/schema';

/** Speech as it comes out of an engine: 16-bit little-endian PCM chunks in a stated format. */
export interface SpeechStream {
  format: PcmFormat;
  chunks: AsyncIterable<Buffer>;
}

/** A text-to-speech engine: text and a voice in, PCM out. */
export interface TtsEngine {
  readonly name: string;
  synthesize(text: string, voice: VoiceConfig, signal?: AbortSignal): Promise<SpeechStream>;
}

/** Collect a speech stream into one buffer. */
export async function collectSpeech(stream: SpeechStream): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const chunk of stream.chunks) parts.push(chunk);
  return Buffer.concat(parts);
}
