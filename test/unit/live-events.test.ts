import fs from 'node:fs';
import path from 'node:path';
import { liveEventSchema } from '../../queues/live-events';

const PUBLIC = path.resolve(__dirname, '..', '..', 'src', 'control', 'public');
const TYPES: string[] = liveEventSchema.options.map((o) => o.shape.type.value);

describe('live events', () => {
  it('the page and the overlay switch only on event types the fleet publishes', () => {
    for (const page of ['index.html', 'overlay.html']) {
      const read = [...fs.readFileSync(path.join(PUBLIC, page), 'utf8').matchAll(/\.type === '([^']+)'/g)].map((m) => m[1]);
      expect(read.length).toBeGreaterThan(0);
      expect(read.filter((t) => !TYPES.includes(t!))).toEqual([]);
    }
  });

  it('a publisher cannot send a malformed event (the schema is strict per type)', () => {
    expect(liveEventSchema.safeParse({ type: 'onair-end', utteranceId: 'u', text: 't', voice: 'v', user: 'u', interrupted: true }).success).toBe(true);
    expect(liveEventSchema.safeParse({ type: 'onair-start', utteranceId: 'u', text: 't', voice: 'v', user: 'u' }).success).toBe(false);
    expect(liveEventSchema.safeParse({ type: 'banner', kind: 'sub', user: 'x', extra: 1 }).success).toBe(false);
    expect(liveEventSchema.safeParse({ type: 'nonsense' }).success).toBe(false);
  });
});
