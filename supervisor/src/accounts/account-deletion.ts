import { createHmac } from 'node:crypto';
import type { FastifyBaseLogger } from 'fastify';
import { errors } from '../errors.js';
import type { UserChanges } from '../http/user-changes.js';
import type { TenantController } from '../lifecycle/controller.js';
import type { Store } from '../store/index.js';

/**
 * The id an erased user keeps in the audit log: `erased:` and 24 hex characters (96 bits) of
 * HMAC-SHA256(TENANT_NAMESPACE_KEY, "erased-user:" + userId). Without the key it can be neither
 * reversed nor checked against a guessed user id; with it, an operator asked about a given user
 * id can find that user's history, which is the one use it has. Stable: every entry of one user
 * gets the same pseudonym.
 */
export function erasedUserId(namespaceKey: string, userId: string): string {
  return `erased:${createHmac('sha256', namespaceKey).update(`erased-user:${userId}`).digest('hex').slice(0, 24)}`;
}

export interface AccountDeletionDeps {
  store: Pick<Store, 'users' | 'tenants' | 'accounts' | 'audit' | 'transaction'>;
  controller: Pick<TenantController, 'stop' | 'remove'>;
  /** Where the gateway replicas hear that every session of a user must end. */
  users: UserChanges;
  namespaceKey: string;
  /** DELETION_GRACE, milliseconds. */
  graceMs: number;
  /** How often due deletions are looked for (REAPER_INTERVAL), milliseconds. */
  intervalMs: number;
  log: FastifyBaseLogger;
  now?: () => number;
}

/** Users erased per pass: a backlog is worked off over several passes, never in one long one. */
const BATCH = 10;

/**
 * A user's right to delete their account. Asking disables the account at once (every session
 * revoked, the container stopped, wakes and routes refused with SUP_ERR_ACCOUNT_DELETION_PENDING)
 * and schedules its erasure after DELETION_GRACE; within the grace the user may sign in again
 * (only to export their data or restore the account) and cancel. When due, the reaper erases
 * the tenant's container, network, volumes and disk, then the user and tenant records; audit
 * entries about the user keep only {@link erasedUserId}.
 */
export class AccountDeletion {
  private readonly now: () => number;
  private timer: NodeJS.Timeout | undefined;
  private pass: Promise<void> | undefined;

  constructor(private readonly deps: AccountDeletionDeps) {
    this.now = deps.now ?? Date.now;
  }

  /**
   * Schedules the erasure and disables the account now; asking again keeps the first due time.
   * `detail` joins the audit entry (the inactivity policy says why it asked).
   */
  async request(
    userId: string,
    actor: string,
    detail: Record<string, unknown> = {},
  ): Promise<{ deletionDueAt: number }> {
    const { store, users, controller } = this.deps;
    const dueAt = store.accounts.scheduleDeletion(userId, this.now() + this.deps.graceMs);
    if (dueAt === undefined) throw errors.userNotFound(`no user ${JSON.stringify(userId)}`);
    store.audit.append({
      actor,
      action: 'user.deletion-requested',
      target: userId,
      result: 'ok',
      detail: { ...detail, dueAt: new Date(dueAt).toISOString() },
    });
    // Sessions first, so they end as revoked rather than as a container gone away.
    users.emit({ kind: 'revoke', userId });
    if (store.tenants.get(userId)) await controller.stop(userId, 'admin', actor);
    return { deletionDueAt: dueAt };
  }

  /** Cancels a scheduled erasure: the account works again, with its data. */
  cancel(userId: string, actor: string): void {
    const { store } = this.deps;
    if (!store.users.get(userId)) throw errors.userNotFound(`no user ${JSON.stringify(userId)}`);
    if (!store.accounts.cancelDeletion(userId)) throw errors.deletionNotPending();
    store.audit.append({ actor, action: 'user.deletion-cancelled', target: userId, result: 'ok' });
  }

  /**
   * Erases the account now: the tenant's Docker objects and disk, then the records. Safe to
   * repeat after a failure half-way (everything it removes may already be gone). Returns the
   * pseudonym the audit log keeps.
   */
  async erase(userId: string, actor: string): Promise<string> {
    const { store, controller, users, log } = this.deps;
    if (!store.users.get(userId)) throw errors.userNotFound(`no user ${JSON.stringify(userId)}`);
    users.emit({ kind: 'revoke', userId });
    await controller.remove(userId, actor);
    const pseudonym = erasedUserId(this.deps.namespaceKey, userId);
    const result = store.transaction(() => {
      const erased = store.accounts.erase(userId, pseudonym);
      store.audit.append({
        actor,
        action: 'user.erase',
        target: pseudonym,
        result: 'ok',
        detail: { auditEntries: erased.auditEntries },
      });
      return erased;
    });
    log.info({ userId: pseudonym, auditEntries: result.auditEntries }, 'account erased');
    return pseudonym;
  }

  /** One pass: erases the accounts whose grace has ended. A failure is logged and retried next pass. */
  async reap(): Promise<void> {
    const { store, log } = this.deps;
    for (const userId of store.accounts.dueForDeletion(this.now(), BATCH)) {
      try {
        await this.erase(userId, 'system');
      } catch (err) {
        log.error({ userId: erasedUserId(this.deps.namespaceKey, userId), err }, 'account erasure failed');
      }
    }
  }

  /**
   * Starts the periodic pass (one at a time: a slow pass is not overlapped by the next).
   * `before` runs first in every pass (the inactivity policy's sweep, which asks for deletions),
   * so nothing else asks for or performs a deletion while the reaper erases.
   */
  start(before?: () => Promise<unknown>): void {
    const pass = async () => {
      try {
        await before?.();
      } catch (err) {
        this.deps.log.error({ err }, 'account sweep failed');
      }
      await this.reap();
    };
    this.timer = setInterval(() => {
      if (this.pass) return;
      this.pass = pass().finally(() => {
        this.pass = undefined;
      });
    }, this.deps.intervalMs);
    this.timer.unref();
  }

  /** Stops the timer; waits for a pass in flight. */
  async close(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    await this.pass;
  }
}
