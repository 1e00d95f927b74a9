import { BlockList, isIP } from 'node:net';

/** 127.0.0.0/8 and ::1: addresses that only this machine can reach. */
const LOOPBACK = new BlockList();
LOOPBACK.addSubnet('127.0.0.0', 8, 'ipv4');
LOOPBACK.addAddress('::1', 'ipv6');

/**
 * True when the origin's host is this machine only: `localhost`, an address in 127.0.0.0/8, or
 * `[::1]`. Dev login is allowed only on such an origin: any other name or address (an https
 * hostname behind the tunnel, a LAN address) means people elsewhere can reach the sign-in.
 */
export function isLoopbackOrigin(origin: string): boolean {
  let host: string;
  try {
    host = new URL(origin).hostname;
  } catch {
    return false;
  }
  if (host === 'localhost') return true;
  const address = host.replace(/^\[(.*)\]$/, '$1');
  const family = isIP(address);
  if (family === 0) return false;
  return LOOPBACK.check(address, family === 4 ? 'ipv4' : 'ipv6');
}
