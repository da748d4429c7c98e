import type { Logger } from '../logger';
import type { Metrics } from '../metrics';
import type { DesiredState, SceneChange } from './state';
import { sleep } from '../time';

/** The part of obs-websocket-js's client that idolcast uses. */
interface ObsClient {
  connect(url: string, password?: string, identification?: { rpcVersion: number; eventSubscriptions?: number }): Promise<{ obsWebSocketVersion?: string; negotiatedRpcVersion?: number }>;
  disconnect(): Promise<void>;
  call(requestType: string, requestData?: Record<string, unknown>): Promise<Record<string, unknown> | undefined>;
  on(event: string, fn: (data: { code?: number; message?: string; sceneName?: string }) => void): unknown;
  removeAllListeners(): unknown;
}
// The JSON flavour of the v5 protocol (the package's default `require` entry speaks MessagePack).
// eslint-disable-next-line @typescript-eslint/no-require-imports -- `import` cannot name the ./json export under moduleResolution node
const { OBSWebSocket } = require('obs-websocket-js/json') as { OBSWebSocket: new () => ObsClient };

/** obs-websocket's close code for a rejected password (or a missing one when OBS asks for it). */
export const AUTH_FAILED = 4009;
/** EventSubscription.Scenes: enough to follow program scene changes made by hand in OBS. */
const SCENE_EVENTS = 1 << 2;
/** RequestStatus.ResourceNotFound: a scene, source, input or filter OBS does not have. */
const NOT_FOUND = 600;

export interface ObsDriverOptions {
  url: string;
  /** Never logged. */
  password: string;
  minSceneDwellMs: number;
  reconnectBaseMs: number;
  reconnectCapMs: number;
  authRetryMs: number;
  requestTimeoutMs: number;
  log: Logger;
  metrics: Metrics;
  /** The desired state to re-apply after each (re)connect (read from Redis). */
  desired: () => Promise<DesiredState>;
}

export interface ApplyResult {
  /** `offline`: OBS is not connected; the state is kept and applied when it is. */
  obs: 'applied' | 'offline';
  /** A program scene change that came within the dwell time waits this long (the latest one wins). */
  sceneDeferredMs?: number;
  /** Requests OBS refused (an unknown scene, source, input or filter): logged, not retried. */
  problems: string[];
}

class ObsRequestError extends Error {
  constructor(
    readonly request: string,
    readonly code: number,
    comment: string,
  ) {
    super(`${request}: ${comment || `OBS answered ${code}`}`);
  }
}

/**
 * One connection to OBS over obs-websocket v5, shared by a scene worker process. It connects
 * with the authentication handshake, reconnects with capped, jittered exponential backoff when
 * OBS goes away, and re-applies the desired state after every (re)connect. A wrong password is
 * reported once, clearly, and retried slowly. Program scene changes keep a minimum dwell time:
 * one that comes too early is applied when the dwell is over (the latest one wins).
 * Every operation on OBS runs one at a time, in order.
 */
export class ObsDriver {
  private client?: ObsClient;
  private closed?: Promise<never>;
  private readonly abort = new AbortController();
  private loop?: Promise<void>;
  private chain: Promise<unknown> = Promise.resolve();
  /** The scene OBS shows, as last seen or set. */
  private programScene?: string;
  private lastSceneChangeAt = -Infinity;
  private pendingScene?: string;
  private dwellTimer?: NodeJS.Timeout;
  private readonly itemIds = new Map<string, number>();
  private authFailing = false;

  constructor(private readonly opts: ObsDriverOptions) {}

  get connected(): boolean {
    return this.client !== undefined;
  }

  start(): void {
    this.loop ??= this.run();
  }

  async stop(): Promise<void> {
    this.abort.abort();
    clearTimeout(this.dwellTimer);
    const c = this.client;
    this.client = undefined;
    await c?.disconnect().catch(() => {});
    await this.loop;
  }

  /** Apply one scene job's change (sources in the desired scene of `state`). Never throws for OBS's sake. */
  apply(change: SceneChange, state: DesiredState): Promise<ApplyResult> {
    return this.serial(async () => {
      const result: ApplyResult = { obs: 'offline', problems: [] };
      if (!this.client) return result;
      try {
        if (change.scene !== undefined) {
          const deferred = await this.setScene(change.scene, false, result.problems);
          if (deferred) result.sceneDeferredMs = deferred;
        }
        const full: DesiredState = { sources: change.sources ?? {}, texts: change.texts ?? {}, filters: change.filters ?? [], streaming: change.streaming, scene: state.scene };
        await this.applyParts(full, result.problems);
        for (const input of change.media ?? []) {
          await this.tolerant(result.problems, () => this.call('TriggerMediaInputAction', { inputName: input, mediaAction: 'OBS_WEBSOCKET_MEDIA_INPUT_ACTION_RESTART' }));
        }
        result.obs = 'applied';
      } catch (err) {
        // The connection went away mid-way: the state is in Redis and is re-applied on reconnect.
        this.opts.log.warn({ err: (err as Error).message }, 'OBS request failed: the state is re-applied when OBS is back');
      }
      return result;
    });
  }

  private serial<T>(fn: () => Promise<T>): Promise<T> {
    const next = this.chain.then(fn, fn);
    this.chain = next.catch(() => {});
    return next;
  }

  private async run(): Promise<void> {
    const { log, metrics, url } = this.opts;
    let failures = 0;
    while (!this.abort.signal.aborted) {
      const client = new OBSWebSocket();
      let wait: number;
      try {
        let timer: NodeJS.Timeout | undefined;
        const hello = await Promise.race([
          client.connect(url, this.opts.password || undefined, { rpcVersion: 1, eventSubscriptions: SCENE_EVENTS }),
          new Promise<never>((_, reject) => {
            timer = setTimeout(() => reject(new Error(`no handshake within ${this.opts.requestTimeoutMs} ms`)), this.opts.requestTimeoutMs);
          }),
        ]).finally(() => clearTimeout(timer));
        metrics.obsConnects.inc({ outcome: 'ok' });
        if (this.abort.signal.aborted) {
          await client.disconnect().catch(() => {});
          break;
        }
        const closed = new Promise<{ code?: number; message?: string }>((resolve) => client.on('ConnectionClosed', resolve));
        this.closed = closed.then((e) => Promise.reject(new Error(`OBS connection closed (${e.code ?? '?'})`)));
        this.closed.catch(() => {});
        client.on('CurrentProgramSceneChanged', (e) => (this.programScene = e.sceneName));
        this.client = client;
        this.itemIds.clear();
        metrics.obsConnected.set(1);
        log.info({ url, obsWebSocketVersion: hello.obsWebSocketVersion, rpcVersion: hello.negotiatedRpcVersion, afterFailures: failures }, 'OBS connected');
        failures = 0;
        this.authFailing = false;
        await this.serial(() => this.reapply());
        const e = await closed;
        this.client = undefined;
        metrics.obsConnected.set(0);
        if (this.abort.signal.aborted) break;
        log.warn({ url, code: e.code, reason: e.message }, 'OBS connection lost: reconnecting');
        wait = this.backoff(0);
      } catch (err) {
        client.removeAllListeners();
        void client.disconnect().catch(() => {});
        this.client = undefined;
        metrics.obsConnected.set(0);
        if (this.abort.signal.aborted) break;
        const code = (err as { code?: number }).code;
        failures++;
        if (code === AUTH_FAILED) {
          metrics.obsConnects.inc({ outcome: 'auth_failed' });
          wait = this.opts.authRetryMs;
          // One clear line per run of failures; the retries after it are quiet and slow.
          if (!this.authFailing) log.error({ url, retryInMs: wait }, 'OBS rejected the password: check OBS_PASSWORD (obs.password) against OBS → Tools → WebSocket Server Settings');
          else log.debug({ url, failures }, 'OBS still rejects the password');
          this.authFailing = true;
        } else {
          metrics.obsConnects.inc({ outcome: 'error' });
          wait = this.backoff(failures);
          const fields = { url, err: (err as Error).message || String(code ?? 'closed'), failures, retryInMs: Math.round(wait) };
          // Quiet while OBS is simply not running; a warning now and then.
          if (failures === 1 || failures % 20 === 0) log.warn(fields, 'cannot reach OBS: retrying');
          else log.debug(fields, 'cannot reach OBS: retrying');
        }
      }
      await sleep(wait, this.abort.signal);
    }
    metrics.obsConnected.set(0);
  }

  /** Capped exponential backoff with jitter (half to full of the capped delay). */
  private backoff(failures: number): number {
    const capped = Math.min(this.opts.reconnectCapMs, this.opts.reconnectBaseMs * 2 ** Math.min(failures, 20));
    return capped * (0.5 + Math.random() * 0.5);
  }

  /** After a (re)connect: the whole desired state, scene first, without waiting for the dwell. */
  private async reapply(): Promise<void> {
    const problems: string[] = [];
    try {
      const state = await this.opts.desired();
      const current = await this.call('GetCurrentProgramScene');
      this.programScene = (current?.currentProgramSceneName ?? current?.sceneName) as string | undefined;
      if (state.scene !== undefined) await this.setScene(state.scene, true, problems);
      await this.applyParts(state, problems);
      this.opts.log.info({ scene: state.scene, sources: Object.keys(state.sources).length, texts: Object.keys(state.texts).length, filters: state.filters.length, streaming: state.streaming, problems }, 'OBS state re-applied');
    } catch (err) {
      this.opts.log.warn({ err: (err as Error).message }, 'could not re-apply the scene state to OBS');
    }
  }

  /** Sources (in the desired scene), texts, filters and streaming. */
  private async applyParts(s: DesiredState, problems: string[]): Promise<void> {
    const sceneName = s.scene ?? this.programScene;
    for (const [source, enabled] of Object.entries(s.sources)) {
      if (!sceneName) {
        problems.push(`source ${source}: no scene known`);
        continue;
      }
      await this.tolerant(problems, async () => {
        const id = await this.sceneItemId(sceneName, source);
        await this.call('SetSceneItemEnabled', { sceneName, sceneItemId: id, sceneItemEnabled: enabled });
      });
    }
    for (const [inputName, text] of Object.entries(s.texts)) {
      await this.tolerant(problems, () => this.call('SetInputSettings', { inputName, inputSettings: { text }, overlay: true }));
    }
    for (const f of s.filters) {
      await this.tolerant(problems, () => this.call('SetSourceFilterEnabled', { sourceName: f.source, filterName: f.filter, filterEnabled: f.enabled }));
    }
    if (s.streaming !== undefined) {
      await this.tolerant(problems, async () => {
        const status = await this.call('GetStreamStatus');
        if (Boolean(status?.outputActive) !== s.streaming) await this.call(s.streaming ? 'StartStream' : 'StopStream');
      });
    }
  }

  private async sceneItemId(sceneName: string, sourceName: string): Promise<number> {
    const key = JSON.stringify([sceneName, sourceName]);
    const cached = this.itemIds.get(key);
    if (cached !== undefined) return cached;
    const res = await this.call('GetSceneItemId', { sceneName, sourceName });
    const id = Number(res?.sceneItemId);
    this.itemIds.set(key, id);
    return id;
  }

  /**
   * Switch the program scene, honouring the dwell time unless `now`. Returns how long a too-early
   * change waits (0 when applied or already showing). A newer change replaces a waiting one.
   */
  private async setScene(scene: string, now: boolean, problems: string[]): Promise<number> {
    if (scene === this.programScene) {
      this.pendingScene = undefined; // the latest wish is what is showing: nothing waits
      return 0;
    }
    const wait = this.lastSceneChangeAt + this.opts.minSceneDwellMs - Date.now();
    if (!now && wait > 0) {
      this.pendingScene = scene;
      this.dwellTimer ??= setTimeout(() => {
        this.dwellTimer = undefined;
        void this.serial(async () => {
          const next = this.pendingScene;
          this.pendingScene = undefined;
          if (next === undefined || !this.client) return; // offline: the reconnect re-applies Redis's scene
          const p: string[] = [];
          await this.setScene(next, false, p).catch((err: Error) => this.opts.log.warn({ err: err.message }, 'deferred scene change failed'));
          this.opts.log.info({ scene: next, problems: p }, 'deferred scene change applied');
        });
      }, wait);
      this.opts.log.info({ scene, waitMs: wait }, 'scene change waits for the dwell time');
      return wait;
    }
    this.pendingScene = undefined;
    await this.tolerant(problems, async () => {
      await this.call('SetCurrentProgramScene', { sceneName: scene });
      this.programScene = scene;
      this.lastSceneChangeAt = Date.now();
    });
    return 0;
  }

  /** Run a request; OBS refusing it (unknown name, bad state) is recorded, a lost connection throws. */
  private async tolerant(problems: string[], fn: () => Promise<unknown>): Promise<void> {
    try {
      await fn();
    } catch (err) {
      if (!(err instanceof ObsRequestError)) throw err;
      problems.push(err.message);
      this.opts.log.warn({ request: err.request, code: err.code, err: err.message, notFound: err.code === NOT_FOUND }, 'OBS refused a request');
    }
  }

  /** One request, bounded by the request timeout and by the connection closing. */
  private async call(requestType: string, requestData?: Record<string, unknown>): Promise<Record<string, unknown> | undefined> {
    const client = this.client;
    if (!client || !this.closed) throw new Error('OBS is not connected');
    const started = performance.now();
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`${requestType}: no answer from OBS within ${this.opts.requestTimeoutMs} ms`)), this.opts.requestTimeoutMs);
    });
    let status = 'ok';
    try {
      return await Promise.race([client.call(requestType, requestData), timeout, this.closed]);
    } catch (err) {
      const code = (err as { code?: number }).code;
      // obs-websocket-js rejects with the request status code (100–999) when OBS answers with a failure.
      if (typeof code === 'number' && code >= 100 && code < 1000) {
        status = 'refused';
        throw new ObsRequestError(requestType, code, (err as Error).message);
      }
      status = 'error';
      throw err;
    } finally {
      clearTimeout(timer);
      this.opts.metrics.obsRequests.observe({ request: requestType, status }, (performance.now() - started) / 1000);
    }
  }
}
