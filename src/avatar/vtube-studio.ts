import type { Redis } from '../redis';
import type { VtubeStudioConfig } from '../config/vtubestudio.schema';
import { redactUrl, type Logger } from '../logger';
import { sleep } from '../time';
import { mouthFromPcm } from './animator';
import { resolveMoves, showMove, type VtsMove } from './vts-expressions';
import { VTS_ERROR, VtsApiError, VtsSession } from './vts-session';

/** The user clicked "Deny" in VTS's plugin popup: asked again only after `deniedRetryMs`. */
class VtsDenied extends Error {
  override name = 'VtsDenied';
}

export interface VtsDriverOptions {
  cfg: VtubeStudioConfig;
  redis: Redis;
  /** Where the plugin token is kept (it outlives restarts and takeovers: VTS asks the user once). Never logged. */
  tokenKey: string;
  log: Logger;
  /** The channel's expression now and for how much longer (from Redis), re-applied after each (re)connect. */
  desired: () => Promise<{ expression: string; holdMs: number } | undefined>;
  /** The speech on air: the samples due in [fromMs, toMs) of the wall clock. */
  speech: { window(fromMs: number, toMs: number): Int16Array };
  sampleRate: number;
}

/**
 * The channel's Live2D model in VTube Studio, driven by the active broadcaster over the public
 * plugin API: it asks VTS for a plugin token once (the user clicks "Allow"; the token is kept in
 * Redis), authenticates each session with it (asking afresh when VTS no longer accepts it),
 * injects the mouth opening from the speech on air at `injectPerSecond`, and shows the channel's
 * expression. It reconnects with capped, jittered exponential backoff and re-applies the
 * expression after every (re)connect. A denied plugin is said once, clearly, and asked again
 * slowly; nothing here ever stops the broadcast.
 */
export class VtubeStudioDriver {
  /** The authenticated session (none while connecting, authenticating or away). */
  private session?: VtsSession;
  /** The connection being made or used: dropped by `stop` even while a token popup waits. */
  private socket?: VtsSession;
  private readonly abort = new AbortController();
  private loop?: Promise<void>;
  private chain: Promise<unknown> = Promise.resolve();
  private moves = new Map<string, VtsMove>();
  private expression = 'neutral';
  private resetTimer?: NodeJS.Timeout;
  private injectTimer?: NodeJS.Timeout;
  private injectBusy = false;
  private injectProblem?: number;
  private mouth = 0;
  private heardUpTo = 0;
  private denied = false;
  /** Mouth values VTS accepted (for tests and the status). */
  injected = 0;

  /** Every line says which VTS (the address without credentials, should it carry any). */
  private readonly log: Logger;

  constructor(private readonly opts: VtsDriverOptions) {
    this.log = opts.log.child({ url: redactUrl(opts.cfg.url) });
  }

  get connected(): boolean {
    return this.session !== undefined;
  }

  start(): void {
    this.loop ??= this.run();
  }

  async stop(): Promise<void> {
    this.abort.abort();
    clearTimeout(this.resetTimer);
    this.stopInjecting();
    this.socket?.drop();
    await this.loop;
  }

  /** Show `expression` for `holdMs` (then neutral); offline, it is shown on reconnect (Redis holds it). */
  setExpression(expression: string, holdMs: number): Promise<void> {
    this.hold(expression, holdMs);
    return this.serial(() => this.apply(true));
  }

  private hold(expression: string, holdMs: number): void {
    clearTimeout(this.resetTimer);
    this.expression = holdMs > 0 ? expression : 'neutral';
    // (a timer holds at most ~24.8 days; a longer hold is that long)
    if (this.expression !== 'neutral') this.resetTimer = setTimeout(() => void this.setExpression('neutral', 0), Math.min(holdMs, 2 ** 31 - 1));
  }

  private serial<T>(fn: () => Promise<T>): Promise<T> {
    const next = this.chain.then(fn, fn);
    this.chain = next.catch(() => {});
    return next;
  }

  private async run(): Promise<void> {
    const { cfg } = this.opts;
    let failures = 0;
    while (!this.abort.signal.aborted) {
      const session = (this.socket = new VtsSession(cfg.url, cfg.requestTimeoutMs));
      let wait: number;
      try {
        await session.opened;
        await this.authenticate(session);
        if (this.abort.signal.aborted) break;
        this.log.info({ afterFailures: failures }, 'VTube Studio connected');
        failures = 0;
        this.denied = false;
        this.session = session;
        await this.serial(() => this.reapply(session));
        this.startInjecting(session);
        const closed = await session.closed;
        this.stopInjecting();
        this.session = undefined;
        if (this.abort.signal.aborted) break;
        this.log.warn({ code: closed.code, garbage: session.garbage }, 'VTube Studio connection lost: reconnecting');
        wait = this.backoff(0);
      } catch (err) {
        session.drop();
        this.stopInjecting();
        this.session = undefined;
        if (this.abort.signal.aborted) break;
        failures++;
        wait = err instanceof VtsDenied ? cfg.deniedRetryMs : this.backoff(failures);
        this.reportFailure(err as Error, failures, wait);
      }
      await sleep(wait, this.abort.signal);
    }
    this.socket?.drop();
  }

  /** One clear line for a denial; a VTS that is not running is quiet, with a warning now and then. */
  private reportFailure(err: Error, failures: number, wait: number): void {
    const { cfg } = this.opts;
    if (err instanceof VtsDenied) {
      if (!this.denied) this.log.error({ plugin: cfg.pluginName, retryInMs: wait }, 'VTube Studio: the plugin was denied; allow it in VTS (a popup asks again later) or turn vtubeStudio off');
      else this.log.debug({ failures }, 'VTube Studio still denies the plugin');
      this.denied = true;
      return;
    }
    const fields = { err: err.message, failures, retryInMs: Math.round(wait) };
    if (failures === 1 || failures % 20 === 0) this.log.warn(fields, 'cannot reach VTube Studio: retrying');
    else this.log.debug(fields, 'cannot reach VTube Studio: retrying');
  }

  /** Capped exponential backoff with jitter (half to full of the capped delay). */
  private backoff(failures: number): number {
    const { reconnectBaseMs, reconnectCapMs } = this.opts.cfg;
    return Math.min(reconnectCapMs, reconnectBaseMs * 2 ** Math.min(failures, 20)) * (0.5 + Math.random() * 0.5);
  }

  /** The stored token, or a new one from the user; a stored token VTS no longer accepts is replaced once. */
  private async authenticate(s: VtsSession): Promise<void> {
    const { cfg, redis, tokenKey } = this.opts;
    let token = await redis.get(tokenKey);
    for (let fresh = false; ; fresh = true) {
      token ??= await this.requestToken(s);
      const res = await s.request('AuthenticationRequest', { pluginName: cfg.pluginName, pluginDeveloper: cfg.pluginDeveloper, authenticationToken: token });
      if (res.authenticated === true) return;
      await redis.del(tokenKey);
      if (fresh) throw new Error('VTube Studio refused the token it had just granted');
      this.log.warn({ reason: String(res.reason ?? '') }, 'VTube Studio no longer accepts the stored token: asking for a new one');
      token = null;
    }
  }

  private async requestToken(s: VtsSession): Promise<string> {
    const { cfg, redis, tokenKey } = this.opts;
    this.log.info({ plugin: cfg.pluginName, developer: cfg.pluginDeveloper, waitMs: cfg.approvalWaitMs }, 'VTube Studio: asking for a plugin token; click "Allow" in the popup in VTS');
    let res: Record<string, unknown>;
    try {
      res = await s.request('AuthenticationTokenRequest', { pluginName: cfg.pluginName, pluginDeveloper: cfg.pluginDeveloper }, cfg.approvalWaitMs);
    } catch (err) {
      if (err instanceof VtsApiError && err.errorID === VTS_ERROR.tokenDenied) throw new VtsDenied(err.message);
      throw err;
    }
    const token = res.authenticationToken;
    if (typeof token !== 'string' || !/^[\x21-\x7e]{1,64}$/.test(token)) throw new Error('VTube Studio answered the token request without a usable token');
    await redis.set(tokenKey, token);
    this.log.info('VTube Studio granted a plugin token (kept in Redis)');
    return token;
  }

  /** After a (re)connect: the model's hotkeys and expressions looked up, then the channel's expression shown. */
  private async reapply(s: VtsSession): Promise<void> {
    const { cfg } = this.opts;
    try {
      const { moves, problems } = await resolveMoves(s, cfg.expressions);
      this.moves = moves;
      if (problems.length) this.log.error({ problems }, 'VTube Studio: the model lacks what vtubeStudio.expressions names (those expressions show nothing)');
      const now = await this.opts.desired().catch(() => undefined);
      this.hold(now?.expression ?? 'neutral', now?.holdMs ?? 0);
      await this.apply(false);
    } catch (err) {
      this.log.warn({ err: (err as Error).message }, 'could not re-apply the expression to VTube Studio');
    }
  }

  /** Show the current expression; offline it waits for the reconnect's re-apply. */
  private async apply(trigger: boolean): Promise<void> {
    const s = this.session;
    if (!s) return;
    try {
      const problems = await showMove(s, this.moves, this.expression, this.opts.cfg.fadeSeconds, trigger);
      this.log.info({ expression: this.expression, problems }, 'VTube Studio expression');
    } catch (err) {
      this.log.warn({ expression: this.expression, err: (err as Error).message }, 'VTube Studio expression not shown: shown again on reconnect');
    }
  }

  private startInjecting(s: VtsSession): void {
    this.mouth = 0;
    this.heardUpTo = Date.now() - this.opts.cfg.mouthOffsetMs;
    this.injectTimer = setInterval(() => this.inject(s), Math.round(1000 / this.opts.cfg.injectPerSecond));
  }

  private stopInjecting(): void {
    clearInterval(this.injectTimer);
    this.injectTimer = undefined;
    this.injectBusy = false;
  }

  /**
   * One mouth value from the speech due on air since the last one (shifted by mouthOffsetMs), with the built-in avatar's
   * gate and attack/release (src/avatar/animator.ts). Sent even in silence: VTS lets go of a
   * parameter not re-sent within a second. While VTS has not answered the last one, this one is
   * skipped (the next carries a newer value); a VTS that never answers is dropped by the session.
   */
  private inject(s: VtsSession): void {
    const now = Date.now() - this.opts.cfg.mouthOffsetMs;
    const samples = this.opts.speech.window(this.heardUpTo, now);
    this.heardUpTo = now;
    this.mouth = mouthFromPcm(samples, this.opts.sampleRate, this.mouth);
    if (this.injectBusy || !s.open) return;
    this.injectBusy = true;
    const { mouthParameter, faceFound, mode } = this.opts.cfg;
    s.request('InjectParameterDataRequest', { faceFound, mode, parameterValues: [{ id: mouthParameter, value: Math.round(this.mouth * 1000) / 1000 }] }).then(
      () => {
        this.injected++;
        this.injectProblem = undefined;
      },
      (err: Error) => this.injectFailed(s, err),
    ).finally(() => (this.injectBusy = false));
  }

  private injectFailed(s: VtsSession, err: Error): void {
    if (!(err instanceof VtsApiError)) return; // the connection is gone: the loop reconnects
    if (err.errorID === VTS_ERROR.requiresAuthentication || err.errorID === VTS_ERROR.tokenDenied) {
      this.log.warn({ errorID: err.errorID }, 'VTube Studio no longer accepts this session: reconnecting');
      s.drop();
      return;
    }
    // A wrong parameter name or another plugin holding it: said once until it heals, not 30 times a second.
    if (this.injectProblem !== err.errorID) this.log.error({ parameter: this.opts.cfg.mouthParameter, errorID: err.errorID, err: err.message }, 'VTube Studio refuses the mouth parameter');
    this.injectProblem = err.errorID;
  }
}
