/**
 * What the active broadcaster knows of the line on air, shared by the playout handler
 * (workers/playout.worker.ts, which sets it), the operator's controls (a skip) and the status.
 */
export class OnAir {
  /** The utterance viewers hear now, if any. */
  utteranceId: string | null = null;
  /** The line whose caption is on the picture. */
  captionFor?: string;
  /** The line being played into the pump (first part to last), whether it is of AI origin, and whether it was skipped. */
  current?: { utteranceId: string; ai: boolean; skipped: boolean };

  /** The operator skipped the line being played: no more of its parts go into the pump. */
  skip(): void {
    if (this.current) this.current.skipped = true;
  }

  /** A dump: the line being played is skipped if it is of AI origin; returns its id then. */
  skipAi(): string | undefined {
    if (!this.current?.ai) return undefined;
    this.current.skipped = true;
    return this.current.utteranceId;
  }
}

/** A line that did not finish airing (the lease lapsed or the channel was taken): it is aired again, never counted as aired. */
export class LineInterrupted extends Error {}
