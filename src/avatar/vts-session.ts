import WebSocket from 'ws';

/** VTube Studio's error ids that idolcast acts on (DenchiSoft/VTubeStudio Files/ErrorID.cs). */
export const VTS_ERROR = {
  /** The session is not authenticated (or no longer is). */
  requiresAuthentication: 8,
  /** The user clicked "Deny" in the plugin popup (or revoked the plugin later). */
  tokenDenied: 50,
  /** A token popup is already open in VTS. */
  tokenOngoing: 51,
  injectParamNotFound: 453,
  injectParamControlledByOtherPlugin: 454,
} as const;

/** VTS answered a request with an APIError. */
export class VtsApiError extends Error {
  constructor(
    readonly request: string,
    readonly errorID: number,
    message: string,
  ) {
    super(`${request}: VTube Studio error ${errorID}: ${message}`);
    this.name = 'VtsApiError';
  }
}

/** The connection is gone, or VTS did not answer in time (the connection is then dropped: it is hung). */
export class VtsConnectionError extends Error {
  override name = 'VtsConnectionError';
}

interface Pending {
  type: string;
  resolve: (data: Record<string, unknown>) => void;
  reject: (err: Error) => void;
  timer: NodeJS.Timeout;
}

/**
 * One WebSocket connection to VTube Studio's public API: requests in the documented envelope
 * (`apiName`, `apiVersion`, `requestID`, `messageType`, `data`), each answered by the message
 * with its requestID — the response's `data`, or a VtsApiError for an `APIError`. A request not
 * answered in time means a hung VTS: the socket is dropped and every pending request fails. What
 * cannot be parsed as an answer is counted and ignored (the request it should have answered times out).
 */
export class VtsSession {
  private readonly ws: WebSocket;
  private readonly pending = new Map<string, Pending>();
  private seq = 0;
  /** Messages that were not an answer to anything we asked (not JSON, not the API's envelope, unknown id). */
  garbage = 0;
  readonly opened: Promise<void>;
  readonly closed: Promise<{ code: number; reason: string }>;

  constructor(url: string, private readonly timeoutMs: number) {
    this.ws = new WebSocket(url, { handshakeTimeout: timeoutMs, maxPayload: 16 * 1024 * 1024 });
    this.opened = new Promise((resolve, reject) => {
      this.ws.once('open', () => resolve());
      this.ws.once('error', reject);
      this.ws.once('close', () => reject(new VtsConnectionError('closed before it opened')));
    });
    this.opened.catch(() => {});
    this.closed = new Promise((resolve) => this.ws.once('close', (code, reason) => resolve({ code, reason: reason.toString() })));
    this.ws.on('error', () => {}); // a failed connect also closes: `closed` and `opened` carry it
    this.ws.on('message', (raw) => this.receive(raw));
    void this.closed.then(() => this.failAll(new VtsConnectionError('VTube Studio closed the connection')));
  }

  get open(): boolean {
    return this.ws.readyState === WebSocket.OPEN;
  }

  /** Send one request; resolves with the answer's data. `timeoutMs` overrides the usual bound (a popup the user must answer). */
  request(type: string, data: Record<string, unknown> = {}, timeoutMs = this.timeoutMs): Promise<Record<string, unknown>> {
    if (!this.open) return Promise.reject(new VtsConnectionError(`${type}: not connected`));
    const requestID = `idolcast-${++this.seq}`;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(requestID);
        reject(new VtsConnectionError(`${type}: no answer from VTube Studio within ${timeoutMs} ms`));
        this.drop();
      }, timeoutMs);
      this.pending.set(requestID, { type, resolve, reject, timer });
      this.ws.send(JSON.stringify({ apiName: 'VTubeStudioPublicAPI', apiVersion: '1.0', requestID, messageType: type, data }));
    });
  }

  /** Requests sent and not answered yet. */
  get inFlight(): number {
    return this.pending.size;
  }

  /** Drop the connection at once (no closing handshake: VTS may be hung). */
  drop(): void {
    this.ws.terminate();
  }

  private receive(raw: WebSocket.RawData): void {
    let msg: { requestID?: unknown; messageType?: unknown; data?: unknown };
    try {
      msg = JSON.parse(raw.toString()) as typeof msg;
    } catch {
      this.garbage++;
      return;
    }
    const p = typeof msg?.requestID === 'string' ? this.pending.get(msg.requestID) : undefined;
    if (!p || typeof msg.messageType !== 'string') {
      this.garbage++;
      return;
    }
    this.pending.delete(msg.requestID as string);
    clearTimeout(p.timer);
    const data = msg.data && typeof msg.data === 'object' ? (msg.data as Record<string, unknown>) : {};
    if (msg.messageType === 'APIError') p.reject(new VtsApiError(p.type, Number(data.errorID), String(data.message ?? '')));
    else p.resolve(data);
  }

  private failAll(err: Error): void {
    for (const p of this.pending.values()) {
      clearTimeout(p.timer);
      p.reject(err);
    }
    this.pending.clear();
  }
}
