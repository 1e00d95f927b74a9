/** A change to a user that every gateway replica must hear about at once. */
export type UserChange =
  /** The user was disabled: every session they hold must end now, not at its expiry. */
  | { kind: 'revoke'; userId: string }
  /** Something the gateway caches with the user's route changed (their plan): forget it. */
  | { kind: 'unroute'; userId: string }
  /** One of the user's API keys was revoked: every replica records it and forgets the key now. */
  | { kind: 'revoke-key'; userId: string; keyId: string };

/**
 * Changes to users made through the API (disable, a login with another plan), passed on to the
 * gateway replicas' feed (route-events.ts). Tenant stops reach the same feed from the
 * controller; these are the user's own, which the controller does not see.
 */
export class UserChanges {
  private readonly listeners = new Set<(change: UserChange) => void>();

  /** Calls `listener` with every change from now on. Returns unsubscribe. */
  on(listener: (change: UserChange) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  emit(change: UserChange): void {
    for (const listener of this.listeners) listener(change);
  }
}
