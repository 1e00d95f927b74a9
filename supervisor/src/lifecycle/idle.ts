/**
 * Idle arithmetic. A tenant's idle deadline only ever moves forward:
 * `deadline = max(deadline, lastActivity + IDLE_TIMEOUT)`, so a late or out-of-order activity
 * report can never bring a sleep closer.
 */
export function nextIdleDeadline(
  current: number | null | undefined,
  activityAt: number,
  idleTimeoutMs: number,
): number {
  return Math.max(current ?? 0, activityAt + idleTimeoutMs);
}

/** A running tenant whose deadline has passed should be put to sleep. */
export function isIdle(deadline: number | null | undefined, now: number): boolean {
  return deadline !== null && deadline !== undefined && deadline <= now;
}

export interface EvictionCandidate {
  userId: string;
  lastActivity: number | null;
}

/**
 * The least recently active tenant that has been idle for at least `minIdleMs`, or undefined.
 * Tenants with no recorded activity count as idle since the epoch.
 */
export function pickEvictionVictim<T extends EvictionCandidate>(
  candidates: readonly T[],
  now: number,
  minIdleMs: number,
): T | undefined {
  let victim: T | undefined;
  for (const candidate of candidates) {
    const last = candidate.lastActivity ?? 0;
    if (now - last < minIdleMs) continue;
    if (!victim || last < (victim.lastActivity ?? 0)) victim = candidate;
  }
  return victim;
}

/**
 * A paused tenant whose pause has lasted `pauseTimeoutMs` should be stopped (the second stage of
 * sleep). A zero timeout means tenants are never paused, so nothing is due.
 */
export function isPauseOver(pausedAt: number | null | undefined, now: number, pauseTimeoutMs: number): boolean {
  return pauseTimeoutMs > 0 && pausedAt !== null && pausedAt !== undefined && pausedAt + pauseTimeoutMs <= now;
}

/** The paused tenants to stop first when memory runs short: least recently active first. */
export function byLeastRecentActivity<T extends EvictionCandidate>(tenants: readonly T[]): T[] {
  return [...tenants].sort((a, b) => (a.lastActivity ?? 0) - (b.lastActivity ?? 0));
}
