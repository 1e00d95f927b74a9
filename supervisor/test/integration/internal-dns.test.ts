import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createSocket } from 'node:dgram';
import { once } from 'node:events';
import { promisify } from 'node:util';
import { json, seg, startSupervisor, testImages } from '@tenancy/test-support';
import t from 'tap';
import { exec } from './helpers.js';
import { startOwnEngine } from './own-engine.js';

const run = promisify(execFile);
const isRoot = process.getuid?.() === 0;
// One /28 only: the tenant's network is 10.217.0.0/28 and the host's address on its bridge is
// 10.217.0.1. Clear of the default pool (10.201/16), test-support's (10.20–10.199), the fixed test
// ranges (10.213–10.215) and the engine-restart test's (10.216).
const POOL = '10.217.0.0/28';
const HOST_ON_BRIDGE = '10.217.0.1';

/** From inside a container: one lookup through the container's resolver (the engine's), 3 s, no retry. */
const LOOKUP = `
const { Resolver } = require('dns');
const resolver = new Resolver({ timeout: 3000, tries: 1 });
resolver.resolve4(process.argv[1], (err, addresses) => console.log(err ? err.code : 'resolved ' + addresses));`;

/** The query name of a DNS message (RFC 1035 §4.1.2), lowercased; undefined when it does not parse. */
function queryName(message: Buffer): string | undefined {
  const labels: string[] = [];
  let offset = 12;
  while (offset < message.length) {
    const length = message[offset] ?? 0;
    if (length === 0) return labels.join('.').toLowerCase();
    if (length > 63) return undefined;
    labels.push(message.subarray(offset + 1, offset + 1 + length).toString('latin1'));
    offset += 1 + length;
  }
  return undefined;
}

/**
 * CVE-2024-29018: engines before 26.0 (and 25.0.4) forward DNS queries of containers on internal
 * networks to their upstream resolvers, a channel out for tenants that should have none. On this
 * 20.10 engine it leaks whenever the upstream is one of the host's own addresses. The test runs
 * that upstream itself: a dockerd of its own whose default resolver (--dns) is the host's address
 * on the tenant's bridge, where the test listens on port 53. A free-plan tenant's lookup must not
 * reach it; a container on the same network without the supervisor's setting (the control) does,
 * so the listener is not deaf and the engine does leak.
 */
t.test(
  "a free-plan tenant's DNS query for an outside name never reaches the engine's upstream resolver",
  { skip: isRoot ? false : 'starting dockerd needs root' },
  async (t) => {
    const engine = await startOwnEngine(t, [`--dns=${HOST_ON_BRIDGE}`]);
    const supervisor = await startSupervisor(t, { DOCKER_HOST: engine.dockerHost, TENANT_SUBNET_POOL: POOL });
    const userId = 'no-dns-out';
    t.equal((await supervisor.api('PUT', `/internal/v1/users/${seg(userId)}`, {}, 'internal')).status, 200);
    const woken = await json(
      await supervisor.api('POST', `/internal/v1/tenants/${seg(userId)}/wake`, { wait: true }, 'internal'),
    );
    t.equal(woken.status, 200, JSON.stringify(woken.body));

    const [tenant] = await engine.docker.listContainers({
      filters: { label: [`dev.tenancy.instance=${supervisor.instance}`] },
    });
    const [networkName, network] = Object.entries(tenant?.NetworkSettings?.Networks ?? {})[0] ?? [];
    t.equal(network?.Gateway, HOST_ON_BRIDGE, "the upstream is the host's address on the tenant's bridge");
    t.equal((await engine.docker.getNetwork(networkName ?? '').inspect()).Internal, true, 'free plan: internal');

    // In host mode the network filter (every supervisor's on this host: its rules match all tenant
    // bridges) refuses a tenant's traffic to the host, the engine's forwarded query included.
    // A hole for DNS on this bridge, ahead of those rules, lets this check the resolver setting
    // alone, as on a compose host (where the bridge gives the host no address instead).
    const bridge = (await engine.docker.getNetwork(networkName ?? '').inspect()).Options?.[
      'com.docker.network.bridge.name'
    ];
    t.match(bridge, /^tni/, 'a bridge the network filter covers');
    const hole = ['INPUT', '-i', bridge ?? '', '-p', 'udp', '--dport', '53', '-j', 'ACCEPT'];
    await run('iptables', ['-w', '-I', ...hole.slice(0, 1), '1', ...hole.slice(1)]);
    t.teardown(() => run('iptables', ['-w', '-D', ...hole]).catch(() => undefined));

    // The upstream resolver: it never answers, it only records the names asked.
    const upstream = createSocket('udp4');
    const asked: string[] = [];
    const arrivals = new EventTarget();
    upstream.on('message', (message) => {
      asked.push(queryName(message) ?? '?');
      arrivals.dispatchEvent(new Event('query'));
    });
    upstream.bind(53, HOST_ON_BRIDGE);
    await once(upstream, 'listening');
    t.teardown(() => upstream.close());

    const tenantName = `tenant-${randomBytes(6).toString('hex')}.tenancy-test.invalid`;
    const fromTenant = await exec(engine.docker, tenant?.Id ?? '', ['node', '-e', LOOKUP, tenantName]);
    t.not(fromTenant.output.trim().startsWith('resolved'), true, `the lookup failed (${fromTenant.output.trim()})`);

    // The control: the same engine, the same internal network, no setting of the supervisor's.
    const controlName = `control-${randomBytes(6).toString('hex')}.tenancy-test.invalid`;
    const heard = once(arrivals, 'query');
    const control = await engine.docker.createContainer({
      Image: testImages.tenant,
      User: '1000:1000',
      Entrypoint: ['node', '-e', LOOKUP, controlName],
      HostConfig: { NetworkMode: networkName ?? '' },
    });
    await control.start();
    await heard;
    await control.wait();

    t.same(asked, [controlName], "only the control's query reached the upstream, never the tenant's");
  },
);
