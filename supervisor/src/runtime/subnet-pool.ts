/**
 * Carving tenant networks out of one address pool (TENANT_SUBNET_POOL). Docker's own default
 * pools hold only about 31 bridge networks; a /16 cut into /28s holds 4096.
 */

import { type Cidr, formatCidr, parseCidr } from '@tenancy/shared';

export { type Cidr, formatCidr, parseCidr };

/** How many subnets of `prefix` the pool holds. */
export function subnetCount(pool: Cidr, prefix: number): number {
  if (prefix < pool.prefix) throw new RangeError(`subnet prefix /${prefix} is larger than the pool /${pool.prefix}`);
  return 2 ** (prefix - pool.prefix);
}

/** The index-th subnet of `prefix` inside the pool. */
export function subnetAt(pool: Cidr, prefix: number, index: number): string {
  return formatCidr({ base: pool.base + index * 2 ** (32 - prefix), prefix });
}

/** True when two CIDR blocks share any address. */
export function overlaps(a: Cidr, b: Cidr): boolean {
  const aEnd = a.base + 2 ** (32 - a.prefix);
  const bEnd = b.base + 2 ** (32 - b.prefix);
  return a.base < bEnd && b.base < aEnd;
}

/**
 * The first subnet of the pool that is neither taken by another tenant nor overlapping a network
 * that already exists on the engine, or undefined when the pool is exhausted.
 */
export function firstFreeSubnet(
  pool: Cidr,
  prefix: number,
  taken: ReadonlySet<string>,
  engineSubnets: readonly Cidr[] = [],
): string | undefined {
  const count = subnetCount(pool, prefix);
  for (let index = 0; index < count; index++) {
    const candidate = subnetAt(pool, prefix, index);
    if (taken.has(candidate)) continue;
    const cidr = parseCidr(candidate);
    if (engineSubnets.some((existing) => overlaps(existing, cidr))) continue;
    return candidate;
  }
  return undefined;
}
