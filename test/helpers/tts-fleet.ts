import { LOCAL_ENGINE } from '../../src/config/schema';
import { createLogger } from '../../src/logger';
import { createMetrics } from '../../src/metrics';
import { EspeakEngine } from '../../src/tts/espeak.engine';
import { remoteEngines } from '../../src/tts/remote-engines';
import { SpeechService } from '../../src/tts/speech-service';
import { TestFleet } from './fleet';
import { FAKE_KEY, type FakeTts, type Provider } from '../../testkit/fake-tts';

export const quietLog = createLogger('tts-test', 'silent');

/** A fleet whose `idol` voice is spoken by `provider` on the fake server (engine `cloud`), falling back to the local `backup` voice. */
export function ttsFleet(fake: FakeTts, provider: Provider, over: Record<string, unknown> = {}) {
  const engine = provider === 'openai' ? { kind: 'openai', baseUrl: `${fake.url}/v1`, apiKey: FAKE_KEY } : provider === 'elevenlabs' ? { kind: 'elevenlabs', baseUrl: fake.url, apiKey: FAKE_KEY } : { kind: 'azure', baseUrl: fake.url, apiKey: FAKE_KEY };
  return new TestFleet({
    voices: { idol: { engine: 'cloud', voice: provider === 'azure' ? 'en-US-JennyNeural' : 'alloy', fallback: ['backup'] }, backup: { engine: LOCAL_ENGINE, voice: 'en-us' } },
    defaultVoice: 'idol',
    tts: { engines: { cloud: engine }, breaker: { timeoutMs: 600, volumeThreshold: 2, errorThresholdPercentage: 50, resetTimeoutMs: 1500 }, retry: { attempts: 1, baseMs: 50, capMs: 2000 }, ...over },
  });
}

/** The fleet's speech service with the local voice and its remote engines, and its own metrics. */
export function speechService(fleet: TestFleet, metrics = createMetrics('worker-tts', 'test')) {
  const engines = { [LOCAL_ENGINE]: new EspeakEngine('espeak-ng', 10000), ...remoteEngines(fleet.config.tts.engines) };
  return new SpeechService({ config: fleet.config, redis: fleet.redis, keys: fleet.keys, log: quietLog, metrics, engines });
}
