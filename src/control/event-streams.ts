import type { Response } from 'express';
import { Gauge, type Registry } from 'prom-client';
import type { Logger } from '../logger';

export interface EventStreamLimits {
  /** Streams open at once across all channels; past it a new one gets 503. */
  maxStreams: number;
  /** Bytes a client may leave unread before it is dropped. */
  maxBufferedBytes: number;
}

/**
 * Live events fanned out to server-sent-event clients, per configured channel. Bounded on every
 * side an outsider controls: channels (only configured ones reach here), streams (a cap), and the
 * bytes a client that does not read may make us hold (it is dropped).
 */
export class EventStreams {
  private readonly listeners = new Map<string, Set<Response>>();
  private open = 0;
  private readonly gauge: Gauge;

  constructor(
    private readonly limits: EventStreamLimits,
    private readonly log: Logger,
    registry: Registry,
  ) {
    this.gauge = new Gauge({ name: 'idolcast_control_event_streams', help: 'Server-sent event streams open on the control server (live page and overlays)', registers: [registry] });
  }

  /** Send a message to every stream of a channel, dropping those that stopped reading. */
  publish(channel: string, message: string): void {
    for (const res of this.listeners.get(channel) ?? []) this.write(res, `data: ${message}\n\n`);
  }

  private write(res: Response, chunk: string): void {
    if (res.writableLength > this.limits.maxBufferedBytes) {
      this.log.warn({ bufferedBytes: res.writableLength }, 'event stream dropped: the client is not reading');
      res.destroy();
      return;
    }
    res.write(chunk);
  }

  /** Serve a stream of `channel` (a configured one) to this request, or 503 at the cap. */
  serve(channel: string, res: Response): void {
    if (this.open >= this.limits.maxStreams) {
      res.setHeader('Retry-After', '10');
      res.status(503).json({ error: `too many event streams open (${this.limits.maxStreams}, control.maxEventStreams); try again later` });
      return;
    }
    res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache', connection: 'keep-alive' });
    res.write('retry: 2000\n\n');
    const set = this.listeners.get(channel) ?? new Set();
    set.add(res);
    this.listeners.set(channel, set);
    this.gauge.set(++this.open);
    const ping = setInterval(() => this.write(res, ': keep-alive\n\n'), 15000);
    res.on('close', () => {
      clearInterval(ping);
      set.delete(res);
      if (!set.size && this.listeners.get(channel) === set) this.listeners.delete(channel);
      this.gauge.set(--this.open);
    });
  }

  closeAll(): void {
    for (const set of this.listeners.values()) for (const res of set) res.end();
  }
}
