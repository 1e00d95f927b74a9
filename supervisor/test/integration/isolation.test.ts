import { once } from 'node:events';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { readJson, seg, startSupervisor, testDocker, testRedisUrl } from '@tenancy/test-support';
import t from 'tap';
import { CONNECT, exec } from './helpers.js';

t.test(
  'from inside tenant A, tenant B, the supervisor API, Redis and services on all host addresses are unreachable',
  async (t) => {
    const supervisor = await startSupervisor(t);
    const routes: Record<string, { endpoint: { url: string } }> = {};
    for (const userId of ['tenant-a', 'tenant-b']) {
      await supervisor.api('PUT', `/internal/v1/users/${seg(userId)}`, {}, 'internal');
      const res = await supervisor.api('POST', `/internal/v1/tenants/${seg(userId)}/wake`, { wait: true }, 'internal');
      routes[userId] = await readJson(res);
    }
    const a = new URL(routes['tenant-a']?.endpoint.url ?? '');
    const b = new URL(routes['tenant-b']?.endpoint.url ?? '');
    const docker = testDocker();
    const containers = await docker.listContainers({
      filters: { label: [`dev.tenancy.instance=${supervisor.instance}`] },
    });
    const inspectA = containers.find((c) =>
      Object.values(c.NetworkSettings?.Networks ?? {}).some((n) => n.IPAddress === a.hostname),
    );
    t.ok(inspectA, 'found tenant A');
    const idA = inspectA?.Id ?? '';
    // The host side of A's bridge: where host services listening on all interfaces would show up.
    const networkA = Object.values(inspectA?.NetworkSettings?.Networks ?? {})[0];
    const gatewayA = networkA?.Gateway ?? '';
    const supervisorPort = new URL(supervisor.url).port;
    // A service listening on all of the host's addresses, as many host services do.
    const hostService = createServer((_req, res) => res.end('host'));
    hostService.listen(0, '0.0.0.0');
    await once(hostService, 'listening');
    t.teardown(() => new Promise((resolve) => hostService.close(resolve)));
    const hostPort = String((hostService.address() as AddressInfo).port);
    const networkB = containers.find((c) =>
      Object.values(c.NetworkSettings?.Networks ?? {}).some((n) => n.IPAddress === b.hostname),
    );
    const gatewayB = Object.values(networkB?.NetworkSettings?.Networks ?? {})[0]?.Gateway ?? '';
    const bridgeA = (await docker.getNetwork(networkA?.NetworkID ?? '').inspect()).Options;
    t.match(bridgeA, { 'com.docker.network.bridge.name': /^tni[0-9a-f]{12}$/ }, "A's bridge is one the filter covers");
    const redisPort = new URL(testRedisUrl()).port;

    const probe = async (host: string, port: string) =>
      (await exec(docker, idA, ['node', '-e', CONNECT, host, port])).output.trim();

    t.equal(await probe(a.hostname, a.port), 'open', 'control: A reaches itself');
    t.not(await probe(b.hostname, b.port), 'open', 'tenant B');
    t.not(await probe(gatewayA, supervisorPort), 'open', 'the supervisor API through the bridge');
    t.not(await probe('127.0.0.1', supervisorPort), 'open', 'the supervisor API on loopback');
    t.not(await probe(gatewayA, redisPort), 'open', 'Redis through the bridge');
    t.not(await probe('127.0.0.1', redisPort), 'open', 'Redis on loopback');
    t.equal(await probe(gatewayA, hostPort), 'EHOSTUNREACH', "a host service through the host's address on A's bridge");
    t.equal(await probe(gatewayB, hostPort), 'EHOSTUNREACH', "a host service through the host's address on B's bridge");

    // Control from the host: B is up, so "unreachable" above is isolation, not a dead tenant.
    t.equal((await fetch(`${b.origin}/health`)).status, 200, 'B answers the host');
    t.equal(await (await fetch(`http://${gatewayA}:${hostPort}/`)).text(), 'host', 'the host service answers the host');
  },
);
