// Runs inside the image's build stage (exec form, so the base needs no shell).
//
// Production (PREBUILT unset): install every dependency, compile, then drop dev dependencies.
// Offline builds (PREBUILT=1): the context already holds dist/ and production node_modules/
// made on the host with the same node binary as the base image, so nothing is fetched.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, rmSync } from 'node:fs';

const run = (command, args) => execFileSync(command, args, { stdio: 'inherit' });

if (process.env.PREBUILT === '1') {
  for (const path of [
    'dist/server.bundle.js',
    'public/index.html',
    'node_modules/better-sqlite3/build/Release/better_sqlite3.node',
  ]) {
    if (!existsSync(path)) throw new Error(`PREBUILT=1 but ${path} is missing from the build context`);
  }
} else {
  run('npm', ['ci', '--no-audit', '--no-fund']);
  run('npm', ['run', 'build']);
  run('npm', ['prune', '--omit=dev']);
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

// Mount points of the tenant's two volumes. Docker copies a directory's ownership into a new,
// empty named volume the first time it is mounted there, so these make the volumes writable by
// the app's uid 1000 (the Dockerfile copies them with --chown).
for (const dir of ['volumes/files', 'volumes/history']) mkdirSync(dir, { recursive: true });
