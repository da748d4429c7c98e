import { Writable } from 'node:stream';
import { createLogger, redactUrl } from '../../src/logger';

describe('logs', () => {
  it('never write tokens, stream keys, API keys or authorization headers', () => {
    const lines: string[] = [];
    const log = createLogger('test', 'info', new Writable({ write: (c, _e, cb) => (lines.push(String(c)), cb()) }));
    log.child({ job: 'x' }).info({ apiKey: 'sk-123', destination: { streamKey: 'live_abc' }, token: 'oauth:xyz', req: { headers: { authorization: 'Bearer t0k' } }, control: { adminToken: 'adm1n' } }, 'hello');
    const out = lines.join('');
    for (const secret of ['sk-123', 'live_abc', 'oauth:xyz', 'Bearer t0k', 'adm1n']) expect(out).not.toContain(secret);
    expect(out).toContain('[redacted]');
    expect(JSON.parse(out)).toMatchObject({ component: 'test', job: 'x', msg: 'hello' });
  });

  it('strips credentials from URLs', () => {
    expect(redactUrl('redis://user:pa55@redis.example:6379/0')).toBe('redis://***@redis.example:6379/0');
    expect(redactUrl('redis://127.0.0.1:6379')).toBe('redis://127.0.0.1:6379');
  });
});
