import fs from 'node:fs';
import net from 'node:net';
import type { Logger } from '../logger';
import type { GopCache } from './gop-cache';

/** The socket's name in a broadcaster's own directory (`<live root>/.members/<member>/`). */
export const LIVE_SOCKET = 'live.sock';
/** Readers at once (the control servers); the page's viewers are fanned out by those, never here. */
const MAX_READERS = 16;
/** Past this much unread stream a reader is dropped: the encoder never waits for anyone. */
const MAX_BUFFERED_BYTES = 4 * 1024 * 1024;
/** Longest path a unix socket can be bound at on Linux (sun_path, less the terminating NUL). */
const MAX_SOCKET_PATH = 107;

/**
 * A broadcaster's encoded stream (MPEG-TS, as the encoder writes it) on a unix socket in its own
 * directory, for the control server's low-latency live view. Each reader gets one header line,
 * `{"pts":…,"at":…}` (the on-air time of the stream at that audio timestamp), then the stream from
 * the cached keyframe on, then the live stream. A reader that does not keep up is dropped.
 */
export class LiveSocket {
  private readonly server = net.createServer((socket) => this.accept(socket));
  private readonly readers = new Set<net.Socket>();
  /** Connected before the stream's clock is known (a fresh encoder run): started with the next chunk that knows it. */
  private readonly waiting = new Set<net.Socket>();

  constructor(
    readonly path: string,
    private readonly gop: GopCache,
    /** The live view's clock runs this far from the playout's (HlsEncoder.streamOffsetMs). */
    private readonly offsetMs: () => number,
    private readonly log: Logger,
  ) {}

  /** Listen; a path that cannot be bound leaves the low-latency view off (the page plays HLS) and says why. */
  listen(): void {
    if (Buffer.byteLength(this.path) > MAX_SOCKET_PATH) {
      this.log.error({ path: this.path }, 'low-latency live view off: the socket path is too long for a unix socket (shorten channels.<id>.live.dir)');
      return;
    }
    // A broadcaster killed earlier left its socket file behind; ours has a fresh name, but be safe.
    fs.rmSync(this.path, { force: true });
    this.server.on('error', (err) => this.log.error({ err: err.message, path: this.path }, 'low-latency live view off: its socket failed'));
    this.server.listen(this.path);
  }

  private accept(socket: net.Socket): void {
    socket.on('error', () => {});
    socket.on('close', () => {
      this.readers.delete(socket);
      this.waiting.delete(socket);
    });
    if (this.readers.size + this.waiting.size >= MAX_READERS) {
      this.log.warn({ readers: this.readers.size }, 'live stream reader refused: too many');
      socket.destroy();
      return;
    }
    if (!this.start(socket)) this.waiting.add(socket);
  }

  /** Send the header and the stream from the cached keyframe; false while the clock is unknown. */
  private start(socket: net.Socket): boolean {
    const clock = this.gop.clock;
    const snapshot = this.gop.snapshot();
    if (!clock || !snapshot.length) return false;
    socket.write(`${JSON.stringify({ pts: clock.pts, at: clock.at + this.offsetMs() })}\n`);
    socket.write(snapshot);
    this.readers.add(socket);
    return true;
  }

  /** The encoder's next bytes (already pushed to the GOP cache), to every reader. */
  write(chunk: Buffer): void {
    for (const socket of this.readers) {
      if (socket.writableLength > MAX_BUFFERED_BYTES) {
        this.log.warn({ bufferedBytes: socket.writableLength }, 'live stream reader dropped: not reading');
        socket.destroy();
        continue;
      }
      socket.write(chunk);
    }
    // After the readers: a waiting one starts with a snapshot that already holds this chunk.
    for (const socket of this.waiting) if (this.start(socket)) this.waiting.delete(socket);
  }

  /** The encoder started over (timestamps restart): readers reconnect and get the new stream from its first keyframe. */
  restart(): void {
    for (const socket of this.readers) socket.destroy();
  }

  close(): void {
    this.restart();
    for (const socket of this.waiting) socket.destroy();
    this.server.close();
    fs.rmSync(this.path, { force: true });
  }
}
