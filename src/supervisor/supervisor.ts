import { fork, type ChildProcess } from 'node:child_process';
import type { Logger } from '../logger';
import { CLI_ENTRY } from '../paths';

/** One supervised process: a name and the CLI arguments that start it. */
export interface ChildSpec {
  name: string;
  args: string[];
}

interface Running {
  spec: ChildSpec;
  child?: ChildProcess;
  startedAt: number;
  delayMs: number;
  restarts: number;
  timer?: NodeJS.Timeout;
}

const FIRST_DELAY_MS = 1000;
const MAX_DELAY_MS = 30_000;
/** A child that ran this long before crashing is restarted at once again next time. */
const STABLE_AFTER_MS = 60_000;

/**
 * Runs the fleet's processes and keeps them running: a child that exits is restarted with
 * exponential backoff and the restart is logged. Children get an IPC channel, so if the
 * supervisor itself dies they notice the channel closing and shut down gracefully; they run
 * in their own process group so a terminal's Ctrl-C reaches only the supervisor, which then
 * stops them in order.
 */
export class Supervisor {
  private readonly running = new Map<string, Running>();
  private stopping = false;

  constructor(
    private readonly specs: ChildSpec[],
    private readonly env: NodeJS.ProcessEnv,
    private readonly log: Logger,
  ) {}

  start(): void {
    for (const spec of this.specs) {
      const r: Running = { spec, startedAt: 0, delayMs: FIRST_DELAY_MS, restarts: 0 };
      this.running.set(spec.name, r);
      this.spawn(r);
    }
  }

  /** Restart counts by child name. */
  restarts(): Record<string, number> {
    return Object.fromEntries([...this.running].map(([name, r]) => [name, r.restarts]));
  }

  private spawn(r: Running): void {
    r.startedAt = Date.now();
    const child = fork(CLI_ENTRY, r.spec.args, { env: this.env, stdio: ['ignore', 'inherit', 'inherit', 'ipc'], detached: true });
    r.child = child;
    child.on('error', (err) => this.log.error({ child: r.spec.name, err: err.message }, 'child error'));
    child.on('exit', (code, signal) => {
      r.child = undefined;
      if (this.stopping) return;
      const ranMs = Date.now() - r.startedAt;
      if (ranMs > STABLE_AFTER_MS) r.delayMs = FIRST_DELAY_MS;
      r.restarts++;
      this.log.warn({ child: r.spec.name, code, signal, ranMs, restartInMs: r.delayMs, restarts: r.restarts }, 'child exited: restarting');
      r.timer = setTimeout(() => this.spawn(r), r.delayMs);
      r.delayMs = Math.min(r.delayMs * 2, MAX_DELAY_MS);
    });
  }

  /** SIGTERM every child, wait for them (in-flight jobs finish), SIGKILL what is left. */
  async stop(timeoutMs = 30_000): Promise<void> {
    this.stopping = true;
    const waits: Promise<void>[] = [];
    for (const r of this.running.values()) {
      clearTimeout(r.timer);
      const child = r.child;
      if (!child || child.exitCode !== null) continue;
      waits.push(
        new Promise<void>((resolve) => {
          const kill = setTimeout(() => {
            this.log.warn({ child: r.spec.name }, 'child did not stop in time: killing');
            child.kill('SIGKILL');
          }, timeoutMs);
          child.once('exit', () => (clearTimeout(kill), resolve()));
          child.kill('SIGTERM');
        }),
      );
    }
    await Promise.all(waits);
  }
}
