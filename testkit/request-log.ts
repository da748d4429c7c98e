/**
 * The requests a loopback server received, in order, for a test to read or wait on (a request
 * already received counts, so a test never races the server).
 */
export class RequestLog<R extends { type: string }> {
  readonly all: R[] = [];
  private readonly waiters: { match: (r: R) => boolean; resolve: (r: R) => void }[] = [];

  /** `server` names the fake in a timeout's message. */
  constructor(private readonly server: string) {}

  record(req: R): void {
    this.all.push(req);
    for (const w of [...this.waiters]) {
      if (!w.match(req)) continue;
      this.waiters.splice(this.waiters.indexOf(w), 1);
      w.resolve(req);
    }
  }

  /** Resolve with the first request (received from index `since`, or to come) matching `match`. */
  waitFor(match: (r: R) => boolean, timeoutMs: number, since = 0): Promise<R> {
    const seen = this.all.slice(since).find(match);
    if (seen) return Promise.resolve(seen);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`loopback ${this.server}: no matching request within ${timeoutMs} ms; got ${JSON.stringify(this.all.slice(-8).map((r) => r.type))}`)), timeoutMs);
      this.waiters.push({ match, resolve: (r) => (clearTimeout(timer), resolve(r)) });
    });
  }

  /** Requests of one type (optionally from index `since`). */
  of(type: string, since = 0): R[] {
    return this.all.slice(since).filter((r) => r.type === type);
  }
}
