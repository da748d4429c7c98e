import { performance } from 'node:perf_hooks';
import * as grpc from '@grpc/grpc-js';
import { streamService } from '../src/chat/sources/youtube-stream';
import type { FakeYouTube } from './fake-youtube';

export interface StreamCall {
  at: number;
  liveChatId?: string;
  pageToken?: string;
  hasKey: boolean;
}

/**
 * ok: serve pages; unimplemented / permissionDenied: refuse the call with that status; silent:
 * accept the call and never send; garbage: send one response that is not protobuf, then pages.
 */
export type StreamMode = 'ok' | 'unimplemented' | 'permissionDenied' | 'silent' | 'garbage';

/** The proto enum name of a REST snippet type: textMessageEvent → TEXT_MESSAGE_EVENT. */
function grpcItem(rest: Record<string, unknown>): Record<string, unknown> {
  const s = rest.snippet as { type?: unknown } | undefined;
  if (!s || typeof s.type !== 'string') return rest;
  return { ...rest, snippet: { ...s, type: s.type.replace(/[A-Z]/g, (c) => `_${c}`).toUpperCase() } };
}

const GARBAGE = Symbol('garbage');

/**
 * A loopback liveChatMessages.streamList: the V3DataLiveChatMessageService of stream_list.proto over
 * real gRPC (HTTP/2, protobuf), serving the pages of a FakeYouTube so both transports read the same
 * chat with the same page tokens (`p<n>`). A call sends every page from its page_token on, one
 * response each with next_page_token, then each page as it is added. Failures: refusal codes,
 * a silent stream, a stream dropped (UNAVAILABLE) after a number of responses, an undecodable response.
 */
export class FakeYouTubeStream {
  readonly calls: StreamCall[] = [];
  mode: StreamMode = 'ok';
  /** Drop the next call after it has sent this many responses (then cleared). */
  dropAfter?: number;
  /** When each message id was written to a stream (performance.now()), for latency figures. */
  readonly sentAt = new Map<string, number>();
  private readonly server = new grpc.Server();
  private readonly open = new Set<grpc.ServerWritableStream<unknown, unknown>>();
  private port = 0;
  readonly ready: Promise<void>;

  constructor(readonly chat: FakeYouTube) {
    const Service = streamService();
    const def = { ...Service.service };
    const method = def.StreamList!;
    const serialize = method.responseSerialize;
    def.StreamList = { ...method, responseSerialize: (v: unknown) => (v === GARBAGE ? Buffer.from([0xff, 0xff, 0xff, 0xff]) : serialize(v)) };
    this.server.addService(def, { StreamList: (call: grpc.ServerWritableStream<unknown, unknown>) => this.handle(call) });
    this.ready = new Promise((resolve, reject) => {
      this.server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (err, port) => {
        if (err) return reject(err);
        this.port = port;
        resolve();
      });
    });
  }

  get url(): string {
    return `grpc://127.0.0.1:${this.port}`;
  }

  private handle(call: grpc.ServerWritableStream<unknown, unknown>): void {
    const req = call.request as { liveChatId?: string; pageToken?: string };
    this.calls.push({ at: Date.now(), liveChatId: req.liveChatId, pageToken: req.pageToken, hasKey: call.metadata.get('x-goog-api-key').length > 0 });
    const fail = (code: grpc.status, details: string): void => void call.emit('error', Object.assign(new Error(details), { code, details }));
    if (this.mode === 'unimplemented') return fail(grpc.status.UNIMPLEMENTED, 'streamList is not enabled for this project');
    if (this.mode === 'permissionDenied') return fail(grpc.status.PERMISSION_DENIED, 'The caller does not have permission');
    if (!call.metadata.get('x-goog-api-key').length) return fail(grpc.status.UNAUTHENTICATED, 'API key missing');
    if (req.liveChatId !== this.chat.liveChatId) return fail(grpc.status.NOT_FOUND, 'The live chat that you are trying to retrieve cannot be found.');
    this.open.add(call);
    let off: () => unknown = () => undefined;
    const done = (): void => {
      this.open.delete(call);
      off();
    };
    call.on('cancelled', done);
    call.on('close', done);
    if (this.mode === 'silent') return;
    if (this.mode === 'garbage') call.write(GARBAGE);
    const dropAfter = this.dropAfter;
    this.dropAfter = undefined;
    let next = req.pageToken ? Number(req.pageToken.slice(1)) : 0;
    let sent = 0;
    const pump = (): void => {
      while (next < this.chat.pages.length && this.open.has(call)) {
        const items = this.chat.pages[next]!;
        call.write({ items: items.map((i) => grpcItem(this.chat.restItem(i))), nextPageToken: `p${next + 1}` });
        const now = performance.now();
        for (const i of items) this.sentAt.set(i.id, now);
        next++;
        if (dropAfter !== undefined && ++sent >= dropAfter) {
          off();
          return fail(grpc.status.UNAVAILABLE, 'connection reset');
        }
      }
    };
    off = this.chat.onPage(pump);
    pump();
  }

  /** The broadcast ends: every open call gets a response with offline_at. */
  goOffline(): void {
    for (const call of this.open) call.write({ offlineAt: new Date().toISOString(), items: [], nextPageToken: `p${this.chat.pages.length}` });
  }

  /** End every open call with OK (a server that closes streams now and then). */
  endAll(): void {
    for (const call of this.open) call.end();
  }

  async close(): Promise<void> {
    this.server.forceShutdown();
  }
}
