import type { TenantState } from '@tenancy/shared';
import { pickEvictionVictim } from './idle.js';
import type { LifecycleStore, TenantRecord } from './ports.js';
import { holdsCapacity } from './state-machine.js';

/** Settings of the capacity check; durations in milliseconds. */
export interface CapacitySettings {
  /** MAX_RUNNING_TENANTS: most tenants waking, running or stopping at once (paused ones do not count). */
  maxRunning: number;
  /** When full: put the least recently active idle tenant to sleep (`evict`), or refuse (`reject`). */
  policy: 'evict' | 'reject';
  /** A tenant must have been idle this long to be evicted. */
  evictMinIdleMs: number;
}

/**
 * How many start slots are taken, and who gives one up when none is left. Every method is
 * synchronous: the caller checks for room and takes the slot (sets the tenant waking) in the
 * same turn of the event loop, so two wakes can never both take the last slot.
 */
export class Capacity {
  constructor(
    private readonly store: LifecycleStore,
    private readonly settings: CapacitySettings,
  ) {}

  /** True when `userId` may take a start slot now (or already holds one). */
  hasRoom(userId: string): boolean {
    const own = this.store.tenants.get(userId);
    if (own && holdsCapacity(own.state)) return true;
    const counts = this.store.tenants.countByState();
    return (counts.waking ?? 0) + (counts.running ?? 0) + (counts.stopping ?? 0) < this.settings.maxRunning;
  }

  /** The running tenant to put to sleep for room, or undefined when none may be (or policy says reject). */
  victim(now: number, isBusy: (userId: string) => boolean): TenantRecord | undefined {
    if (this.settings.policy !== 'evict') return undefined;
    const candidates = listAll(this.store, 'running').filter((tenant) => !isBusy(tenant.userId));
    return pickEvictionVictim(candidates, now, this.settings.evictMinIdleMs);
  }
}

/** Every tenant in `state`, read page by page. */
export function listAll(store: LifecycleStore, state: TenantState): TenantRecord[] {
  const all: TenantRecord[] = [];
  let after: string | undefined;
  for (;;) {
    const page = store.tenants.list({ state, limit: 500, ...(after ? { after } : {}) });
    all.push(...page);
    if (page.length < 500) return all;
    after = page[page.length - 1]?.userId;
  }
}
