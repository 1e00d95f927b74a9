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
export function pickEvictionVictim(
  candidates: readonly EvictionCandidate[],
  now: number,
  minIdleMs: number,
): EvictionCandidate | undefined {
  let victim: EvictionCandidate | undefined;
  for (const candidate of candidates) {
    const last = candidate.lastActivity ?? 0;
    if (now - last < minIdleMs) continue;
    if (!victim || last < (victim.lastActivity ?? 0)) victim = candidate;
  }
  return victim;
}
