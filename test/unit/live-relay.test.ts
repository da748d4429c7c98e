import fs from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import express from 'express';
import { Registry } from 'prom-client';
import { LIVE_SOCKET } from '../../src/broadcast/live-socket';
import { LiveRelay } from '../../src/control/live-relay';
import { createLogger } from '../../src/logger';

/** A TS packet starting a PES with a PTS on `pid` (`key`: a video keyframe); PAT/PMT as the muxer writes them. */
function pes(pid: number, pts: number, key = false): Buffer {
  const p = Buffer.alloc(188, 0xff);
  p.set([0x47, 0x40 | (pid >> 8), pid & 0xff, key ? 0x30 : 0x10]);
  const o = key ? 6 : 4;
  if (key) p.set([1, 0x40], 4);
  p.set([0, 0, 1, 0xe0, 0, 0, 0x80, 0x80, 5, 0x21, (pts >> 22) & 0xff, (((pts >> 15) & 0x7f) << 1) | 1, (pts >> 7) & 0xff, ((pts & 0x7f) << 1) | 1], o);
  return p;
}
function table(pid: number, body: number[]): Buffer {
  const p = Buffer.alloc(188, 0xff);
  p.set([0x47, 0x40 | (pid >> 8), pid & 0xff, 0x10, 0, ...body]);
  return p;
}
const PAT = table(0, [0x00, 0xb0, 0x0d, 0, 1, 0xc1, 0, 0, 0, 1, 0xf0, 0x00]);
const PMT = table(0x1000, [0x02, 0xb0, 0x17, 0, 1, 0xc1, 0, 0, 0xe1, 0x00, 0xf0, 0x00, 0x1b, 0xe1, 0x00, 0xf0, 0x00, 0x0f, 0xe1, 0x01, 0xf0, 0x00]);
const STREAM = Buffer.concat([PAT, PMT, pes(0x100, 90_000, true), pes(0x101, 91_800)]);

describe('the live relay against a broadcaster\'s socket', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'relay-'));
  let source: net.Server;
  let server: http.Server;
  let relay: LiveRelay;
  afterAll(async () => {
    relay.closeAll();
    server.closeAllConnections();
    await new Promise((r) => server.close(r));
    await new Promise((r) => source.close(r));
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('reads past a source that answers nonsense, then starts each viewer at the keyframe with its stream\'s on-air clock', async () => {
    const member = path.join(dir, '.members', 'main-1');
    fs.mkdirSync(path.join(member, 'hls'), { recursive: true });
    fs.symlinkSync(path.join('.members', 'main-1', 'hls'), path.join(dir, 'main'));
    let connections = 0;
    source = net.createServer((socket) => {
      // The first reader gets a header line that is not ours; the next one the real thing.
      if (++connections === 1) socket.write(`${'x'.repeat(300)}\n`);
      else socket.end(Buffer.concat([Buffer.from(`${JSON.stringify({ pts: 91_800, at: 1_000_000 })}\n`), STREAM]));
      socket.on('error', () => {});
    });
    await new Promise<void>((r) => source.listen(path.join(member, LIVE_SOCKET), r));
    relay = new LiveRelay({ main: path.join(dir, 'main') }, { maxViewers: 5, maxBufferedBytes: 65536 }, createLogger('test', 'silent'), new Registry());
    const app = express();
    app.get('/live', (_req, res) => relay.serve('main', res));
    server = app.listen(0, '127.0.0.1');
    await new Promise((r) => server.once('listening', r));
    const port = (server.address() as net.AddressInfo).port;

    const answer = await new Promise<{ status?: number; clock?: string; body: Buffer }>((resolve) => {
      http.get({ host: '127.0.0.1', port, path: '/live' }, (res) => {
        const parts: Buffer[] = [];
        res.on('data', (d: Buffer) => parts.push(d));
        // The source ends its stream: the relay ends the viewer's too (its page reconnects).
        res.on('end', () => resolve({ status: res.statusCode, clock: res.headers['x-idolcast-clock'] as string, body: Buffer.concat(parts) }));
      });
    });
    expect(connections).toBeGreaterThanOrEqual(2);
    expect(answer.status).toBe(200);
    expect(answer.body.equals(STREAM)).toBe(true);
    // The keyframe's PTS is 1,800 ticks (20 ms) before the audio the header dates.
    expect(Number(answer.clock)).toBe(1_000_000 - 20);
  });
});
