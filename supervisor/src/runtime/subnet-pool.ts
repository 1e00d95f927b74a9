/**
 * Carving tenant networks out of one address pool (TENANT_SUBNET_POOL). Docker's own default
 * pools hold only about 31 bridge networks; a /16 cut into /28s holds 4096.
 */

/** A parsed IPv4 CIDR block. */
export interface Cidr {
  /** Network address as an unsigned 32-bit integer. */
  base: number;
  prefix: number;
}

export function parseCidr(text: string): Cidr {
  const match = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})\/(\d{1,2})$/.exec(text.trim());
  if (!match) throw new RangeError(`not an IPv4 CIDR: ${text}`);
  const octets = match.slice(1, 5).map(Number);
  const prefix = Number(match[5]);
  if (octets.some((octet) => octet > 255) || prefix > 32) throw new RangeError(`not an IPv4 CIDR: ${text}`);
  const address = octets.reduce((acc, octet) => acc * 256 + octet, 0);
  const size = 2 ** (32 - prefix);
  if (address % size !== 0) throw new RangeError(`${text} has host bits set`);
  return { base: address, prefix };
}

export function formatCidr({ base, prefix }: Cidr): string {
  return `${[24, 16, 8, 0].map((shift) => Math.floor(base / 2 ** shift) % 256).join('.')}/${prefix}`;
}

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
