import crypto from 'node:crypto';
import net from 'node:net';
import tls from 'node:tls';
import { decodeAmf0, encodeAmf0, type Amf } from './amf0';
import type { FlvTag } from './flv-tags';
import { ChunkReader, MSG, chunkMessage } from './rtmp-chunks';

/** Where to publish: the ingest's address and application, and the stream name (the stream key). */
export interface RtmpTarget {
  secure: boolean;
  host: string;
  port: number;
  app: string;
  tcUrl: string;
  name: string;
}

/**
 * `rtmp[s]://host[:port]/app[/instance]` plus the stream key; without a key, the URL's last path
 * segment is the stream name. Errors never quote the URL: it may hold a key.
 */
export function parseTarget(url: string, key?: string): RtmpTarget {
  let u: URL;
  try {
    u = new URL(key ? url.replace(/\/+$/, '') : url);
  } catch {
    throw new Error('destination URL is not a URL');
  }
  if (u.protocol !== 'rtmp:' && u.protocol !== 'rtmps:') throw new Error(`destination URL must be rtmp:// or rtmps://, not ${u.protocol}//`);
  const segments = u.pathname.split('/').filter(Boolean).map(decodeURIComponent);
  const name = key ?? `${segments.pop() ?? ''}${u.search}`;
  if (!segments.length || !name) throw new Error('destination URL needs an application and a stream name (or a stream key)');
  const app = segments.join('/');
  const secure = u.protocol === 'rtmps:';
  return { secure, host: u.hostname, port: u.port ? Number(u.port) : secure ? 443 : 1935, app, tcUrl: `${u.protocol}//${u.host}/${app}`, name };
}

export interface PublisherEvents {
  /** The ingest accepted the stream (NetStream.Publish.Start). */
  publishing(): void;
  /** Media bytes handed to the kernel: the connection is moving. */
  flushed(bytes: number): void;
  /** The session ended, for whatever reason (called once). */
  closed(why: string): void;
}

const HANDSHAKE = 1536;
const OUT_CHUNK_SIZE = 4096;
/** Media that arrives while the ingest has not yet accepted the stream, at most: a slow answer must not grow memory. */
const MAX_PENDING_BYTES = 8 * 1024 * 1024;
/** Chunk streams: protocol control, commands, audio, script data, video. */
const CS = { control: 2, command: 3, audio: 4, data: 5, video: 6 } as const;
/** Transaction ids of the commands whose answers we wait for (releaseStream and FCPublish, 2 and 3, are courtesy). */
const TX = { connect: 1, createStream: 4, publish: 5 } as const;

/**
 * An RTMP(S) publisher speaking to a platform's ingest itself, so the stream key stays in this
 * process's memory: ffmpeg only remuxes to FLV on a pipe, and no command line carries the key.
 * The handshake is RTMP's plain one (no digest), which ingest servers accept from encoders.
 */
export class RtmpPublisher {
  private readonly socket: net.Socket;
  private readonly reader = new ChunkReader((type, _id, payload) => this.message(type, payload));
  private state: 'handshake' | 'connecting' | 'publishing' | 'closed' = 'handshake';
  private shake = Buffer.alloc(0);
  private streamId = 0;
  private pending: FlvTag[] = [];
  private pendingBytes = 0;
  private received = 0;
  private acked = 0;
  private ackWindow = 0;

  constructor(
    private readonly target: RtmpTarget,
    private readonly events: PublisherEvents,
    /** Longest wait for the ingest to accept the stream. */
    answerTimeoutMs = 10_000,
    /** Certificate authorities for `rtmps://` in place of the system's (a private ingest, a test). */
    ca?: string,
  ) {
    const { host, port } = target;
    this.socket = target.secure ? tls.connect({ host, port, ca, servername: net.isIP(host) ? undefined : host }) : net.connect(port, host);
    this.socket.setNoDelay(true);
    this.socket.setTimeout(answerTimeoutMs, () => this.fail('no answer from the ingest'));
    this.socket.once(target.secure ? 'secureConnect' : 'connect', () => {
      // C0 (version 3) and C1: time 0, zero, random bytes
      this.socket.write(Buffer.concat([Buffer.from([3]), Buffer.alloc(8), crypto.randomBytes(HANDSHAKE - 8)]));
    });
    this.socket.on('data', (d: Buffer) => this.data(d));
    this.socket.on('error', (err) => this.fail(err.message));
    this.socket.on('close', () => this.fail('connection closed by the ingest'));
  }

  /** Send one FLV tag; false when the connection's buffer is full (wait for `onDrain`). */
  send(tag: FlvTag): boolean {
    if (this.state === 'closed') return true;
    if (this.state !== 'publishing') {
      if (this.pendingBytes + tag.data.length <= MAX_PENDING_BYTES) {
        this.pending.push(tag);
        this.pendingBytes += tag.data.length;
      }
      return true;
    }
    const isData = tag.type === MSG.data;
    const payload = isData ? Buffer.concat([encodeAmf0(['@setDataFrame']), tag.data]) : tag.data;
    const cs = isData ? CS.data : tag.type === MSG.audio ? CS.audio : CS.video;
    const bytes = chunkMessage(cs, tag.type, this.streamId, tag.timestamp, payload, OUT_CHUNK_SIZE);
    return this.socket.write(bytes, (err) => !err && this.events.flushed(bytes.length));
  }

  onDrain(resume: () => void): void {
    this.socket.on('drain', resume);
  }

  /** End the session politely: unpublish, then close the connection (destroyed if it lingers). */
  async close(): Promise<void> {
    if (this.state === 'closed') return;
    if (this.state === 'publishing') {
      this.command('FCUnpublish', 6, null, this.target.name);
      this.command('deleteStream', 7, null, this.streamId);
    }
    this.state = 'closed'; // our own ending: not reported as a drop
    this.pending = [];
    const closed = new Promise<void>((resolve) => this.socket.once('close', () => resolve()));
    this.socket.end();
    const timer = setTimeout(() => this.socket.destroy(), 2000);
    await closed;
    clearTimeout(timer);
  }

  destroy(): void {
    this.fail('stopped');
  }

  private fail(why: string): void {
    if (this.state === 'closed') return;
    this.state = 'closed';
    this.pending = [];
    this.socket.destroy();
    this.events.closed(why);
  }

  private data(d: Buffer): void {
    if (this.state === 'handshake') return this.handshake(d);
    this.received += d.length;
    if (this.ackWindow && this.received - this.acked >= this.ackWindow) {
      this.acked = this.received;
      this.control(MSG.ack, u32(this.received >>> 0));
    }
    try {
      this.reader.push(d);
    } catch (err) {
      this.fail(`unreadable answer from the ingest: ${(err as Error).message}`);
    }
  }

  /** S0 + S1 + S2, then C2 (S1 echoed), then the session opens. */
  private handshake(d: Buffer): void {
    this.shake = Buffer.concat([this.shake, d]);
    if (this.shake.length < 1 + 2 * HANDSHAKE) return;
    if (this.shake[0] !== 3) return this.fail(`the ingest answered RTMP version ${this.shake[0]}`);
    const rest = this.shake.subarray(1 + 2 * HANDSHAKE);
    this.socket.write(this.shake.subarray(1, 1 + HANDSHAKE));
    this.shake = Buffer.alloc(0);
    this.state = 'connecting';
    this.control(MSG.setChunkSize, u32(OUT_CHUNK_SIZE));
    const { app, tcUrl } = this.target;
    this.command('connect', TX.connect, { app, type: 'nonprivate', flashVer: 'FMLE/3.0 (compatible; idolcast)', swfUrl: tcUrl, tcUrl });
    if (rest.length) this.data(rest);
  }

  private control(type: number, payload: Buffer): void {
    this.socket.write(chunkMessage(CS.control, type, 0, 0, payload, OUT_CHUNK_SIZE));
  }

  private command(name: string, tx: number, ...args: Amf[]): void {
    const streamId = name === 'publish' ? this.streamId : 0;
    this.socket.write(chunkMessage(CS.command, MSG.command, streamId, 0, encodeAmf0([name, tx, ...args]), OUT_CHUNK_SIZE));
  }

  private message(type: number, payload: Buffer): void {
    if (type === MSG.setChunkSize) this.reader.chunkSize = payload.readUInt32BE(0) & 0x7fffffff;
    else if (type === MSG.windowAckSize) this.ackWindow = payload.readUInt32BE(0);
    else if (type === MSG.userControl && payload.readUInt16BE(0) === 6) {
      // Ping request: answer with a ping response carrying the same timestamp.
      this.control(MSG.userControl, Buffer.concat([Buffer.from([0, 7]), payload.subarray(2, 6)]));
    } else if (type === MSG.command) this.answer(decodeAmf0(payload));
  }

  /** The ingest's answers: connect and createStream results, then the publish status. */
  private answer([name, tx, , info]: Amf[]): void {
    if (name === '_result' && tx === TX.connect) {
      const { name: stream } = this.target;
      this.command('releaseStream', 2, null, stream);
      this.command('FCPublish', 3, null, stream);
      this.command('createStream', TX.createStream, null);
    } else if (name === '_result' && tx === TX.createStream) {
      this.streamId = typeof info === 'number' ? info : 1;
      this.command('publish', TX.publish, null, this.target.name, 'live');
    } else if (name === '_error' && (tx === TX.connect || tx === TX.createStream || tx === TX.publish)) {
      // Some ingests answer releaseStream of a stream that does not exist yet with an error: only
      // the commands publishing depends on count.
      this.fail(`the ingest refused: ${describe(info)}`);
    } else if (name === 'onStatus') {
      const code = describe(info, 'code');
      if (code === 'NetStream.Publish.Start') this.started();
      else if (describe(info, 'level') === 'error') this.fail(`the ingest refused: ${code} ${describe(info)}`);
    }
  }

  private started(): void {
    this.state = 'publishing';
    this.socket.setTimeout(0);
    this.events.publishing();
    const queued = this.pending;
    this.pending = [];
    this.pendingBytes = 0;
    for (const tag of queued) this.send(tag);
  }
}

function u32(n: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(n);
  return b;
}

/** A field of a status object as text (its description by default), for logs. */
function describe(info: Amf, field = 'description'): string {
  const v = info && typeof info === 'object' && !Array.isArray(info) && Object.hasOwn(info, field) ? info[field] : undefined;
  return typeof v === 'string' ? v.slice(0, 200) : '';
}
