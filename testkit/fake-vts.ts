import { randomBytes } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import { WebSocketServer, type WebSocket } from 'ws';
import { RequestLog } from './request-log';

/** A request the loopback VTube Studio received, with when (ms epoch). */
export interface VtsRequest {
  type: string;
  data: Record<string, unknown>;
  at: number;
}

export interface FakeHotkey {
  name: string;
  type: string;
  file: string;
  hotkeyID: string;
}

/**
 * How the loopback VTS behaves: `normal`; `deny` (the user clicks "Deny": the token request gets
 * APIError 50); `garbage` (every answer is nonsense: not JSON, or JSON for no request); `silent`
 * (it takes requests and never answers, as a hung VTS does).
 */
export type FakeVtsMode = 'normal' | 'deny' | 'garbage' | 'silent';

type Session = WebSocket & { authed?: boolean; token?: string };

type Answer = { type: string; data: Record<string, unknown> } | { error: number; message: string };

/**
 * A loopback VTube Studio of our own speaking the public plugin API over a real WebSocket (the
 * envelope, AuthenticationTokenRequest/AuthenticationRequest, HotkeysInCurrentModelRequest,
 * HotkeyTriggerRequest, ExpressionStateRequest, ExpressionActivationRequest,
 * InjectParameterDataRequest, APIError with the documented error ids), over a small model with
 * hotkeys, expression files and parameters. It records every request, the injected parameter
 * values and the triggered hotkeys, and can refuse the token, drop connections, answer garbage or
 * never answer.
 */
export class FakeVts {
  private readonly log = new RequestLog<VtsRequest>('VTS');
  /** Every request received, in order. */
  readonly requests = this.log.all;
  readonly injected: { at: number; id: string; value: number; mode: string; faceFound: unknown }[] = [];
  readonly triggered: { at: number; hotkeyID: string; name: string }[] = [];
  /** Tokens granted (a token is valid until `revokeAll`). */
  readonly tokens = new Set<string>();
  readonly expressions = new Map<string, boolean>();
  readonly parameters = new Set(['MouthOpen', 'MouthSmile', 'FaceAngleX']);
  readonly hotkeys: FakeHotkey[];
  mode: FakeVtsMode = 'normal';
  connections = 0;
  readonly ready: Promise<void>;
  private readonly wss: WebSocketServer;
  private readonly sockets = new Set<Session>();

  constructor(opts: { port?: number; hotkeys?: FakeHotkey[]; expressionFiles?: string[] } = {}) {
    this.hotkeys = opts.hotkeys ?? [
      { name: 'Smile', type: 'ToggleExpression', file: 'Smile.exp3.json', hotkeyID: 'hk-smile' },
      { name: 'Wave', type: 'TriggerAnimation', file: 'Wave.motion3.json', hotkeyID: 'hk-wave' },
      { name: 'Clear', type: 'RemoveAllExpressions', file: '', hotkeyID: 'hk-clear' },
    ];
    for (const f of opts.expressionFiles ?? ['Smile.exp3.json', 'Sad.exp3.json', 'Angry.exp3.json']) this.expressions.set(f, false);
    this.wss = new WebSocketServer({ host: '127.0.0.1', port: opts.port ?? 0 });
    this.ready = new Promise((resolve) => this.wss.once('listening', () => resolve()));
    this.wss.on('connection', (ws) => this.accept(ws));
  }

  get url(): string {
    return `ws://127.0.0.1:${(this.wss.address() as AddressInfo).port}`;
  }

  /** Authenticated sessions right now. */
  get sessions(): number {
    return [...this.sockets].filter((s) => s.authed).length;
  }

  /** The expression files active now. */
  get active(): string[] {
    return [...this.expressions].filter(([, on]) => on).map(([f]) => f);
  }

  /** Drop every connection without a closing handshake; `restart` also resets the model, as VTS restarting does. */
  dropAll(opts: { restart?: boolean } = {}): void {
    for (const ws of this.sockets) ws.terminate();
    if (opts.restart) for (const f of this.expressions.keys()) this.expressions.set(f, false);
  }

  /** The user revokes the plugin in VTS: every token stops working, and open sessions get APIError 50 from then on. */
  revokeAll(): void {
    this.tokens.clear();
  }

  /** Resolve with the first request (already received from index `since`, or to come) matching `match`. */
  waitFor(match: (r: VtsRequest) => boolean, timeoutMs = 15000, since = 0): Promise<VtsRequest> {
    return this.log.waitFor(match, timeoutMs, since);
  }

  /** Requests of one type (optionally from index `since`). */
  of(type: string, since = 0): VtsRequest[] {
    return this.log.of(type, since);
  }

  async close(): Promise<void> {
    for (const ws of this.sockets) ws.terminate();
    await new Promise<void>((r) => this.wss.close(() => r()));
  }

  private accept(ws: Session): void {
    this.connections++;
    this.sockets.add(ws);
    ws.on('close', () => this.sockets.delete(ws));
    ws.on('error', () => {});
    ws.on('message', (raw) => {
      let msg: { apiName?: unknown; requestID?: unknown; messageType?: unknown; data?: unknown };
      try {
        msg = JSON.parse(String(raw)) as typeof msg;
      } catch {
        return this.send(ws, 'x', { error: 2, message: 'JSON invalid' });
      }
      const requestID = typeof msg.requestID === 'string' ? msg.requestID : randomBytes(8).toString('hex');
      const type = String(msg.messageType ?? '');
      const data = (msg.data && typeof msg.data === 'object' ? msg.data : {}) as Record<string, unknown>;
      const req: VtsRequest = { type, data, at: Date.now() };
      this.log.record(req);
      if (this.mode === 'silent') return;
      if (this.mode === 'garbage') {
        ws.send(Math.random() < 0.5 ? '<html>502 Bad Gateway' : JSON.stringify({ apiName: 'VTubeStudioPublicAPI', requestID: `${requestID}-not-yours`, messageType: 'APIStateResponse', data: {} }));
        return;
      }
      if (msg.apiName !== 'VTubeStudioPublicAPI') return this.send(ws, requestID, { error: 3, message: 'API name invalid' });
      this.send(ws, requestID, this.handle(ws, type, data));
    });
  }

  private send(ws: WebSocket, requestID: string, a: Answer): void {
    const body = 'error' in a ? { messageType: 'APIError', data: { errorID: a.error, message: a.message } } : { messageType: a.type, data: a.data };
    if (ws.readyState === ws.OPEN) ws.send(JSON.stringify({ apiName: 'VTubeStudioPublicAPI', apiVersion: '1.0', timestamp: Date.now(), requestID, ...body }));
  }

  private handle(ws: Session, type: string, d: Record<string, unknown>): Answer {
    const ok = (data: Record<string, unknown> = {}) => ({ type: type.replace(/Request$/, 'Response'), data });
    switch (type) {
      case 'APIStateRequest':
        return ok({ active: true, vTubeStudioVersion: '1.28.15', currentSessionAuthenticated: Boolean(ws.authed) });
      case 'AuthenticationTokenRequest': {
        if (typeof d.pluginName !== 'string' || d.pluginName.length < 3 || d.pluginName.length > 32) return { error: 52, message: 'Plugin name invalid' };
        if (this.mode === 'deny') return { error: 50, message: 'User has denied API access for your plugin.' };
        const token = randomBytes(32).toString('hex');
        this.tokens.add(token);
        return ok({ authenticationToken: token });
      }
      case 'AuthenticationRequest':
        if (typeof d.authenticationToken !== 'string' || !d.authenticationToken) return { error: 100, message: 'Authentication token missing' };
        ws.authed = this.tokens.has(d.authenticationToken);
        ws.token = d.authenticationToken;
        return ok({ authenticated: ws.authed, reason: ws.authed ? 'Token valid. The plugin is authenticated for the duration of this session.' : 'Token invalid.' });
    }
    if (!ws.authed) return { error: 8, message: 'Request requires authentication' };
    if (!this.tokens.has(ws.token!)) return { error: 50, message: 'User has denied API access for your plugin.' };
    return this.model(type, d, ok);
  }

  private model(type: string, d: Record<string, unknown>, ok: (data?: Record<string, unknown>) => Answer): Answer {
    switch (type) {
      case 'HotkeysInCurrentModelRequest':
        return ok({ modelLoaded: true, modelName: 'Loopback Model', modelID: 'loopback', availableHotkeys: this.hotkeys.map((h) => ({ ...h, description: h.type, keyCombination: [], onScreenButtonID: -1 })) });
      case 'HotkeyTriggerRequest': {
        const want = String(d.hotkeyID ?? '');
        const hk = this.hotkeys.find((h) => h.hotkeyID === want) ?? this.hotkeys.find((h) => h.name.toLowerCase() === want.toLowerCase());
        if (!hk) return { error: 202, message: 'Hotkey not found in model' };
        this.triggered.push({ at: Date.now(), hotkeyID: hk.hotkeyID, name: hk.name });
        if (hk.type === 'ToggleExpression') this.expressions.set(hk.file, !this.expressions.get(hk.file));
        if (hk.type === 'RemoveAllExpressions') for (const f of this.expressions.keys()) this.expressions.set(f, false);
        return ok({ hotkeyID: hk.hotkeyID });
      }
      case 'ExpressionStateRequest':
        return ok({ modelLoaded: true, modelName: 'Loopback Model', modelID: 'loopback', expressions: [...this.expressions].map(([file, active]) => ({ name: file.replace(/\.exp3\.json$/, ''), file, active })) });
      case 'ExpressionActivationRequest': {
        const file = String(d.expressionFile ?? '');
        if (!file.endsWith('.exp3.json')) return { error: 650, message: 'Invalid expression file name' };
        if (!this.expressions.has(file)) return { error: 651, message: 'Expression file not found in model' };
        this.expressions.set(file, d.active === true);
        return ok();
      }
      case 'InjectParameterDataRequest':
        return this.inject(d, ok);
      default:
        return { error: 7, message: `Request type unknown: ${type}` };
    }
  }

  private inject(d: Record<string, unknown>, ok: () => Answer): Answer {
    const values = Array.isArray(d.parameterValues) ? (d.parameterValues as { id?: unknown; value?: unknown }[]) : [];
    if (!values.length) return { error: 450, message: 'No data provided' };
    for (const v of values) {
      if (!this.parameters.has(String(v.id))) return { error: 453, message: `Parameter ${String(v.id)} not found` };
      if (typeof v.value !== 'number' || Math.abs(v.value) > 1_000_000) return { error: 451, message: 'Value invalid' };
    }
    const mode = d.mode === undefined ? 'set' : String(d.mode);
    if (mode !== 'set' && mode !== 'add') return { error: 455, message: 'Mode unknown' };
    for (const v of values) this.injected.push({ at: Date.now(), id: String(v.id), value: v.value as number, mode, faceFound: d.faceFound });
    return ok();
  }
}
