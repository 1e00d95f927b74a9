import t from 'tap';
import { DEFAULT_PLAN } from '../../src/plans.js';
import { networkFollowsPlan } from '../../src/runtime/container-spec.js';
import { egressBridgeName, egressChains, egressRules } from '../../src/runtime/egress-filter.js';
import type { TenantSpec } from '../../src/runtime/types.js';

t.test('egress bridge names are valid Linux interface names, one per network, all under the prefix', async (t) => {
  const names = ['tenancy-0123456789abcdef01234567', 'x'.repeat(200), 'a'].map(egressBridgeName);
  for (const name of names) t.match(name, /^tne[0-9a-f]{12}$/, 'at most 15 characters');
  t.equal(new Set(names).size, names.length);
});

t.test('chain names fit iptables (28 characters) and differ between instances', async (t) => {
  const a = egressChains('a'.repeat(24));
  for (const chain of Object.values(a)) t.ok(chain.length <= 28, chain);
  t.not(egressChains('tenancy').forward, a.forward);
});

t.test(
  'the rules: replies and the own bridge pass, non-public blocks and extras are refused, the host only answers',
  async (t) => {
    const { forward, input } = egressChains('tenancy');
    const rules = egressRules('tenancy', ['198.51.100.0/24']).split('\n');
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

t.test(
  'a network follows the plan only with the right Internal flag and, for egress, the filtered bridge',
  async (t) => {
    const spec = (egress: boolean) =>
      ({ names: { network: 'tenancy-net' }, limits: { ...DEFAULT_PLAN, egress } }) as unknown as TenantSpec;
    const bridge = { 'com.docker.network.bridge.name': egressBridgeName('tenancy-net') };
    const rows: [string, { Internal: boolean; Options?: Record<string, string> }, boolean, boolean][] = [
      ['internal network, free plan', { Internal: true }, false, true],
      ['internal network, egress plan', { Internal: true, Options: bridge }, true, false],
      ['egress network, free plan', { Internal: false, Options: bridge }, false, false],
      ['egress network on the filtered bridge', { Internal: false, Options: bridge }, true, true],
      ['egress network made before the filter', { Internal: false }, true, false],
      [
        'egress network on another bridge name',
        { Internal: false, Options: { 'com.docker.network.bridge.name': 'br0' } },
        true,
        false,
      ],
    ];
    for (const [name, network, egress, follows] of rows)
      t.equal(networkFollowsPlan(network, spec(egress)), follows, name);
  },
);
