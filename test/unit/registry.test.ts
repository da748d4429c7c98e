import { bullPriority } from '../../queues/define';
import { PayloadError, queueName, registry, validatePayload } from '../../queues/registry';

const utterance = { utteranceId: 'u-1', channel: 'main', text: 'hello', voice: 'default', priority: 3, acceptedAt: 1, origin: { platform: 'cli', user: 'op' } };

describe('queue registry', () => {
  it('accepts a valid payload and rejects a bad one naming each field', () => {
    expect(validatePayload('tts', utterance)).toEqual(utterance);
    let err: unknown;
    try {
      validatePayload('tts', { ...utterance, text: '', priority: 12, extra: true });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(PayloadError);
    expect((err as PayloadError).message).toMatch(/^tts payload rejected: /);
    expect((err as PayloadError).problems.join(' ')).toMatch(/text: /);
    expect((err as PayloadError).problems.join(' ')).toMatch(/priority: /);
    expect((err as PayloadError).problems.join(' ')).toMatch(/extra/);
  });

  it('ids never contain ":" (BullMQ custom ids) and collapse duplicates', () => {
    expect(() => validatePayload('tts', { ...utterance, utteranceId: 'a:b' })).toThrow(/utteranceId/);
    const id = registry.chat.jobId!({ platform: 'twitch', channel: 'some:chan', id: 'm:1' } as never);
    expect(id).not.toContain(':');
  });

  it('every queue keeps bounded history so Redis stays flat', () => {
    for (const def of Object.values(registry)) {
      expect(def.jobOptions.removeOnComplete).toEqual(expect.objectContaining({ count: expect.any(Number) }));
      expect(def.jobOptions.removeOnFail).toEqual(expect.objectContaining({ count: expect.any(Number) }));
      expect(def.jobName).toMatch(/^[a-z]+\.[a-z]+$/);
    }
  });

  it('per-channel queues need a channel', () => {
    expect(queueName('playout', 'main')).toBe('playout-main');
    expect(() => queueName('playout')).toThrow(/per channel/);
    expect(queueName('tts')).toBe('tts');
  });

  it('maps idolcast priority (9 highest) onto BullMQ priority (1 highest)', () => {
    expect(bullPriority(9)).toBe(1);
    expect(bullPriority(0)).toBe(10);
    expect(bullPriority(99)).toBe(1);
    expect(bullPriority(3)).toBeLessThan(bullPriority(2));
  });
});
