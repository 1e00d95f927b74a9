import t from 'tap';
import { DEFAULT_PLAN } from '../../src/plans.js';
import { networkFollowsPlan, networkOptions } from '../../src/runtime/container-spec.js';
import { filterChains, filterRules, tenantBridgeName } from '../../src/runtime/network-filter.js';
import type { TenantSpec } from '../../src/runtime/types.js';

t.test('bridge names are valid Linux interface names, one per network, under the prefix of its kind', async (t) => {
  const networks = ['tenancy-0123456789abcdef01234567', 'x'.repeat(200), 'a'];
  const egress = networks.map((network) => tenantBridgeName(network, true));
  const internal = networks.map((network) => tenantBridgeName(network, false));
  for (const name of egress) t.match(name, /^tne[0-9a-f]{12}$/, 'at most 15 characters');
  for (const name of internal) t.match(name, /^tni[0-9a-f]{12}$/, 'at most 15 characters');
  t.equal(new Set(egress).size, networks.length);
});

t.test('chain names fit iptables (28 characters) and differ between instances', async (t) => {
  const a = filterChains('a'.repeat(24));
  for (const chain of Object.values(a)) t.ok(chain.length <= 28, chain);
  t.not(filterChains('tenancy').forward, a.forward);
});

t.test(
  'the rules: replies and the own bridge pass, non-public blocks and extras are refused, the host only answers',
  async (t) => {
    const { forward, input } = filterChains('tenancy');
    const rules = filterRules('tenancy', ['198.51.100.0/24']).split('\n');
    const refused = (block: string) => `-A ${forward} -d ${block} -j REJECT --reject-with icmp-admin-prohibited`;
    for (const block of [
      '10.0.0.0/8',
      '100.64.0.0/10',
      '169.254.0.0/16',
      '172.16.0.0/12',
      '192.168.0.0/16',
      '198.51.100.0/24',
    ]) {
      t.ok(rules.includes(refused(block)), block);
    }
    t.notOk(rules.includes(refused('203.0.113.0/24')), 'documentation block used as the internet by the tests');
    const forwardRules = rules.filter((rule) => rule.startsWith(`-A ${forward} `));
    t.equal(forwardRules[0], `-A ${forward} -m conntrack --ctstate RELATED,ESTABLISHED -j RETURN`, 'replies first');
    t.equal(forwardRules.at(-1), `-A ${forward} -j RETURN`, "the rest goes on to Docker's rules");
    t.same(
      rules.filter((rule) => rule.startsWith(`-A ${input} `)),
      [
        `-A ${input} -m conntrack --ctstate RELATED,ESTABLISHED -j RETURN`,
        `-A ${input} -j REJECT --reject-with icmp-admin-prohibited`,
      ],
    );
    t.equal(rules[0], '*filter');
    t.ok(rules.includes('COMMIT'));
  },
);

const spec = (egress: boolean) =>
  ({
    names: { network: 'tenancy-net' },
    limits: { ...DEFAULT_PLAN, egress },
    subnet: '10.213.0.0/28',
  }) as unknown as TenantSpec;
const BRIDGE = 'com.docker.network.bridge.name';
const NO_HOST_ADDRESS = 'com.docker.network.bridge.inhibit_ipv4';

t.test('the host meets a tenant network through a filtered bridge, or has no address on it', async (t) => {
  t.strictSame(networkOptions(spec(true), {}, true).Options, { [BRIDGE]: tenantBridgeName('tenancy-net', true) });
  t.strictSame(networkOptions(spec(true), {}, false).Options, { [BRIDGE]: tenantBridgeName('tenancy-net', true) });
  t.strictSame(
    networkOptions(spec(false), {}, true).Options,
    { [BRIDGE]: tenantBridgeName('tenancy-net', false) },
    'host mode: the host reaches tenants through its address on the bridge, which the filter covers',
  );
  t.strictSame(
    networkOptions(spec(false), {}, false).Options,
    { [NO_HOST_ADDRESS]: 'true' },
    'peers attached (compose): the host has no address on the bridge',
  );
  t.equal(networkOptions(spec(false), {}, false).Internal, true);
  t.equal(networkOptions(spec(true), {}, false).Internal, false);
});

t.test('a network follows the plan only with the right Internal flag and the options of its kind', async (t) => {
  const egressBridge = { [BRIDGE]: tenantBridgeName('tenancy-net', true) };
  const internalBridge = { [BRIDGE]: tenantBridgeName('tenancy-net', false) };
  const noHostAddress = { [NO_HOST_ADDRESS]: 'true' };
  const rows: [string, { Internal: boolean; Options?: Record<string, string> }, boolean, boolean, boolean][] = [
    // name, network, egress plan, host on bridge, follows
    [
      'internal network on the filtered bridge, host mode',
      { Internal: true, Options: internalBridge },
      false,
      true,
      true,
    ],
    ['internal network made before the filter, host mode', { Internal: true }, false, true, false],
    [
      'internal network without a host address, compose',
      { Internal: true, Options: noHostAddress },
      false,
      false,
      true,
    ],
    ['internal network with a host address, compose', { Internal: true }, false, false, false],
    ['internal network, egress plan', { Internal: true, Options: egressBridge }, true, true, false],
    ['egress network, free plan', { Internal: false, Options: egressBridge }, false, true, false],
    ['egress network on the filtered bridge', { Internal: false, Options: egressBridge }, true, true, true],
    ['egress network made before the filter', { Internal: false }, true, true, false],
    ['egress network on another bridge name', { Internal: false, Options: { [BRIDGE]: 'br0' } }, true, true, false],
  ];
  for (const [name, network, egress, hostOnBridge, follows] of rows)
    t.equal(networkFollowsPlan(network, spec(egress), hostOnBridge), follows, name);
});

t.test('every tenant bridge jumps to the host chain, egress bridges to the forward chain too', async (t) => {
  const { forward, input } = filterChains('tenancy');
  t.match(filterRules('tenancy'), new RegExp(`:${forward} `));
  t.match(filterRules('tenancy'), new RegExp(`:${input} `));
});
