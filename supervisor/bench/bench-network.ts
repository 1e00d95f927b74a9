import type Docker from 'dockerode';
import { firstFreeSubnet, parseCidr } from '../src/runtime/subnet-pool.js';

/**
 * One internal network for every tenant of a benchmark run (like a tenant network without
 * egress), on a free /24 of 10.219.0.0/16, the range the benchmarks keep to themselves.
 */
export async function createBenchNetwork(docker: Docker, name: string, labels: Record<string, string>): Promise<void> {
  const existing = (await docker.listNetworks()).flatMap((n) =>
    (n.IPAM?.Config ?? []).flatMap((c) => (c.Subnet?.includes('.') ? [parseCidr(c.Subnet)] : [])),
  );
  const subnet = firstFreeSubnet(parseCidr('10.219.0.0/16'), 24, new Set(), existing);
  if (!subnet) throw new Error('no free /24 in 10.219.0.0/16 for the bench network');
  await docker.createNetwork({
    Name: name,
    Driver: 'bridge',
    Internal: true,
    IPAM: { Driver: 'default', Config: [{ Subnet: subnet }] },
    Labels: labels,
  });
}
