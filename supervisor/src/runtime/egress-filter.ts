import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { access } from 'node:fs/promises';
import { promisify } from 'node:util';
import { errors } from '../errors.js';

const run = promisify(execFile);

/**
 * Bridges of tenant networks with egress are named this prefix and 12 hex digits, so one
 * interface match (`tne+`) covers every egress tenant, present and future: the rules below are
 * generic and nothing is added or left behind per tenant.
 */
export const EGRESS_BRIDGE_PREFIX = 'tne';

/** The Linux name of the bridge of a tenant network with egress (at most 15 characters). */
export function egressBridgeName(networkName: string): string {
  return `${EGRESS_BRIDGE_PREFIX}${createHash('sha256').update(networkName).digest('hex').slice(0, 12)}`;
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
export function egressChains(instance: string): { forward: string; input: string } {
  const id = createHash('sha256').update(instance).digest('hex').slice(0, 8);
  return { forward: `TENANCY-EGRESS-${id}`, input: `TENANCY-HOST-${id}` };
}

/**
 * The rules as iptables-restore input (--noflush: only these two chains are replaced, atomically).
 * Forwarded traffic from an egress bridge: replies and traffic within the tenant's own bridge (the
 * gateway and supervisor attached to it in compose) pass; anything to a denied block is refused;
 * the rest goes on to Docker's own rules, which let it out through NAT. Traffic from an egress
 * bridge to the host itself (its address on any interface, which Docker leaves open): only
 * replies pass.
 */
export function egressRules(instance: string, extraDenied: readonly string[] = []): string {
  const { forward, input } = egressChains(instance);
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

/** The rules that send egress bridges' traffic through the instance's chains, as iptables arguments. */
function jumps(instance: string): string[][] {
  const { forward, input } = egressChains(instance);
  const match = ['-i', `${EGRESS_BRIDGE_PREFIX}+`, '-m', 'comment', '--comment', `tenancy ${instance} egress`];
  // DOCKER-USER: the chain Docker keeps for its users, first in FORWARD, never flushed by the engine.
  return [
    ['DOCKER-USER', ...match, '-j', forward],
    ['INPUT', ...match, '-j', input],
  ];
}

/** Keeps egress tenants off everything but the internet. */
export interface EgressFilter {
  /**
   * Makes sure the rules are in place, installing or repairing them (a firewall reload may have
   * removed them). Throws SUP_ERR_EGRESS_UNAVAILABLE when they cannot be.
   */
  ensure(): Promise<void>;
  /**
   * Throws SUP_ERR_EGRESS_UNAVAILABLE unless `bridge` is an interface here, where the rules
   * apply: an engine on another host or in another network namespace is not covered by them.
   */
  covers(bridge: string): Promise<void>;
}

export interface IptablesEgressFilterOptions {
  /** TENANCY_INSTANCE: names the chains this supervisor owns. */
  instance: string;
  /** EGRESS_DENY: more blocks no egress tenant may reach (a LAN on public or documentation addresses), as CIDRs. */
  extraDenied?: readonly string[];
}

/** The {@link EgressFilter} of a supervisor that runs in the host's network namespace with iptables. */
export function createIptablesEgressFilter(options: IptablesEgressFilterOptions): EgressFilter {
  const extraDenied = options.extraDenied ?? [];
  let pending: Promise<void> | undefined;

  async function present(): Promise<boolean> {
    for (const rule of jumps(options.instance)) {
      const found = await iptables(['-C', ...rule]).then(
        () => true,
        () => false,
      );
      if (!found) return false;
    }
    return true;
  }

  async function install(): Promise<void> {
    await iptablesRestore(egressRules(options.instance, extraDenied));
    for (const rule of jumps(options.instance)) {
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
          throw errors.egressUnavailable(`the egress filter could not be installed: ${reason(err)}`, { cause: err });
        } finally {
          pending = undefined;
        }
      })();
      return pending;
    },
    async covers(bridge) {
      await access(`/sys/class/net/${bridge}`).catch((err: unknown) => {
        throw errors.egressUnavailable(
          `the bridge ${bridge} of an egress network is not an interface of this host: the engine runs elsewhere, and the egress filter does not reach it`,
          { cause: err },
        );
      });
    },
  };
}

/** Removes an instance's rules and chains (tests, and operators retiring an instance). Missing ones are fine. */
export async function removeEgressFilter(instance: string): Promise<void> {
  for (const [chain = '', ...spec] of jumps(instance)) {
    while (
      await iptables(['-D', chain, ...spec]).then(
        () => true,
        () => false,
      )
    );
  }
  for (const chain of Object.values(egressChains(instance))) {
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
