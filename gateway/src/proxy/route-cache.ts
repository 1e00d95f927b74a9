import type { TenantRoute } from '@tenancy/shared';

/**
 * Recently resolved tenant routes, so a request to a running tenant does not ask the supervisor.
 * An entry lives `ttlMs` and is dropped at once when the tenant's endpoint fails.
 */
export class RouteCache {
  private readonly routes = new Map<string, { route: TenantRoute; until: number }>();

  constructor(
    private readonly ttlMs: number,
    private readonly now: () => number = Date.now,
  ) {}

  get(userId: string): TenantRoute | undefined {
    const entry = this.routes.get(userId);
    if (!entry) return undefined;
    if (entry.until <= this.now()) {
      this.routes.delete(userId);
      return undefined;
    }
    return entry.route;
  }

  set(userId: string, route: TenantRoute): void {
    if (route.state === 'running' && route.endpoint) this.routes.set(userId, { route, until: this.now() + this.ttlMs });
  }

  drop(userId: string): void {
    this.routes.delete(userId);
  }

  /** Forgets every route (the feed of stopped tenants was down: some stops may be unknown). */
  clear(): void {
    this.routes.clear();
  }
}
