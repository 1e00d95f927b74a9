import type { WakeAttempt } from './waker.js';

/** The operations in flight on one tenant: its in-memory companion of the persisted record. */
export interface InFlightEntry {
  wake?: WakeAttempt;
  stopping?: Promise<void>;
  pausing?: Promise<void>;
  /** Held still while its volumes are read (an export); settles when released. */
  holding?: Promise<void>;
}

/**
 * Which tenants have a wake, a stop, a pause or a hold in flight. The wake, sleep, reaper and engine
 * event code all consult it: a tenant with an operation in flight is left to that operation.
 * Entries exist only while something is in flight, so the map stays as small as the activity.
 */
export class InFlight {
  private readonly entries = new Map<string, InFlightEntry>();

  /** The tenant's entry, if it has one; never creates it. */
  get(userId: string): InFlightEntry | undefined {
    return this.entries.get(userId);
  }

  /** The tenant's entry, created empty when missing (call {@link forget} when done with it). */
  entry(userId: string): InFlightEntry {
    let entry = this.entries.get(userId);
    if (!entry) {
      entry = {};
      this.entries.set(userId, entry);
    }
    return entry;
  }

  /** True while a wake, stop, pause or hold of the tenant is in flight. */
  isBusy(userId: string): boolean {
    const entry = this.entries.get(userId);
    return (
      entry !== undefined &&
      (entry.wake !== undefined ||
        entry.stopping !== undefined ||
        entry.pausing !== undefined ||
        entry.holding !== undefined)
    );
  }

  /** Drops the tenant's entry unless something is still in flight. */
  forget(userId: string): void {
    if (!this.isBusy(userId)) this.entries.delete(userId);
  }

  /** The tenant's entry once no stop, pause or hold is in flight (they may forget the entry they had). */
  async settled(userId: string): Promise<InFlightEntry> {
    for (;;) {
      const entry = this.entry(userId);
      const busy = entry.stopping ?? entry.pausing ?? entry.holding;
      if (!busy) return entry;
      await busy;
    }
  }

  /** Every operation in flight, for a close that waits for them. */
  pending(): Promise<unknown>[] {
    return [...this.entries.values()].flatMap((entry) =>
      [entry.wake?.promise, entry.stopping, entry.pausing, entry.holding].filter((promise) => promise !== undefined),
    );
  }
}
