import { errors } from '../errors.js';
import type { LifecycleStore, TenantRecord } from './ports.js';
import { type LifecycleEffect, type LifecycleEvent, transition } from './state-machine.js';

type TenantPatch = Partial<Omit<TenantRecord, 'userId' | 'tenantHash' | 'state' | 'phase' | 'pausedAt'>>;

/** The outcome of one event: the effects to perform and the record as it now is. */
export interface Applied {
  effects: LifecycleEffect[];
  tenant: TenantRecord;
  /** False when the event made no sense in the tenant's state (nothing was written). */
  changed: boolean;
}

/**
 * The only code that sets a tenant's state. It asks the state machine what an event means,
 * writes the new state together with the fields the caller gives in one statement, and tells
 * the route listeners when a tenant stops answering at its endpoint (it leaves `running`).
 */
export class TenantStates {
  constructor(
    private readonly store: LifecycleStore,
    private readonly onUnroute: (userId: string) => void,
    private readonly now: () => number,
  ) {}

  /**
   * Applies `event` to the tenant's persisted state. `patch` is written with the new state only
   * when the event changes something.
   */
  apply(userId: string, event: LifecycleEvent, patch: TenantPatch = {}): Applied {
    const tenant = this.store.tenants.get(userId);
    if (!tenant) throw errors.tenantNotFound();
    const { next, effects } = transition(tenant.state, event);
    if (next === tenant.state && effects.length === 0) return { effects, tenant, changed: false };
    const updated = this.store.tenants.update(userId, {
      ...patch,
      state: next,
      // The live phase of a wake is in memory (it changes too often to be worth a disk write);
      // the record says only that a wake began.
      phase: next === 'waking' ? 'queued' : null,
      pausedAt: next === 'paused' ? (tenant.state === 'paused' ? tenant.pausedAt : this.now()) : null,
    });
    if (tenant.state === 'running' && next !== 'running') this.onUnroute(userId);
    return { effects, tenant: updated, changed: true };
  }
}
