import { readFile } from 'node:fs/promises';
import t from 'tap';
import { API_DOC, buildApps, ROUTE_NOTES, renderApiRegions } from '../api-docs.js';
import { readRegion } from '../doc-regions.js';

const HOW = 'run `npx tsx --conditions=tenancy-source scripts/api-docs.ts --write`';

t.test('docs/api.md holds the routes, schemas and error codes the apps really have', async (t) => {
  const doc = await readFile(API_DOC, 'utf8');
  const regions = await renderApiRegions();
  for (const [name, text] of Object.entries(regions)) {
    t.equal(readRegion(doc, name), text, `region ${name} of docs/api.md is out of date: ${HOW}`);
  }
});

t.test('every declared auth requirement holds: without credentials the route answers 401', async (t) => {
  const apps = await buildApps();
  t.teardown(() => Promise.all(apps.map(({ app }) => app.close())));
  let checked = 0;
  for (const { service, app, routes } of apps) {
    for (const route of routes) {
      const key = `${route.method} ${route.url}`;
      const note = ROUTE_NOTES[service]?.[key];
      if (!note) {
        t.fail(`${service} ${key} has no ROUTE_NOTES entry`);
        continue;
      }
      const method = route.method === 'ANY' ? 'GET' : (route.method as 'GET');
      // A concrete URL for the route: parameters and wildcards get a harmless value.
      const url = route.url.replace(/:userId/g, 'ada').replace(/\*$/, 'anything');
      const body = method === 'GET' ? {} : { headers: { 'content-type': 'application/json' }, payload: '{}' };
      const res = await app.inject({ method, url, ...body });
      if (note.auth === 'none') t.not(res.statusCode, 401, `${service} ${key} is open`);
      else t.equal(res.statusCode, 401, `${service} ${key} refuses a caller without credentials (${note.auth})`);
      checked++;
    }
  }
  // 40 gateway routes, 40 supervisor routes, 10 tenant routes.
  t.equal(checked, 90, 'every route was checked');
});
