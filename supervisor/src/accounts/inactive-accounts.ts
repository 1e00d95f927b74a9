import type { FastifyBaseLogger } from 'fastify';
import type { AccountActivity, Store } from '../store/index.js';
import type { AccountDeletion } from './account-deletion.js';

const DAY_MS = 24 * 3600_000;

/** The inactivity policy's two durations, milliseconds. */
export interface InactivityPolicy {
  /** INACTIVE_TENANT_DAYS: unseen this long, the account's deletion is asked. */
  limitMs: number;
  /** INACTIVE_WARNING_DAYS: the warning comes this long before; always less than `limitMs`. */
  warningMs: number;
}

/** The policy from its settings in days; undefined when it is off (INACTIVE_TENANT_DAYS=0). */
export function inactivityPolicy(days: number, warningDays: number): InactivityPolicy | undefined {
  return days > 0 ? { limitMs: days * DAY_MS, warningMs: warningDays * DAY_MS } : undefined;
}

/** What the policy does with one account now. */
export type InactivityDecision = 'keep' | 'warn' | 'clear' | 'delete';

/**
 * When the policy asks for the deletion of a warned account: INACTIVE_TENANT_DAYS after it was
 * last seen, and never less than the full warning period after the warning (an account found
 * long unseen when the policy is first turned on still gets its INACTIVE_WARNING_DAYS).
 */
export function inactiveDeletionAt(account: { lastSeenAt: number; warnedAt: number }, policy: InactivityPolicy) {
  return Math.max(account.lastSeenAt + policy.limitMs, account.warnedAt + policy.warningMs);
}

/**
 * The policy's rule, pure: warn once the account has been unseen for INACTIVE_TENANT_DAYS less
 * INACTIVE_WARNING_DAYS; ask for its deletion at {@link inactiveDeletionAt}; a sign-in (or API
 * key use) after the warning, or a policy lengthened since, clears the warning.
 */
export function decideInactivity(
  account: Pick<AccountActivity, 'lastSeenAt' | 'warnedAt'>,
  now: number,
  policy: InactivityPolicy,
): InactivityDecision {
  const warnAt = account.lastSeenAt + policy.limitMs - policy.warningMs;
  const { warnedAt } = account;
  if (warnedAt === null) return now >= warnAt ? 'warn' : 'keep';
  if (account.lastSeenAt > warnedAt || now < warnAt) return 'clear';
  return now >= inactiveDeletionAt({ lastSeenAt: account.lastSeenAt, warnedAt }, policy) ? 'delete' : 'keep';
}

export interface InactiveAccountsDeps {
  store: Pick<Store, 'inactivity' | 'audit'>;
  /** The one deletion path: the policy only asks, like a user or an admin would. */
  deletion: Pick<AccountDeletion, 'request'>;
  policy: InactivityPolicy;
  log: FastifyBaseLogger;
  now?: () => number;
}

/** Deletions asked per sweep: each stops a container; a backlog is worked off over several sweeps. */
const BATCH = 10;

/** The actor of the policy's audit entries, as for the reaper's erasures. */
const ACTOR = 'system';

const iso = (ms: number) => new Date(ms).toISOString();

/**
 * The optional INACTIVE_TENANT_DAYS policy: accounts of users who have not signed in (nor used an
 * API key) for that long are deleted, after a warning in the audit log and the admin console.
 * Deleting here means asking for it through {@link AccountDeletion}: the account is disabled at
 * once and erased after DELETION_GRACE, during which the user may still sign in and restore it.
 */
export class InactiveAccounts {
  private readonly now: () => number;

  constructor(private readonly deps: InactiveAccountsDeps) {
    this.now = deps.now ?? Date.now;
  }

  /** One sweep: warns, clears and asks for deletions as {@link decideInactivity} says. */
  async sweep(): Promise<{ warned: number; cleared: number; deletionsAsked: number }> {
    const { store, deletion, policy, log } = this.deps;
    const now = this.now();
    const counts = { warned: 0, cleared: 0, deletionsAsked: 0 };
    const policyDetail = { policy: 'INACTIVE_TENANT_DAYS', days: policy.limitMs / DAY_MS };
    for (const account of store.inactivity.candidates(now - (policy.limitMs - policy.warningMs))) {
      const { userId, lastSeenAt, warnedAt } = account;
      const decision = decideInactivity(account, now, policy);
      if (decision === 'warn' && store.inactivity.warn(userId, now)) {
        const deletionAt = inactiveDeletionAt({ lastSeenAt, warnedAt: now }, policy);
        store.audit.append({
          actor: ACTOR,
          action: 'user.inactive-warning',
          target: userId,
          result: 'ok',
          detail: { ...policyDetail, lastSeenAt: iso(lastSeenAt), deletionAt: iso(deletionAt) },
        });
        log.info({ userId, lastSeenAt, deletionAt }, 'inactive account warned');
        counts.warned++;
      } else if (decision === 'clear' && store.inactivity.clearWarning(userId)) {
        store.audit.append({
          actor: ACTOR,
          action: 'user.inactive-warning-cleared',
          target: userId,
          result: 'ok',
          // Seen since the warning (an API key's use; a sign-in clears it itself), or a policy
          // lengthened since: the warning no longer applies.
          detail: { by: lastSeenAt > (warnedAt ?? now) ? 'activity' : 'policy', lastSeenAt: iso(lastSeenAt) },
        });
        counts.cleared++;
      } else if (decision === 'delete' && counts.deletionsAsked < BATCH) {
        counts.deletionsAsked++;
        try {
          await deletion.request(userId, ACTOR, {
            ...policyDetail,
            lastSeenAt: iso(lastSeenAt),
            warnedAt: iso(warnedAt ?? now),
          });
          log.info({ userId, lastSeenAt }, 'inactive account deletion requested');
        } catch (err) {
          // The deletion is scheduled before the container is stopped: a failed stop leaves it
          // scheduled (and the reaper's erasure removes the container anyway).
          log.error({ userId, err }, 'inactive account deletion failed');
        }
      }
    }
    return counts;
  }
}
