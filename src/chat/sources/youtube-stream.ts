import fs from 'node:fs';
import path from 'node:path';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';

/** Google's endpoint of liveChatMessages.streamList (TLS). */
export const DEFAULT_GRPC_URL = 'youtube.googleapis.com:443';

/**
 * How the proto is read: field names in camelCase (the loader turns the proto's snake_case into the
 * REST JSON names, so one mapping serves both transports), 64-bit numbers as strings (as in the REST
 * JSON), enums by name.
 */
export const PROTO_OPTIONS: protoLoader.Options = { keepCase: false, longs: String, enums: String, defaults: false, oneofs: false };

/** The proto sits at the repository root: two levels up from src/, three from dist/src/. */
function protoPath(): string {
  const candidates = [path.resolve(__dirname, '../../../proto/stream_list.proto'), path.resolve(__dirname, '../../../../proto/stream_list.proto')];
  const found = candidates.find((p) => fs.existsSync(p));
  if (!found) throw new Error(`stream_list.proto not found (looked in ${candidates.join(', ')})`);
  return found;
}

/** The V3DataLiveChatMessageService definition, for the client here and for loopback servers in tests. */
export function streamService(): grpc.ServiceClientConstructor {
  const pkg = grpc.loadPackageDefinition(protoLoader.loadSync(protoPath(), PROTO_OPTIONS)) as unknown as {
    youtube: { api: { v3: { V3DataLiveChatMessageService: grpc.ServiceClientConstructor } } };
  };
  return pkg.youtube.api.v3.V3DataLiveChatMessageService;
}

/** TEXT_MESSAGE_EVENT → textMessageEvent: the REST spelling of a snippet type. */
export function restType(type: unknown): string | undefined {
  if (typeof type !== 'string') return undefined;
  return type.toLowerCase().replace(/_([a-z])/g, (_, c: string) => c.toUpperCase());
}

/** A streamed item in the shape liveChatMessages.list returns (camelCase already; only the type differs). */
export function restItem(item: unknown): unknown {
  if (!item || typeof item !== 'object') return item;
  const i = item as { snippet?: { type?: unknown } };
  return i.snippet ? { ...i, snippet: { ...i.snippet, type: restType(i.snippet.type) } } : i;
}

export interface StreamResponse {
  items?: unknown[];
  nextPageToken?: string;
  offlineAt?: string;
}

/** How one StreamList call ended. */
export interface StreamEnd {
  code: grpc.status;
  details: string;
  /** Responses read before it ended. */
  responses: number;
  /** Ended by us: nothing came for idleMs. */
  idle: boolean;
}

export interface StreamRequest {
  liveChatId: string;
  pageToken?: string;
  /** Drop the call when nothing comes this long (a server that accepts and never sends); 0: never. */
  idleMs: number;
  /** Returns true to end the call (the chat is over). */
  onResponse: (r: StreamResponse) => boolean;
  signal: AbortSignal;
}

/** grpc://host:port is plaintext (loopback tests); anything else (host:port, grpcs://host:port) uses TLS. */
function target(url: string): { address: string; credentials: grpc.ChannelCredentials } {
  const m = /^(grpcs?):\/\/(.+)$/.exec(url);
  const address = (m ? m[2]! : url).replace(/\/$/, '');
  return { address, credentials: m?.[1] === 'grpc' ? grpc.credentials.createInsecure() : grpc.credentials.createSsl() };
}

/**
 * One client channel to streamList, reused across calls. The API key travels as the
 * x-goog-api-key metadata entry only; nothing here logs metadata.
 */
export class YouTubeStreamClient {
  private readonly client: grpc.Client & { StreamList: (req: object, md: grpc.Metadata) => grpc.ClientReadableStream<StreamResponse> };

  constructor(url: string, private readonly apiKey: string) {
    const { address, credentials } = target(url);
    const Service = streamService();
    // Keepalive pings find a dead connection (a silent network drop) within ~40 s even when the chat is quiet.
    this.client = new Service(address, credentials, { 'grpc.keepalive_time_ms': 30_000, 'grpc.keepalive_timeout_ms': 10_000 }) as never;
  }

  /** Run one StreamList call to its end; resolves (never rejects) with how it ended. */
  open(req: StreamRequest): Promise<StreamEnd> {
    const md = new grpc.Metadata();
    md.set('x-goog-api-key', this.apiKey);
    const call = this.client.StreamList({ liveChatId: req.liveChatId, part: ['id', 'snippet', 'authorDetails'], ...(req.pageToken ? { pageToken: req.pageToken } : {}) }, md);
    return new Promise<StreamEnd>((resolve) => {
      let responses = 0;
      let idle = false;
      let timer: NodeJS.Timeout | undefined;
      const arm = (): void => {
        clearTimeout(timer);
        if (req.idleMs > 0) timer = setTimeout(() => {
          idle = true;
          call.cancel();
        }, req.idleMs);
      };
      const onAbort = (): void => call.cancel();
      const finish = (code: grpc.status, details: string): void => {
        clearTimeout(timer);
        req.signal.removeEventListener('abort', onAbort);
        resolve({ code: idle ? grpc.status.DEADLINE_EXCEEDED : code, details: idle ? 'nothing received' : details, responses, idle });
      };
      req.signal.addEventListener('abort', onAbort, { once: true });
      if (req.signal.aborted) call.cancel();
      arm();
      call.on('data', (r: StreamResponse) => {
        responses++;
        arm();
        let over: boolean;
        try {
          over = req.onResponse(r);
        } catch {
          // A reader that threw must not leave the call half read: end it, the caller reconnects
          // from the last token it kept.
          over = true;
        }
        if (over) call.cancel();
      });
      // 'status' comes once, after data and end, for every way a call finishes; 'error' repeats it.
      call.on('error', () => undefined);
      call.on('status', (s: grpc.StatusObject) => finish(s.code, s.details));
    });
  }

  close(): void {
    this.client.close();
  }
}

/** Codes that say streaming is refused for us here: poll instead for a while. */
export function streamRefused(code: grpc.status): boolean {
  return code === grpc.status.UNIMPLEMENTED || code === grpc.status.PERMISSION_DENIED || code === grpc.status.UNAUTHENTICATED;
}

export { grpc };
