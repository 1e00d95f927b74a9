/**
 * Admission of container starts: at most `concurrency` at a time, first come first served.
 *
 * Starting a container costs the engine and the CPU far more than anything else the platform
 * does; a hundred at once make every one of them slow (nobody is served until nearly everybody
 * is) and push them all past their budget. In order and a few at a time, the first users are
 * served at once and the rest know their place.
 */
export class StartQueue {
  private readonly waiting: Waiter[] = [];
  private active = 0;
  /** Recent time a start held its slot, milliseconds (moving average), for wait estimates. */
  private averageHoldMs: number;

  /**
   * @param concurrency Most starts at once (WAKE_CONCURRENCY).
   * @param initialHoldMs Guess of one start's duration before any was measured.
   */
  constructor(
    readonly concurrency: number,
    initialHoldMs = 1_000,
  ) {
    if (!Number.isInteger(concurrency) || concurrency < 1) throw new RangeError('concurrency must be at least 1');
    this.averageHoldMs = initialHoldMs;
  }

  /** Starts waiting for a slot or running at once. */
  get length(): number {
    return this.waiting.length;
  }

  /**
   * Waits for a slot. `onPosition` hears the place in line (1 = next) whenever it changes, and not
   * at all when a slot is free at once. Resolves with the function that gives the slot back;
   * rejects with the signal's reason when it aborts first (the place is given up).
   */
  acquire(signal: AbortSignal, onPosition?: (position: number) => void): Promise<() => void> {
    signal.throwIfAborted();
    if (this.active < this.concurrency && this.waiting.length === 0) return Promise.resolve(this.grant());
    return new Promise((resolve, reject) => {
      const waiter: Waiter = {
        admit: () => {
          signal.removeEventListener('abort', onAbort);
          resolve(this.grant());
        },
        onPosition,
      };
      const onAbort = () => {
        const index = this.waiting.indexOf(waiter);
        if (index !== -1) this.waiting.splice(index, 1);
        this.announce(index);
        reject(signal.reason);
      };
      signal.addEventListener('abort', onAbort, { once: true });
      this.waiting.push(waiter);
      onPosition?.(this.waiting.length);
    });
  }

  /** The place in line of a start behind `position - 1` others: how long until it is admitted. */
  estimateWaitMs(position: number): number {
    return Math.ceil(position / this.concurrency) * this.averageHoldMs;
  }

  private grant(): () => void {
    this.active++;
    const since = performance.now();
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.active--;
      // A moving average over roughly the last ten starts.
      this.averageHoldMs += (performance.now() - since - this.averageHoldMs) / 10;
      this.admitNext();
    };
  }

  private admitNext(): void {
    while (this.active < this.concurrency && this.waiting.length > 0) {
      this.waiting.shift()?.admit();
      this.announce(0);
    }
  }

  /** Tells everyone from `from` on their new place after the line moved. */
  private announce(from: number): void {
    if (from < 0) return;
    for (let index = from; index < this.waiting.length; index++) this.waiting[index]?.onPosition?.(index + 1);
  }
}

interface Waiter {
  admit(): void;
  onPosition: ((position: number) => void) | undefined;
}
