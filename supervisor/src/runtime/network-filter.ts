import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { access } from 'node:fs/promises';
import { promisify } from 'node:util';

const run = promisify(execFile);

/**
 * Bridges of tenant networks are named a prefix and 12 hex digits of their network's name, so one
 * interface match per prefix (`tne+`, `tni+`) covers every tenant, present and future: the rules
 * below are generic and nothing is added or left behind per tenant.
 */
export const EGRESS_BRIDGE_PREFIX = 'tne';
/** Bridges of tenant networks without egress that the host has an address on (host mode). */
export const INTERNAL_BRIDGE_PREFIX = 'tni';

/** The Linux name of the bridge of a tenant network (at most 15 characters). */
export function tenantBridgeName(networkName: string, egress: boolean): string {
  const prefix = egress ? EGRESS_BRIDGE_PREFIX : INTERNAL_BRIDGE_PREFIX;
  return `${prefix}${createHash('sha256').update(networkName).digest('hex').slice(0, 12)}`;
}

/**
 * Destinations an egress tenant may not reach: every IPv4 block that is not the public internet
 * (RFC 6890 and its updates): this network, private networks, CGNAT, loopback, link-local (cloud
 * metadata at 169.254.169.254), IETF protocol assignments, benchmarking, multicast and reserved.
 * Other tenants' subnets are in the private blocks whatever TENANT_SUBNET_POOL is, as long as the
 * pool is private (it always should be). The documentation blocks (192.0.2.0/24, 198.51.100.0/24,
 * 203.0.113.0/24) are not listed: they are never routed on the internet, and tests use one as
 * "the internet"; a LAN that uses one, or public addresses, goes in EGRESS_DENY.
 */
export const DENIED_DESTINATIONS: readonly string[] = Object.freeze([
  '0.0.0.0/8',
  '10.0.0.0/8',
  '100.64.0.0/10',
  '127.0.0.0/8',
  '169.254.0.0/16',
  '172.16.0.0/12',
  '192.0.0.0/24',
  '192.168.0.0/16',
  '198.18.0.0/15',
  '224.0.0.0/4',
  '240.0.0.0/4',
]);

/** The names of one instance's chains: iptables allows 28 characters, an instance name 24. */
export function filterChains(instance: string): { forward: string; input: string } {
  const id = createHash('sha256').update(instance).digest('hex').slice(0, 8);
  return { forward: `TENANCY-EGRESS-${id}`, input: `TENANCY-HOST-${id}` };
}

/**
 * The rules as iptables-restore input (--noflush: only these two chains are replaced, atomically).
 * Forwarded traffic from an egress bridge: replies and traffic within the tenant's own bridge (the
 * gateway and supervisor attached to it in compose) pass; anything to a denied block is refused;
 * the rest goes on to Docker's own rules, which let it out through NAT. Traffic from any tenant
 * bridge to the host itself (its address on any interface, which Docker leaves open, internal
 * networks included): only replies pass.
 */
export function filterRules(instance: string, extraDenied: readonly string[] = []): string {
  const { forward, input } = filterChains(instance);
  const refuse = '-j REJECT --reject-with icmp-admin-prohibited';
  return [
    '*filter',
    `:${forward} - [0:0]`,
    `:${input} - [0:0]`,
    `-A ${forward} -m conntrack --ctstate RELATED,ESTABLISHED -j RETURN`,
    `-A ${forward} -m physdev --physdev-is-bridged -j RETURN`,
    ...[...DENIED_DESTINATIONS, ...extraDenied].map((block) => `-A ${forward} -d ${block} ${refuse}`),
    `-A ${forward} -j RETURN`,
    `-A ${input} -m conntrack --ctstate RELATED,ESTABLISHED -j RETURN`,
    `-A ${input} ${refuse}`,
    'COMMIT',
    '',
  ].join('\n');
}

/**
 * The rules that send tenant bridges' traffic through the instance's chains, as iptables
 * arguments. Every jump carries the comment `tenancy <instance> ...`, which is how an operator (or
 * a test) finds them.
 */
export function filterJumps(instance: string): string[][] {
  const { forward, input } = filterChains(instance);
  const from = (prefix: string, what: string) => [
    '-i',
    `${prefix}+`,
    '-m',
    'comment',
    '--comment',
    `tenancy ${instance} ${what}`,
  ];
  // DOCKER-USER: the chain Docker keeps for its users, first in FORWARD, never flushed by the engine.
  // Forwarded traffic from internal bridges needs no rule of ours: Docker drops it.
  return [
    ['DOCKER-USER', ...from(EGRESS_BRIDGE_PREFIX, 'egress'), '-j', forward],
    ['INPUT', ...from(EGRESS_BRIDGE_PREFIX, 'egress'), '-j', input],
    ['INPUT', ...from(INTERNAL_BRIDGE_PREFIX, 'host'), '-j', input],
  ];
}

/** Keeps egress tenants off everything but the internet, and every tenant off the host. */
export interface NetworkFilter {
  /**
   * Makes sure the rules are in place, installing or repairing them (a firewall reload may have
   * removed them). Throws, saying why, when they cannot be.
   */
  ensure(): Promise<void>;
  /**
   * Throws unless `bridge` is an interface here, where the rules apply: an engine on another host
   * or in another network namespace is not covered by them.
   */
  covers(bridge: string): Promise<void>;
}

export interface IptablesNetworkFilterOptions {
  /** TENANCY_INSTANCE: names the chains this supervisor owns. */
  instance: string;
  /** EGRESS_DENY: more blocks no egress tenant may reach (a LAN on public or documentation addresses), as CIDRs. */
  extraDenied?: readonly string[];
}

/** The {@link NetworkFilter} of a supervisor that runs in the host's network namespace with iptables. */
export function createIptablesNetworkFilter(options: IptablesNetworkFilterOptions): NetworkFilter {
  const extraDenied = options.extraDenied ?? [];
  let pending: Promise<void> | undefined;

  async function present(): Promise<boolean> {
    // Checked side by side: every wake from stopped asks, and a process start is slow on some hosts.
    const found = await Promise.all(
      filterJumps(options.instance).map((rule) =>
        iptables(['-C', ...rule]).then(
          () => true,
          () => false,
        ),
      ),
    );
    return found.every(Boolean);
  }

  async function install(): Promise<void> {
    await iptablesRestore(filterRules(options.instance, extraDenied));
    for (const rule of filterJumps(options.instance)) {
      const [chain = '', ...spec] = rule;
      await iptables(['-C', chain, ...spec]).catch(() => iptables(['-I', chain, '1', ...spec]));
    }
  }

  return {
    ensure() {
      // One check or install at a time: concurrent wakes share it.
      pending ??= (async () => {
        try {
          if (!(await present())) await install();
        } catch (err) {
          throw new Error(`the network filter could not be installed: ${reason(err)}`, { cause: err });
        } finally {
          pending = undefined;
        }
      })();
      return pending;
    },
    async covers(bridge) {
      await access(`/sys/class/net/${bridge}`).catch((err: unknown) => {
        throw new Error(
          `the bridge ${bridge} of a tenant network is not an interface of this host: the engine runs elsewhere, and the network filter does not reach it`,
          { cause: err },
        );
      });
    },
  };
}

/** Removes an instance's rules and chains (tests, and operators retiring an instance). Missing ones are fine. */
export async function removeNetworkFilter(instance: string): Promise<void> {
  for (const [chain = '', ...spec] of filterJumps(instance)) {
    while (
      await iptables(['-D', chain, ...spec]).then(
        () => true,
        () => false,
      )
    );
  }
  for (const chain of Object.values(filterChains(instance))) {
    await iptables(['-F', chain]).catch(() => undefined);
    await iptables(['-X', chain]).catch(() => undefined);
  }
}

/** iptables waits for the xtables lock (-w) rather than failing when Docker holds it. */
function iptables(args: string[]): Promise<unknown> {
  return run('iptables', ['-w', ...args], { timeout: 10_000 });
}

function iptablesRestore(rules: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = execFile('iptables-restore', ['-w', '--noflush'], { timeout: 10_000 }, (err) =>
      err ? reject(err) : resolve(),
    );
    child.stdin?.end(rules);
  });
}

function reason(err: unknown): string {
  const { stderr, message } = err as { stderr?: string; message?: string };
  return (stderr || message || String(err)).trim().split('\n')[0] ?? 'unknown error';
}
