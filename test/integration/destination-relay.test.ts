import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import tls from 'node:tls';
import { DestinationRelay, type RelayEvents } from '../../src/broadcast/destination-relay';
import { encodeAmf0 } from '../../src/broadcast/amf0';
import { FlvTagReader } from '../../src/broadcast/flv-tags';
import { chunkMessage } from '../../src/broadcast/rtmp-chunks';
import { RtmpPublisher, parseTarget } from '../../src/broadcast/rtmp-publisher';
import { createLogger } from '../../src/logger';
import { freeLoopbackPort } from '../../src/ports';
import { eventually } from '../helpers/fleet';
import { NginxRtmp } from '../../testkit/nginx-rtmp';
import { descendantsOf } from '../../testkit/procfs';
import { RtmpViewer } from '../../testkit/rtmp-pull';

const KEY = 'live_fake_s3cr3t_key_0123';

/** The encoder's stand-in: a tone with a moving picture on stdout (MPEG-TS, or FLV as a pusher writes it), in real time. */
const encoder = (format = 'mpegts'): ChildProcess =>
  spawn('ffmpeg', ['-loglevel', 'error', '-re', '-f', 'lavfi', '-i', 'sine=f=440:r=48000', '-f', 'lavfi', '-i', 'testsrc2=s=320x180:r=15', '-c:v', 'libx264', '-preset', 'ultrafast', '-tune', 'zerolatency', '-g', '15', '-c:a', 'aac', '-f', format, 'pipe:1'], { stdio: ['ignore', 'pipe', 'ignore'] });

/** A relay whose log lines and events the test reads. */
function relayTo(url: string) {
  const lines: Record<string, unknown>[] = [];
  const sink = new Writable({ write: (c: Buffer, _e, cb) => (lines.push(...c.toString().trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>)), cb()) });
  const onAir: boolean[] = [];
  let reconnects = 0;
  const events: RelayEvents = { onAir: (on) => onAir.push(on), reconnect: () => reconnects++, sent: () => {}, dropped: () => {} };
  const relay = new DestinationRelay('test', url, KEY, createLogger('test', 'info', sink), events);
  return { relay, lines, onAir, reconnects: () => reconnects };
}

describe('a destination relay publishing with the stream key held in memory (real ffmpeg, real nginx-rtmp)', () => {
  let dir: string;
  let nginx: NginxRtmp | undefined;
  let source: ChildProcess | undefined;
  let relay: DestinationRelay | undefined;
  let viewer: RtmpViewer | undefined;
  let server: net.Server | undefined;
  beforeEach(() => (dir = fs.mkdtempSync(path.join(os.tmpdir(), 'idolcast-relay-'))));
  afterEach(async () => {
    source?.kill('SIGKILL');
    viewer?.stop();
    await relay?.stop();
    await nginx?.stop();
    server?.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  const feed = (r: DestinationRelay) => {
    source = encoder();
    source.stdout!.on('data', (d: Buffer) => r.write(d));
    r.start();
  };

  it('the platform gets the stream under the key, and no process we started has the key on its command line', async () => {
    nginx = new NginxRtmp(path.join(dir, 'nginx'));
    await nginx.start();
    const t = relayTo(`${nginx.url}/`);
    relay = t.relay;
    feed(relay);
    await eventually(async () => (t.onAir.includes(true) ? true : undefined), 'the destination on air', 20000);

    // Every process below this one (the pusher ffmpeg and the stand-in encoder) reads no key in its argv.
    const children = descendantsOf(process.pid);
    expect(children.some((p) => p.args.includes('-f flv'))).toBe(true);
    for (const p of children) expect(fs.readFileSync(`/proc/${p.pid}/cmdline`, 'utf8')).not.toContain(KEY);

    viewer = new RtmpViewer(`${nginx.url}/${KEY}`);
    await eventually(async () => (viewer!.seconds > 2 ? true : undefined), 'two seconds of the stream pulled back under the key', 20000);
    expect(JSON.stringify(t.lines)).not.toContain(KEY);
  });

  it('the platform going away: dropped, logged without the key, and back on air when it returns', async () => {
    nginx = new NginxRtmp(path.join(dir, 'nginx'));
    await nginx.start();
    const t = relayTo(nginx.url);
    relay = t.relay;
    feed(relay);
    await eventually(async () => (t.onAir.includes(true) ? true : undefined), 'the destination on air', 20000);
    await nginx.stop();
    await eventually(async () => (t.onAir.at(-1) === false ? true : undefined), 'the destination off air', 20000);
    await nginx.start();
    await eventually(async () => (t.onAir.at(-1) === true ? true : undefined), 'the destination back on air', 30000);
    expect(t.lines.some((l) => l.msg === 'destination dropped: retrying')).toBe(true);
    expect(JSON.stringify(t.lines)).not.toContain(KEY);
  });

  /** A loopback ingest that does what `answer` says with each connection; counts the connections. */
  async function fakeIngest(answer: (s: net.Socket) => void): Promise<{ url: string; connections: () => number }> {
    const port = await freeLoopbackPort();
    let connections = 0;
    server = net.createServer((s) => {
      connections++;
      s.on('error', () => {});
      answer(s);
    });
    await new Promise<void>((r) => server!.listen(port, '127.0.0.1', r));
    return { url: `rtmp://127.0.0.1:${port}/live`, connections: () => connections };
  }

  /** S0 + S1 + S2 once C0 + C1 arrive, then `after` once the client's next bytes (its connect) arrive. */
  const handshakeThen = (after: Buffer) => (s: net.Socket) =>
    s.once('data', () => {
      s.write(Buffer.concat([Buffer.from([3]), Buffer.alloc(3072)]));
      s.once('data', () => s.write(after));
    });

  /** Run a relay against a fake ingest until it has dropped and tried again; its first drop's log line. */
  async function dropAgainst(answer: (s: net.Socket) => void): Promise<{ why: string; lines: Record<string, unknown>[]; onAir: boolean[] }> {
    const ingest = await fakeIngest(answer);
    const t = relayTo(ingest.url);
    relay = t.relay;
    feed(relay);
    const drop = (l: Record<string, unknown>) => l.msg === 'destination dropped: retrying' || l.msg === 'destination stalled: reconnecting';
    await eventually(async () => (ingest.connections() >= 2 && t.lines.some(drop) ? true : undefined), 'a drop and a second try', 30000);
    const first = t.lines.find(drop)!;
    return { why: String(first.why ?? first.msg), lines: t.lines, onAir: t.onAir };
  }

  it('an ingest answering nonsense: a logged drop and a retry, never a crash', async () => {
    // A command message whose AMF0 is garbage.
    const r = await dropAgainst(handshakeThen(Buffer.from([0x03, 0, 0, 0, 0, 0, 4, 20, 0, 0, 0, 0, 0x42, 0x42, 0x42, 0x42])));
    expect(r.why).toMatch(/unreadable answer/);
    expect(r.onAir).not.toContain(true);
  });

  it('an ingest refusing the key (and quoting it back): the refusal is logged with the key cut out', async () => {
    const refusal = encodeAmf0(['_error', 1, null, { level: 'error', code: 'NetConnection.Connect.Rejected', description: `invalid stream key ${KEY}` }]);
    const r = await dropAgainst(handshakeThen(chunkMessage(3, 20, 0, 0, refusal, 128)));
    expect(r.why).toBe('the ingest refused: invalid stream key [key]');
    expect(JSON.stringify(r.lines)).not.toContain(KEY);
    expect(r.onAir).not.toContain(true);
  });

  it('an ingest that accepts and never answers: the pusher is restarted as stalled, never on air', async () => {
    const r = await dropAgainst(() => {});
    expect(r.why).toBe('destination stalled: reconnecting');
    expect(r.onAir).not.toContain(true);
  });

  /** An RTMPS ingest: a TLS terminator with a self-signed certificate for 127.0.0.1, in front of nginx-rtmp. */
  async function rtmpsIngest(): Promise<{ port: number; cert: string }> {
    nginx = new NginxRtmp(path.join(dir, 'nginx'));
    await nginx.start();
    const [key, cert] = [path.join(dir, 'key.pem'), path.join(dir, 'cert.pem')];
    spawnSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', key, '-out', cert, '-days', '1', '-subj', '/CN=127.0.0.1', '-addext', 'subjectAltName=IP:127.0.0.1'], { stdio: 'ignore' });
    const upstream = nginx.port;
    server = tls.createServer({ key: fs.readFileSync(key), cert: fs.readFileSync(cert) }, (s) => {
      const up = net.connect(upstream, '127.0.0.1');
      s.pipe(up).pipe(s);
      s.on('error', () => up.destroy());
      up.on('error', () => s.destroy());
    });
    const port = await freeLoopbackPort();
    await new Promise<void>((r) => server!.listen(port, '127.0.0.1', r));
    return { port, cert: fs.readFileSync(cert, 'utf8') };
  }

  /** Publish ffmpeg's FLV of the stand-in encoder straight through an RtmpPublisher. */
  function publishFlv(publisher: () => RtmpPublisher): void {
    source = encoder('flv');
    const p = publisher();
    const tags = new FlvTagReader((t) => p.send(t));
    source.stdout!.on('data', (d: Buffer) => tags.push(d));
  }

  it('rtmps: published over TLS with the certificate checked; an unknown certificate is refused', async () => {
    const { port, cert } = await rtmpsIngest();
    const target = parseTarget(`rtmps://127.0.0.1:${port}/live`, KEY);
    const untrusted = await new Promise<string>((resolve) => new RtmpPublisher(target, { publishing: () => resolve('published'), flushed: () => {}, closed: resolve }));
    expect(untrusted).toMatch(/self[- ]signed/i);

    let publisher!: RtmpPublisher;
    const published = new Promise<void>((resolve) => publishFlv(() => (publisher = new RtmpPublisher(target, { publishing: resolve, flushed: () => {}, closed: () => {} }, 10_000, cert))));
    await published;
    viewer = new RtmpViewer(`${nginx!.url}/${KEY}`);
    await eventually(async () => (viewer!.seconds > 2 ? true : undefined), 'two seconds of the stream pulled back from nginx', 20000);
    await publisher.close();
  });
});
