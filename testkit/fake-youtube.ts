import http from 'node:http';

export interface RecordedRequest {
  at: number;
  path: string;
  pageToken?: string;
  hasKey: boolean;
}

export interface Item {
  id: string;
  /** Served as given instead of built from the fields below (malformed items). */
  raw?: Record<string, unknown>;
  type?: string;
  text?: string;
  author?: { channelId: string; displayName: string; isChatOwner?: boolean; isChatModerator?: boolean; isChatSponsor?: boolean };
  superChat?: { amountMicros: string; currency: string };
}

/**
 * A loopback YouTube Data API v3 of our own: videos.list (live chat id) and liveChatMessages.list
 * with real response shapes, pages chained by nextPageToken, a configurable pollingIntervalMillis,
 * and injected failures (403 quotaExceeded, 500) answered in the API's error format.
 */
export class FakeYouTube {
  readonly requests: RecordedRequest[] = [];
  /** Items of each page; page n is served for pageToken `p<n>` (page 0 without a token). */
  readonly pages: Item[][] = [];
  pollingIntervalMillis = 100;
  /** Queue of failures to answer the next message polls with. */
  readonly failures: ('quotaExceeded' | 'rateLimitExceeded' | 'server' | 'liveChatEnded')[] = [];
  private readonly server: http.Server;
  readonly ready: Promise<void>;
  /** Told of each page added (the streaming fake pushes it at once). */
  private readonly pageListeners = new Set<(index: number) => void>();

  constructor(readonly liveChatId = 'LIVECHAT123', readonly videoId = 'VIDEO123') {
    this.server = http.createServer((req, res) => this.handle(req, res));
    this.ready = new Promise((resolve) => this.server.listen(0, '127.0.0.1', () => resolve()));
  }

  get url(): string {
    const addr = this.server.address();
    return `http://127.0.0.1:${typeof addr === 'object' && addr ? addr.port : 0}/youtube/v3`;
  }

  /** Add a page of chat: each id becomes a textMessageEvent unless given fully. */
  addPage(items: (string | Item)[]): void {
    this.pages.push(items.map((i) => (typeof i === 'string' ? { id: i, text: `message ${i}` } : i)));
    for (const l of this.pageListeners) l(this.pages.length - 1);
  }

  onPage(listener: (index: number) => void): () => unknown {
    this.pageListeners.add(listener);
    return () => this.pageListeners.delete(listener);
  }

  /** One item as liveChatMessages.list returns it (REST JSON, camelCase). */
  restItem(i: Item): Record<string, unknown> {
    if (i.raw) return i.raw;
    return {
      kind: 'youtube#liveChatMessage', etag: 'e', id: i.id,
      snippet: {
        type: i.type ?? 'textMessageEvent', liveChatId: this.liveChatId, authorChannelId: i.author?.channelId ?? `UC${i.id}`, publishedAt: new Date().toISOString(), hasDisplayContent: true,
        displayMessage: i.text ?? '', ...(i.type === 'superChatEvent' ? { superChatDetails: { ...i.superChat, amountDisplayString: '$5.00', userComment: i.text ?? '', tier: 2 } } : { textMessageDetails: { messageText: i.text ?? '' } }),
      },
      authorDetails: { channelId: i.author?.channelId ?? `UC${i.id}`, channelUrl: 'http://x', displayName: i.author?.displayName ?? `Viewer ${i.id}`, profileImageUrl: 'http://x', isVerified: false, isChatOwner: false, isChatSponsor: false, isChatModerator: false, ...i.author },
    };
  }

  private reply(res: http.ServerResponse, status: number, body: unknown): void {
    res.writeHead(status, { 'content-type': 'application/json; charset=UTF-8' });
    res.end(JSON.stringify(body));
  }

  private error(res: http.ServerResponse, code: number, reason: string, message: string): void {
    this.reply(res, code, { error: { code, message, errors: [{ message, domain: reason === 'quotaExceeded' ? 'youtube.quota' : 'youtube.liveChat', reason }] } });
  }

  private handle(req: http.IncomingMessage, res: http.ServerResponse): void {
    const url = new URL(req.url ?? '/', 'http://x');
    this.requests.push({ at: Date.now(), path: url.pathname, pageToken: url.searchParams.get('pageToken') ?? undefined, hasKey: Boolean(url.searchParams.get('key')) });
    if (url.pathname.endsWith('/videos')) {
      return this.reply(res, 200, {
        kind: 'youtube#videoListResponse', etag: 'e', pageInfo: { totalResults: 1, resultsPerPage: 1 },
        items: url.searchParams.get('id') === this.videoId ? [{ kind: 'youtube#video', etag: 'e', id: this.videoId, liveStreamingDetails: { actualStartTime: new Date().toISOString(), activeLiveChatId: this.liveChatId } }] : [],
      });
    }
    if (!url.pathname.endsWith('/liveChat/messages')) return this.error(res, 404, 'notFound', 'Not Found');
    if (url.searchParams.get('liveChatId') !== this.liveChatId) return this.error(res, 404, 'liveChatNotFound', 'The live chat that you are trying to retrieve cannot be found.');
    const failure = this.failures.shift();
    if (failure === 'quotaExceeded') return this.error(res, 403, 'quotaExceeded', 'The request cannot be completed because you have exceeded your quota.');
    if (failure === 'rateLimitExceeded') return this.error(res, 403, 'rateLimitExceeded', 'The request was sent too soon after the previous one.');
    if (failure === 'liveChatEnded') return this.error(res, 403, 'liveChatEnded', 'The live chat is no longer live.');
    if (failure === 'server') return this.error(res, 500, 'backendError', 'Backend Error');
    const token = url.searchParams.get('pageToken');
    const index = token ? Number(token.slice(1)) : 0;
    const items = this.pages[index] ?? [];
    // Like the real API, the last page's token is handed out again until new messages arrive.
    const next = index < this.pages.length ? `p${index + 1}` : `p${index}`;
    this.reply(res, 200, {
      kind: 'youtube#liveChatMessageListResponse', etag: 'e', pollingIntervalMillis: this.pollingIntervalMillis, nextPageToken: next,
      pageInfo: { totalResults: items.length, resultsPerPage: items.length },
      items: items.map((i) => this.restItem(i)),
    });
  }

  /** Message polls only (not videos.list). */
  polls(): RecordedRequest[] {
    return this.requests.filter((r) => r.path.endsWith('/liveChat/messages'));
  }

  async close(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((r) => this.server.close(() => r()));
  }
}
