import { errors } from '../errors.js';
import { type Cidr, firstFreeSubnet, parseCidr } from '../runtime/subnet-pool.js';
import type { TenantRuntime } from '../runtime/types.js';
import type { LifecycleStore } from './ports.js';

/** How many sleeping tenants' subnets one reservation may free before it gives up. */
const RECLAIM_ROUNDS = 3;

/**
 * Gives each tenant a subnet of TENANT_SUBNET_POOL for its own network.
 *
 * The engine's networks are read first (the only await); choosing among the subnets other
 * tenants hold and reserving one is then a single store transaction, so any number of first
 * wakes at once get distinct subnets. A subnet the engine still refuses (a network someone
 * created meanwhile) is given back and another is picked: see {@link release}.
 *
 * Subnets are held while tenants sleep (a stopped tenant's next wake then only starts its
 * container) but not forever: when the pool is full, `reclaim` takes down the network of the
 * least recently active sleeping tenant and frees its subnet, so a pool serves any number of
 * users over time, as many at once as it has subnets.
 */
export class SubnetAllocator {
  private readonly pool: Cidr;

  constructor(
    private readonly store: LifecycleStore,
    private readonly runtime: Pick<TenantRuntime, 'usedSubnets'>,
    pool: string,
    private readonly prefix: number,
    /** Frees one sleeping tenant's subnet (see TenantController); false when none can be freed. */
    private readonly reclaim: () => Promise<boolean> = async () => false,
  ) {
    this.pool = parseCidr(pool);
  }

  /**
   * The tenant's subnet, reserving a free one on its first wake, never one of `refused` (the
   * engine said no to them during this wake). Throws when the pool is full.
   */
  async subnetFor(userId: string, refused: ReadonlySet<string> = new Set()): Promise<string> {
    const own = this.store.tenants.get(userId)?.subnet;
    if (own) return own;
    for (let reclaimed = 0; ; reclaimed++) {
      const subnet = await this.reserve(userId, refused);
      if (subnet) return subnet;
      // Another wake may take the subnet just freed before this one reserves it: a few rounds.
      if (reclaimed >= RECLAIM_ROUNDS || !(await this.reclaim())) throw errors.subnetPoolExhausted();
    }
  }

  private async reserve(userId: string, refused: ReadonlySet<string>): Promise<string | undefined> {
    const engine = (await this.runtime.usedSubnets()).flatMap((text) => {
      try {
        return [parseCidr(text)];
      } catch {
        return [];
      }
    });
    return this.store.tenants.reserveSubnet(userId, (taken) =>
      firstFreeSubnet(this.pool, this.prefix, refused.size ? new Set([...taken, ...refused]) : taken, engine),
    );
  }

  /** Gives the tenant's subnet back after the engine refused it; the next call picks again. */
  release(userId: string): void {
    this.store.tenants.releaseSubnet(userId);
  }
}
