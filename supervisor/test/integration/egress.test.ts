import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { promisify } from 'node:util';
import { json, seg, startSupervisor, type Teardown, testDocker } from '@tenancy/test-support';
import t from 'tap';
import { CONNECT, exec } from './helpers.js';

const run = promisify(execFile);
const isRoot = process.getuid?.() === 0;

/** The stand-in for everything outside the host: one HTTP server on every address of its namespace. */
const OUTSIDE_SERVER = `
require('http').createServer((req, res) => res.end('outside ' + req.socket.localAddress))
  .listen(8099, '0.0.0.0', () => console.log('listening'));`;
const OUTSIDE_PORT = '8099';

/** The link between the host and the stand-in namespace (documentation addresses). */
const LINK_HOST = '198.51.100.1';
const LINK_OUTSIDE = '198.51.100.2';
/** Where the stand-in answers: the internet (documentation block), and three blocks that are not it. */
const INTERNET = '203.0.113.10';
const METADATA = '169.254.169.254';
const PRIVATE = '10.254.213.10';
const CGNAT = '100.64.213.10';

const ip = (...args: string[]) => run('ip', args);

/**
 * Builds "the outside" on this machine: a network namespace behind a veth pair, answering HTTP on
 * a documentation address (the internet, for this test), the metadata address, a private and a
 * CGNAT address, each routed from the host through the pair. Removed at teardown.
 */
async function startOutside(t: Teardown): Promise<void> {
  const id = randomBytes(3).toString('hex');
  const namespace = `tenancy-egress-${id}`;
  const hostEnd = `teh${id}`;
  const outsideEnd = `teo${id}`;
  await ip('netns', 'add', namespace);
  t.teardown(() => ip('netns', 'del', namespace).catch(() => undefined));
  await ip('link', 'add', hostEnd, 'type', 'veth', 'peer', 'name', outsideEnd, 'netns', namespace);
  t.teardown(() => ip('link', 'del', hostEnd).catch(() => undefined));
  await ip('addr', 'add', `${LINK_HOST}/30`, 'dev', hostEnd);
  await ip('link', 'set', hostEnd, 'up');
  await ip('-n', namespace, 'addr', 'add', `${LINK_OUTSIDE}/30`, 'dev', outsideEnd);
  await ip('-n', namespace, 'link', 'set', outsideEnd, 'up');
  await ip('-n', namespace, 'link', 'set', 'lo', 'up');
  await ip('-n', namespace, 'route', 'add', 'default', 'via', LINK_HOST);
  for (const address of [INTERNET, METADATA, PRIVATE, CGNAT]) {
    await ip('-n', namespace, 'addr', 'add', `${address}/32`, 'dev', 'lo');
    // Host routes only (/32), gone with the veth pair.
    await ip('route', 'add', `${address}/32`, 'via', LINK_OUTSIDE, 'dev', hostEnd);
  }
  const server: ChildProcess = spawn('ip', ['netns', 'exec', namespace, process.execPath, '-e', OUTSIDE_SERVER], {
    // stderr forwarded, not inherited: an orphan holding it would keep tap waiting forever.
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  server.stderr?.pipe(process.stderr);
  t.teardown(async () => {
    if (server.exitCode === null && server.signalCode === null) {
      server.kill('SIGTERM');
      await once(server, 'exit');
    }
  });
  await once(server.stdout ?? server, 'data');
}

/**
 * A plan with egress reaches the internet and nothing inside: the supervisor's filter (iptables,
 * installed at its start) keeps an egress tenant off the metadata address, private and CGNAT
 * blocks, the host's own addresses and other tenants. Every listener answers the host (the
 * controls), so "unreachable" from the tenant is the filter; EHOSTUNREACH is its refusal.
 */
t.test(
  'an egress tenant reaches the internet, and not the metadata address, private or CGNAT blocks, the host or another tenant',
  { skip: isRoot ? false : 'iptables and network namespaces need root' },
  async (t) => {
    await startOutside(t);
    const supervisor = await startSupervisor(t, { PLANS: JSON.stringify({ pro: { egress: true } }) });

    const endpoints: Record<string, URL> = {};
    for (const userId of ['egress-a', 'egress-b']) {
      await supervisor.api('PUT', `/internal/v1/users/${seg(userId)}`, { plan: 'pro' }, 'internal');
      const woken = await json(
        await supervisor.api('POST', `/internal/v1/tenants/${seg(userId)}/wake`, { wait: true }, 'internal'),
      );
      t.equal(woken.status, 200, JSON.stringify(woken.body));
      endpoints[userId] = new URL(woken.body.endpoint.url);
    }
    const a = endpoints['egress-a'] as URL;
    const b = endpoints['egress-b'] as URL;
    const docker = testDocker();
    const containers = await docker.listContainers({
      filters: { label: [`dev.tenancy.instance=${supervisor.instance}`] },
    });
    const tenantA = containers.find((c) =>
      Object.values(c.NetworkSettings?.Networks ?? {}).some((n) => n.IPAddress === a.hostname),
    );
    const networkA = Object.values(tenantA?.NetworkSettings?.Networks ?? {})[0];
    t.equal((await docker.getNetwork(networkA?.NetworkID ?? '').inspect()).Internal, false, 'an egress network');

    // A service on the host's address on A's bridge.
    const hostService = createServer((_req, res) => res.end('host'));
    hostService.listen(0, networkA?.Gateway);
    await once(hostService, 'listening');
    t.teardown(() => new Promise((resolve) => hostService.close(resolve)));
    const hostPort = String((hostService.address() as AddressInfo).port);

    // Controls, from the host: every listener answers, and B runs.
    for (const address of [INTERNET, METADATA, PRIVATE, CGNAT]) {
      t.equal(await (await fetch(`http://${address}:${OUTSIDE_PORT}/`)).text(), `outside ${address}`, address);
    }
    t.equal(await (await fetch(`http://${networkA?.Gateway}:${hostPort}/`)).text(), 'host');
    t.equal((await fetch(`${b.origin}/health`)).status, 200, 'B answers the host');

    const probe = async (host: string, port: string) =>
      (await exec(docker, tenantA?.Id ?? '', ['node', '-e', CONNECT, host, port])).output.trim();
    t.equal(await probe(INTERNET, OUTSIDE_PORT), 'open', 'the internet');
    const page = await exec(docker, tenantA?.Id ?? '', [
      'node',
      '-e',
      `fetch('http://${INTERNET}:${OUTSIDE_PORT}/').then((r) => r.text()).then(console.log)`,
    ]);
    t.equal(page.output.trim(), `outside ${INTERNET}`, 'and fetches a page from it');
    t.equal(await probe(METADATA, OUTSIDE_PORT), 'EHOSTUNREACH', 'the metadata address');
    t.equal(await probe(PRIVATE, OUTSIDE_PORT), 'EHOSTUNREACH', 'a private address');
    t.equal(await probe(CGNAT, OUTSIDE_PORT), 'EHOSTUNREACH', 'a CGNAT address');
    t.equal(await probe(networkA?.Gateway ?? '', hostPort), 'EHOSTUNREACH', "the host's address on the bridge");
    t.equal(await probe(LINK_HOST, hostPort), 'EHOSTUNREACH', "the host's address on another interface");
    t.equal(await probe(b.hostname, b.port), 'EHOSTUNREACH', 'another tenant');
    t.equal(await probe(a.hostname, a.port), 'open', 'control: A reaches itself');
  },
);
