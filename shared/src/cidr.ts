/**
 * IPv4 CIDR blocks: the tenant address pool (TENANT_SUBNET_POOL) is cut from one, and both
 * services refuse connections that arrive from inside it.
 */

/** A parsed IPv4 CIDR block. */
export interface Cidr {
  /** Network address as an unsigned 32-bit integer. */
  base: number;
  prefix: number;
}

const IPV4 = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/;

/** An IPv4 address as an unsigned 32-bit integer, or undefined when `text` is not one. */
export function ipv4ToNumber(text: string): number | undefined {
  const match = IPV4.exec(text);
  if (!match) return undefined;
  const octets = match.slice(1, 5).map(Number);
  if (octets.some((octet) => octet > 255)) return undefined;
  return octets.reduce((acc, octet) => acc * 256 + octet, 0);
}

export function parseCidr(text: string): Cidr {
  const [address = '', prefixText = '', ...rest] = text.trim().split('/');
  const base = ipv4ToNumber(address);
  const prefix = /^\d{1,2}$/.test(prefixText) ? Number(prefixText) : Number.NaN;
  if (base === undefined || rest.length > 0 || !(prefix <= 32)) throw new RangeError(`not an IPv4 CIDR: ${text}`);
  if (base % 2 ** (32 - prefix) !== 0) throw new RangeError(`${text} has host bits set`);
  return { base, prefix };
}

export function formatCidr({ base, prefix }: Cidr): string {
  return `${[24, 16, 8, 0].map((shift) => Math.floor(base / 2 ** shift) % 256).join('.')}/${prefix}`;
}

/** True when `address` (IPv4, or IPv4-mapped IPv6 as Node reports it) lies inside `cidr`. */
export function cidrContains(cidr: Cidr, address: string | undefined): boolean {
  const value = ipv4ToNumber((address ?? '').replace(/^::ffff:/i, ''));
  return value !== undefined && value >= cidr.base && value < cidr.base + 2 ** (32 - cidr.prefix);
}

/**
 * Closes every connection to `server` that comes from inside `cidr`, before any byte of it is
 * read. Both services use it with the tenant address pool: in a compose deployment they share
 * tenant networks (to reach the tenants), and a tenant must never reach them back.
 */
export function refuseConnectionsFrom(
  server: import('node:net').Server,
  cidr: Cidr,
  onRefused: (address: string | undefined) => void = () => undefined,
): void {
  server.on('connection', (socket: import('node:net').Socket) => {
    if (!cidrContains(cidr, socket.remoteAddress)) return;
    onRefused(socket.remoteAddress);
    socket.destroy();
  });
}
