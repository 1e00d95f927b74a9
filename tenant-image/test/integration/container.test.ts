import {
  createTestContainer,
  createTestNetwork,
  type Teardown,
  testDocker,
  testImages,
  testLabels,
  uniqueName,
  waitForHttp,
} from '@tenancy/test-support';
import type Docker from 'dockerode';
import t from 'tap';

const SECRET = 'tenant-secret-0123456789';

/** Two labelled named volumes, removed at teardown. */
async function volumes(t: Teardown, docker: Docker) {
  const names = { files: uniqueName('tenant-files'), history: uniqueName('tenant-history') };
  for (const name of Object.values(names)) await docker.createVolume({ Name: name, Labels: testLabels() });
  t.teardown(async () => {
    for (const name of Object.values(names))
      await docker
        .getVolume(name)
        .remove({ force: true })
        .catch(() => undefined);
  });
  return names;
}

/** The tenant image run the way the supervisor runs it: read-only, uid 1000, no capabilities. */
async function runTenant(t: Teardown, docker: Docker, network: string, vols: { files: string; history: string }) {
  const container = await createTestContainer(t, docker, {
    Image: testImages.tenant,
    User: '1000:1000',
    Env: [`TENANT_SECRET=${SECRET}`],
    HostConfig: {
      NetworkMode: network,
      ReadonlyRootfs: true,
      CapDrop: ['ALL'],
      SecurityOpt: ['no-new-privileges:true'],
      Tmpfs: { '/tmp': 'rw,noexec,nosuid,size=16m' },
      Mounts: [
        { Type: 'volume', Source: vols.files, Target: '/data/files' },
        { Type: 'volume', Source: vols.history, Target: '/data/history' },
      ],
    },
  });
  await container.start();
  const info = await container.inspect();
  const url = `http://${Object.values(info.NetworkSettings.Networks)[0]?.IPAddress}:8080`;
  const ms = await waitForHttp(`${url}/health`, 15_000);
  return { container, url, ms };
}

const chat = (url: string, message: string) =>
  fetch(`${url}/chat`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-tenancy-tenant-secret': SECRET },
    body: JSON.stringify({ message }),
  });
/** Every message of the history, newest first, following the pages. */
const history = async (url: string): Promise<string[]> => {
  const all: string[] = [];
  for (let before: number | null = null; ; ) {
    const query = before === null ? '' : `&before=${before}`;
    const res = await fetch(`${url}/history?limit=200${query}`, { headers: { 'x-tenancy-tenant-secret': SECRET } });
    const page = (await res.json()) as { items: { content: string }[]; next: number | null };
    all.push(...page.items.map((m) => m.content));
    if (page.next === null) return all;
    before = page.next;
  }
};

t.test('hardened run: the seed chat works, and history survives stop/start and re-creation', async (t) => {
  const docker = testDocker();
  const network = await createTestNetwork(t, docker, { internal: true });
  const vols = await volumes(t, docker);
  const first = await runTenant(t, docker, network.id, vols);
  t.comment(`container start → health 200 in ${first.ms.toFixed(0)} ms`);
  const res = await chat(first.url, 'Hello!');
  t.equal(res.status, 200);
  t.match(await res.json(), { reply: /^Hello! Your private container is awake/ });

  await first.container.stop({ t: 10 });
  t.equal((await first.container.inspect()).State.ExitCode, 0, 'graceful stop exits 0');
  await first.container.start();
  const info = await first.container.inspect();
  const url = `http://${Object.values(info.NetworkSettings.Networks)[0]?.IPAddress}:8080`;
  await waitForHttp(`${url}/health`, 15_000);
  t.same(await history(url), [
    'Hello! Your private container is awake and listening. Type "help" to see what I can do.',
    'Hello!',
  ]);
  await first.container.remove({ force: true });

  const second = await runTenant(t, docker, network.id, vols);
  t.equal((await history(second.url)).length, 2, 'a new container on the same volumes has the history');
});

t.test('kill -9 during a burst of writes: the database is intact and holds every acknowledged message', async (t) => {
  const docker = testDocker();
  const network = await createTestNetwork(t, docker, { internal: true });
  const vols = await volumes(t, docker);
  const tenant = await runTenant(t, docker, network.id, vols);
  const acknowledged: string[] = [];
  let stop = false;
  const writers = Array.from({ length: 4 }, async (_, writer) => {
    for (let i = 0; !stop; i++) {
      const message = `w${writer}-${i}`;
      try {
        const res = await chat(tenant.url, message);
        if (res.status === 200) acknowledged.push(message);
        await res.arrayBuffer();
      } catch {
        return;
      }
    }
  });
  await new Promise((resolve) => setTimeout(resolve, 700));
  await tenant.container.kill({ signal: 'SIGKILL' });
  stop = true;
  await Promise.all(writers);
  t.ok(acknowledged.length > 20, `${acknowledged.length} messages acknowledged before the kill`);

  // Check the file itself with the image's own SQLite, then through the app.
  const check = await createTestContainer(t, docker, {
    Image: testImages.tenant,
    User: '1000:1000',
    Entrypoint: [
      'node',
      '-e',
      "const db = require('better-sqlite3')('/data/history/history.db'); console.log(db.pragma('integrity_check', { simple: true }))",
    ],
    HostConfig: { NetworkMode: 'none', Mounts: [{ Type: 'volume', Source: vols.history, Target: '/data/history' }] },
  });
  await check.start();
  await check.wait();
  const output = (await check.logs({ stdout: true, stderr: true })).toString();
  t.match(output, /ok/, 'PRAGMA integrity_check = ok');

  await tenant.container.start();
  const info = await tenant.container.inspect();
  const url = `http://${Object.values(info.NetworkSettings.Networks)[0]?.IPAddress}:8080`;
  await waitForHttp(`${url}/health`, 15_000);
  const stored = new Set(await history(url));
  const missing = acknowledged.filter((message) => !stored.has(message));
  t.same(missing, [], 'every acknowledged message is there');
});
