import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import type { Response } from 'express';
import { Gauge, type Registry } from 'prom-client';
import { z } from 'zod';
import { GopCache } from '../broadcast/gop-cache';
import { LIVE_SOCKET } from '../broadcast/live-socket';
import type { Logger } from '../logger';

export interface LiveViewLimits {
  /** Low-latency viewers at once, all channels (0: off, every page plays HLS). */
  maxViewers: number;
  /** Bytes a viewer may leave unread before it is dropped. */
  maxBufferedBytes: number;
}

/** How long a viewer is held while no broadcaster's stream can be read (a takeover, a restart) before 503. */
const WAIT_MS = 20_000;
/** No byte from the broadcaster for this long: it is paused or hung; read the live view's broadcaster again. */
const SILENT_MS = 2000;
/** How often the live view's link is checked (a takeover repoints it), and the first retry's delay. */
const CHECK_MS = 250;
/** The first line a broadcaster sends: the on-air time (ms) of its stream at an audio timestamp. */
const headerSchema = z.strictObject({ pts: z.number().int().min(0), at: z.number() });
const MAX_HEADER = 256;

/**
 * The low-latency live view: for each channel, one reader of the on-air broadcaster's stream (the
 * unix socket in the directory the channel's live view links to), fanned out to the page's players
 * over chunked HTTP. Each viewer starts at the cached keyframe and is told, in `X-Idolcast-Clock`,
 * the on-air time of its stream's first timestamp (its player's time zero), so captions follow what
 * it hears. Never waits for a viewer: one that does not read is dropped.
 */
export class LiveRelay {
  private readonly channels = new Map<string, ChannelStream>();
  private readonly gauge: Gauge;

  constructor(
    links: Record<string, string>,
    private readonly limits: LiveViewLimits,
    private readonly log: Logger,
    registry: Registry,
  ) {
    this.gauge = new Gauge({ name: 'idolcast_control_live_viewers', help: 'Low-latency live view players connected or waiting for a stream', registers: [registry] });
    for (const [channel, link] of Object.entries(links)) this.channels.set(channel, new ChannelStream(link, limits, log.child({ channel }), () => this.count()));
  }

  private count(): void {
    this.gauge.set([...this.channels.values()].reduce((n, c) => n + c.size, 0));
  }

  /** Serve a configured channel's stream to this request, or 503 past the cap (the page then plays HLS). */
  serve(channel: string, res: Response): void {
    const stream = this.channels.get(channel)!;
    const open = [...this.channels.values()].reduce((n, c) => n + c.size, 0);
    if (open >= this.limits.maxViewers) {
      res.setHeader('Retry-After', '30');
      res.status(503).json({ error: this.limits.maxViewers ? `too many low-latency viewers (${this.limits.maxViewers}, control.maxLiveViewers); play the HLS view` : 'the low-latency live view is off (control.maxLiveViewers: 0)' });
      return;
    }
    stream.add(res);
  }

  closeAll(): void {
    for (const c of this.channels.values()) c.close();
  }
}

/** One channel: its broadcaster's stream, the viewers playing it and those waiting for one. */
class ChannelStream {
  private readonly gop = new GopCache();
  private readonly viewers = new Set<Response>();
  private readonly waiting = new Map<Response, NodeJS.Timeout>();
  private socket?: net.Socket;
  private source?: string;
  private header?: Buffer;
  private lastDataAt = 0;
  private timer?: NodeJS.Timeout;

  constructor(
    /** `<live root>/<channel>`: the link a broadcaster going on air points at its own directory. */
    private readonly link: string,
    private readonly limits: LiveViewLimits,
    private readonly log: Logger,
    private readonly changed: () => void,
  ) {}

  get size(): number {
    return this.viewers.size + this.waiting.size;
  }

  add(res: Response): void {
    const timeout = setTimeout(() => {
      this.waiting.delete(res);
      res.setHeader('Retry-After', '5');
      res.status(503).json({ error: 'no live stream to relay right now (no broadcaster on air)' });
    }, WAIT_MS);
    this.waiting.set(res, timeout);
    res.on('close', () => {
      clearTimeout(this.waiting.get(res));
      this.waiting.delete(res);
      this.viewers.delete(res);
      this.changed();
      if (!this.size) this.disconnect();
    });
    this.changed();
    this.timer ??= setInterval(() => this.check(), CHECK_MS);
    this.check();
  }

  /** The socket of the broadcaster the live view links to now, or undefined while there is none. */
  private currentSource(): string | undefined {
    try {
      return path.join(path.dirname(fs.realpathSync(this.link)), LIVE_SOCKET);
    } catch {
      return undefined;
    }
  }

  /** Connect when there is none; leave a broadcaster that went silent or is no longer the one linked. */
  private check(): void {
    const source = this.currentSource();
    if (this.socket) {
      if (source !== this.source || Date.now() - this.lastDataAt > SILENT_MS) {
        this.log.info({ relinked: source !== this.source }, 'live view source changed or went silent: reading it again');
        this.socket.destroy();
      }
      return;
    }
    if (!source) return;
    this.source = source;
    this.header = Buffer.alloc(0);
    this.lastDataAt = Date.now();
    const socket = net.createConnection(source);
    this.socket = socket;
    socket.on('data', (chunk: Buffer) => socket === this.socket && this.data(chunk));
    socket.on('error', () => {});
    socket.on('close', () => socket === this.socket && this.lost());
  }

  private data(chunk: Buffer): void {
    this.lastDataAt = Date.now();
    if (this.header) {
      const rest = this.readHeader(chunk);
      if (!rest?.length) return;
      chunk = rest;
    }
    this.gop.push(chunk);
    for (const res of this.viewers) {
      if (res.writableLength > this.limits.maxBufferedBytes) {
        this.log.warn({ bufferedBytes: res.writableLength }, 'live viewer dropped: not reading');
        res.destroy();
        continue;
      }
      res.write(chunk);
    }
    // After the viewers: one starting now gets a snapshot that already holds this chunk.
    const at = this.gop.snapshotClock();
    if (at === undefined) return;
    for (const [res, timeout] of this.waiting) {
      clearTimeout(timeout);
      this.waiting.delete(res);
      this.viewers.add(res);
      res.writeHead(200, { 'content-type': 'video/mp2t', 'cache-control': 'no-store', 'x-accel-buffering': 'no', 'x-idolcast-clock': String(Math.round(at)) });
      res.write(this.gop.snapshot());
    }
  }

  /** The header line, then the stream: what follows the line, or undefined while it is incomplete or bad. */
  private readHeader(chunk: Buffer): Buffer | undefined {
    const buf = Buffer.concat([this.header!, chunk]);
    const end = buf.indexOf(0x0a);
    if (end < 0) {
      if (buf.length > MAX_HEADER) this.socket?.destroy();
      else this.header = buf;
      return undefined;
    }
    let parsed: unknown;
    try {
      parsed = JSON.parse(buf.subarray(0, end).toString());
    } catch {
      parsed = undefined;
    }
    const clock = headerSchema.safeParse(parsed);
    if (!clock.success) {
      this.log.warn('live view source sent a bad header: reading it again');
      this.socket?.destroy();
      return undefined;
    }
    this.header = undefined;
    this.gop.setClock(clock.data);
    return buf.subarray(end + 1);
  }

  /** The broadcaster's stream ended: players start over (with the next one's stream, from its keyframe). */
  private lost(): void {
    this.socket = undefined;
    this.gop.clear();
    for (const res of this.viewers) res.end();
    this.viewers.clear();
    this.changed();
  }

  private disconnect(): void {
    clearInterval(this.timer);
    this.timer = undefined;
    const socket = this.socket;
    this.socket = undefined;
    socket?.destroy();
    this.gop.clear();
  }

  close(): void {
    for (const [res, timeout] of this.waiting) {
      clearTimeout(timeout);
      res.end();
    }
    this.waiting.clear();
    for (const res of this.viewers) res.end();
    this.viewers.clear();
    this.disconnect();
  }
}
