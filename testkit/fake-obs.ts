import { createHash, randomBytes } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import { WebSocketServer, type WebSocket } from 'ws';
import { RequestLog } from './request-log';

/** A request the loopback OBS received, with when (ms epoch, and performance.now()). */
export interface ObsRequest {
  type: string;
  data: Record<string, unknown>;
  at: number;
  hr: number;
}

const sha256b64 = (s: string) => createHash('sha256').update(s).digest('base64');
/** obs-websocket v5: base64(sha256(base64(sha256(password + salt)) + challenge)). */
export function obsAuth(password: string, salt: string, challenge: string): string {
  return sha256b64(sha256b64(password + salt) + challenge);
}

/**
 * A loopback obs-websocket v5 server of our own (JSON subprotocol): Hello with an
 * authentication challenge and salt, Identify checked against the password (close 4009 when
 * wrong), Identified, Request → RequestResponse (opcodes 6/7) over a small model of OBS (scenes
 * with items, inputs, filters, the stream), CurrentProgramSceneChanged events, every request
 * recorded, and sockets that can be dropped.
 */
export class FakeObs {
  private readonly log = new RequestLog<ObsRequest>('OBS');
  /** Every request received, in order. */
  readonly requests = this.log.all;
  /** WebSocket connections opened (each an attempt by a client). */
  connections = 0;
  /** Identifies refused for a wrong or missing password. */
  authFailures = 0;
  password: string;
  programScene: string;
  readonly scenes: Record<string, string[]>;
  readonly itemEnabled = new Map<string, boolean>();
  readonly inputs = new Map<string, Record<string, unknown>>();
  readonly filters = new Map<string, boolean>();
  readonly mediaRestarts: string[] = [];
  streaming = false;
  readonly ready: Promise<void>;
  private readonly wss: WebSocketServer;
  private readonly sockets = new Set<WebSocket>();

  constructor(opts: { port?: number; password?: string; scenes?: Record<string, string[]>; inputs?: string[]; filters?: [string, string][] } = {}) {
    this.password = opts.password ?? '';
    this.scenes = opts.scenes ?? { Starting: ['Logo'], Live: ['Avatar', 'Chat', 'Caption'], BRB: ['Loop'] };
    this.programScene = Object.keys(this.scenes)[0]!;
    for (const scene of Object.values(this.scenes)) for (const s of scene) this.itemEnabled.set(s, true);
    for (const i of opts.inputs ?? ['Caption', 'Loop', 'Title']) this.inputs.set(i, { text: '' });
    for (const [s, f] of opts.filters ?? [['Avatar', 'Glow']]) this.filters.set(`${s}/${f}`, false);
    this.wss = new WebSocketServer({ host: '127.0.0.1', port: opts.port ?? 0, handleProtocols: (protocols) => (protocols.has('obswebsocket.json') ? 'obswebsocket.json' : false) });
    this.ready = new Promise((resolve) => this.wss.once('listening', () => resolve()));
    this.wss.on('connection', (ws) => this.accept(ws));
  }

  get url(): string {
    return `ws://127.0.0.1:${(this.wss.address() as AddressInfo).port}`;
  }

  /** Identified clients right now. */
  get clients(): number {
    return [...this.sockets].filter((s) => (s as WebSocket & { identified?: boolean }).identified).length;
  }

  /** Drop every connection without a closing handshake, as a crashing OBS would. */
  dropAll(): void {
    for (const ws of this.sockets) ws.terminate();
  }

  /** Resolve with the first request (already received from index `since`, or to come) matching `match`. */
  waitFor(match: (r: ObsRequest) => boolean, timeoutMs = 10000, since = 0): Promise<ObsRequest> {
    return this.log.waitFor(match, timeoutMs, since);
  }

  /** Requests of one type (optionally from index `since`). */
  of(type: string, since = 0): ObsRequest[] {
    return this.log.of(type, since);
  }

  async close(): Promise<void> {
    for (const ws of this.sockets) ws.terminate();
    await new Promise<void>((r) => this.wss.close(() => r()));
  }

  private accept(ws: WebSocket & { identified?: boolean }): void {
    this.connections++;
    this.sockets.add(ws);
    ws.on('close', () => this.sockets.delete(ws));
    ws.on('error', () => {});
    const challenge = randomBytes(32).toString('base64');
    const salt = randomBytes(32).toString('base64');
    const send = (op: number, d: unknown) => ws.readyState === ws.OPEN && ws.send(JSON.stringify({ op, d }));
    send(0, { obsWebSocketVersion: '5.5.0', rpcVersion: 1, ...(this.password && { authentication: { challenge, salt } }) });
    ws.on('message', (raw) => {
      let msg: { op?: number; d?: Record<string, unknown> };
      try {
        msg = JSON.parse(String(raw)) as typeof msg;
      } catch {
        ws.close(4002, 'Message decode error');
        return;
      }
      const d = msg.d ?? {};
      if (msg.op === 1) {
        if (this.password && d.authentication !== obsAuth(this.password, salt, challenge)) {
          this.authFailures++;
          ws.close(4009, 'Authentication failed.');
          return;
        }
        ws.identified = true;
        send(2, { negotiatedRpcVersion: 1 });
        return;
      }
      if (!ws.identified) {
        ws.close(4007, 'Not identified');
        return;
      }
      if (msg.op === 6) {
        const type = String(d.requestType);
        const data = (d.requestData ?? {}) as Record<string, unknown>;
        const req: ObsRequest = { type, data, at: Date.now(), hr: performance.now() };
        this.log.record(req);
        const { code, comment, responseData } = this.handle(type, data);
        send(7, { requestType: type, requestId: d.requestId, requestStatus: { result: code === 100, code, ...(comment && { comment }) }, ...(responseData && { responseData }) });
      }
    });
  }

  private broadcast(eventType: string, eventData: Record<string, unknown>): void {
    for (const ws of this.sockets) if ((ws as WebSocket & { identified?: boolean }).identified) ws.send(JSON.stringify({ op: 5, d: { eventType, eventIntent: 1 << 2, eventData } }));
  }

  private handle(type: string, d: Record<string, unknown>): { code: number; comment?: string; responseData?: Record<string, unknown> } {
    const ok = (responseData?: Record<string, unknown>) => ({ code: 100, responseData });
    const notFound = (what: string) => ({ code: 600, comment: `No source was found by the name of \`${what}\`.` });
    switch (type) {
      case 'GetVersion':
        return ok({ obsVersion: '31.0.0', obsWebSocketVersion: '5.5.0', rpcVersion: 1 });
      case 'GetCurrentProgramScene':
        return ok({ sceneName: this.programScene, currentProgramSceneName: this.programScene });
      case 'SetCurrentProgramScene': {
        const name = String(d.sceneName);
        if (!(name in this.scenes)) return notFound(name);
        this.programScene = name;
        this.broadcast('CurrentProgramSceneChanged', { sceneName: name });
        return ok();
      }
      case 'GetSceneItemId': {
        const items = this.scenes[String(d.sceneName)];
        const i = items?.indexOf(String(d.sourceName)) ?? -1;
        return i < 0 ? notFound(String(d.sourceName)) : ok({ sceneItemId: i + 1 });
      }
      case 'SetSceneItemEnabled': {
        const source = this.scenes[String(d.sceneName)]?.[Number(d.sceneItemId) - 1];
        if (!source) return notFound(`item ${String(d.sceneItemId)}`);
        this.itemEnabled.set(source, Boolean(d.sceneItemEnabled));
        return ok();
      }
      case 'SetInputSettings': {
        const input = this.inputs.get(String(d.inputName));
        if (!input) return notFound(String(d.inputName));
        Object.assign(input, d.inputSettings);
        return ok();
      }
      case 'TriggerMediaInputAction':
        if (!this.inputs.has(String(d.inputName))) return notFound(String(d.inputName));
        this.mediaRestarts.push(String(d.inputName));
        return ok();
      case 'SetSourceFilterEnabled': {
        const key = `${String(d.sourceName)}/${String(d.filterName)}`;
        if (!this.filters.has(key)) return notFound(key);
        this.filters.set(key, Boolean(d.filterEnabled));
        return ok();
      }
      case 'GetStreamStatus':
        return ok({ outputActive: this.streaming, outputReconnecting: false, outputTimecode: '00:00:00.000', outputDuration: 0, outputBytes: 0 });
      case 'StartStream':
        if (this.streaming) return { code: 500, comment: 'The stream output is already running.' };
        this.streaming = true;
        return ok();
      case 'StopStream':
        if (!this.streaming) return { code: 501, comment: 'The stream output is not running.' };
        this.streaming = false;
        return ok();
      default:
        return { code: 204, comment: `Your request type \`${type}\` is not valid.` };
    }
  }
}
