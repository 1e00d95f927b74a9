// Runs inside the build stage of services.Dockerfile (exec form, so the base needs no shell), in
// a context shaped like the repository: shared/ and the service's folder, with a root lockfile.
//
// Production (PREBUILT unset): install everything, compile, then reinstall the production
// dependencies of shared/ and the service only.
// Offline builds (PREBUILT=1): scripts/build-images.sh already compiled dist/ and installed the
// production node_modules/ on the host with the node binary of the base image, so nothing is fetched.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, rmSync } from 'node:fs';

const service = process.env.SERVICE;
if (service !== 'gateway' && service !== 'supervisor') throw new Error('SERVICE must be gateway or supervisor');
const run = (command, args) => execFileSync(command, args, { stdio: 'inherit' });

if (process.env.PREBUILT === '1') {
  const expected = [`${service}/dist/server.js`, 'shared/dist/index.js', 'node_modules/fastify/package.json'];
  if (service === 'supervisor') expected.push('node_modules/better-sqlite3/build/Release/better_sqlite3.node');
  for (const path of expected) {
    if (!existsSync(path)) throw new Error(`PREBUILT=1 but ${path} is missing from the build context`);
  }
} else {
  run('npm', ['ci', '--no-audit', '--no-fund']);
  run('npm', ['run', 'build']);
  // A fresh production install of just the two workspaces: the dev tools and the other
  // service's dependencies stay out of the image. npm's cache from the first install serves it.
  run('npm', ['ci', '--omit=dev', '--no-audit', '--no-fund', '--workspace=shared', `--workspace=${service}`]);
}

// Build leftovers of the native SQLite addon: only the .node file is loaded at run time.
for (const leftover of [
  'build/Release/obj',
  'build/Release/obj.target',
  'build/Release/test_extension.node',
  'build/deps',
  'deps',
  'src',
]) {
  rmSync(`node_modules/better-sqlite3/${leftover}`, { recursive: true, force: true });
}

// The supervisor's state folder (database, backups). Docker copies a folder's ownership into a
// new, empty named volume the first time it is mounted there, which makes the volume writable by
// the service's uid 1000 (the Dockerfile copies it with --chown).
mkdirSync('state/backups', { recursive: true });
