import { readJson, startRedisServer, startSupervisor } from '@tenancy/test-support';
import { tarEntryNames } from '@tenancy/test-support/archive';
import t from 'tap';
import { createSupervisorClient } from '../../src/supervisor/client.js';
import { startGateway } from '../harness.js';

const sameOrigin = { 'sec-fetch-site': 'same-origin' };

/**
 * The user's data rights through the gateway, against a real supervisor and the user's real
 * container: the export download, account deletion (sessions end, the account is refused but for
 * export and restore) and its cancellation.
 */
t.test('a user downloads their data, asks for deletion, and cancels it', async (t) => {
  const supervisor = await startSupervisor(t);
  const redis = await startRedisServer(t);
  const gw = await startGateway(t, {
    redisUrl: redis.url,
    supervisor: createSupervisorClient(supervisor.url, supervisor.internalToken),
  });
  const user = 'data-rights-user';

  t.equal((await fetch(`${gw.url}/auth/export`)).status, 401, 'no export without a session');

  const cookie = await gw.login(user);
  t.equal((await fetch(`${gw.url}/warmup`, { method: 'POST', headers: { cookie } })).status, 200);
  const chat = await fetch(`${gw.url}/chat`, {
    method: 'POST',
    headers: { cookie, 'content-type': 'application/json' },
    body: JSON.stringify({ message: 'keep this' }),
  });
  t.equal(chat.status, 200);

  const download = await fetch(`${gw.url}/auth/export`, { headers: { cookie } });
  t.equal(download.status, 200);
  t.equal(download.headers.get('content-type'), 'application/x-tar');
  t.match(
    download.headers.get('content-disposition'),
    /^attachment; filename="tenancy-export-\d{4}-\d{2}-\d{2}\.tar"$/,
  );
  t.equal(download.headers.get('cache-control'), 'no-store');
  t.equal(download.headers.get('x-content-type-options'), 'nosniff');
  const names = await tarEntryNames(download);
  t.ok(names.includes('tenancy-export/account.json'), 'the platform record');
  t.ok(
    names.some((name) => name.startsWith('tenancy-export/volumes/history/')),
    `the history volume (${names.join(', ')})`,
  );

  // Deleting is a state change: refused from another site, and nothing happens.
  const crossSite = await fetch(`${gw.url}/auth/account/delete`, {
    method: 'POST',
    headers: { cookie, 'sec-fetch-site': 'cross-site' },
  });
  t.equal(crossSite.status, 403);
  t.equal((await readJson(crossSite)).code, 'GW_ERR_CROSS_SITE_REFUSED');
  t.equal((await fetch(`${gw.url}/auth/session`, { headers: { cookie } })).status, 200, 'still signed in');

  const deleted = await fetch(`${gw.url}/auth/account/delete`, { method: 'POST', headers: { cookie, ...sameOrigin } });
  t.equal(deleted.status, 202);
  t.match(await readJson(deleted), {
    deletion_due_at: /^\d{4}-\d{2}-\d{2}T/,
    restore: /POST \/auth\/account\/restore/,
  });
  t.match(deleted.headers.getSetCookie()[0] ?? '', /^tenancy_session=;/, 'the cookie is cleared');
  t.equal((await fetch(`${gw.url}/auth/session`, { headers: { cookie } })).status, 401, 'the session ended');

  // Signed in again within the grace: the tenant is refused; export and restore are not.
  const again = await gw.login(user);
  const refused = await fetch(`${gw.url}/warmup`, { method: 'POST', headers: { cookie: again } });
  t.equal(refused.status, 403);
  t.equal((await readJson(refused)).code, 'GW_ERR_ACCOUNT_DELETION_PENDING');
  const stillExports = await fetch(`${gw.url}/auth/export`, { headers: { cookie: again } });
  t.equal(stillExports.status, 200, 'the data can still be taken away');
  await stillExports.arrayBuffer();

  const restored = await fetch(`${gw.url}/auth/account/restore`, {
    method: 'POST',
    headers: { cookie: again, ...sameOrigin },
  });
  t.equal(restored.status, 200);
  t.strictSame(await readJson(restored), { restored: true });
  t.equal((await fetch(`${gw.url}/warmup`, { method: 'POST', headers: { cookie: again } })).status, 200, 'back');
  const twice = await fetch(`${gw.url}/auth/account/restore`, {
    method: 'POST',
    headers: { cookie: again, ...sameOrigin },
  });
  t.equal(twice.status, 409);
  t.equal((await readJson(twice)).code, 'GW_ERR_ACCOUNT_DELETION_NOT_PENDING');
});
