import { Redis } from 'ioredis';

/** Commands Redis has processed, by name, from its own statistics. */
export async function commandStats(url: string): Promise<Record<string, number>> {
  const probe = new Redis(url);
  const info = await probe.info('commandstats');
  probe.disconnect();
  return Object.fromEntries([...info.matchAll(/^cmdstat_([\w|]+):calls=(\d+)/gm)].map((m) => [m[1], Number(m[2])]));
}

/** Commands between two snapshots, leaving out the ones the snapshots themselves send. */
export function commandsBetween(before: Record<string, number>, after: Record<string, number>): Record<string, number> {
  const ownProbe = new Set(['info', 'client', 'client|setinfo', 'hello', 'select']);
  return Object.fromEntries(
    Object.entries(after)
      .filter(([name, calls]) => !ownProbe.has(name) && calls !== (before[name] ?? 0))
      .map(([name, calls]) => [name, calls - (before[name] ?? 0)]),
  );
}
