// Bundles the compiled app (dist/server.js and every dependency but the native SQLite addon) into
// one file, dist/server.bundle.js, which is what the image runs.
//
// Why: a wake from "stopped" is mostly Node loading modules. Unbundled, the app resolves, reads
// and compiles a few hundred files of fastify and pino at every start (about 0.6 s of CPU on the
// project's 2-core machine); one file halves the time from process start to the first answer
// (docs/performance.md, "tenant boot"). When a hundred users arrive together, that CPU is what
// the starts queue for.
//
// Usage: node bundle.mjs [dist folder]   (default: dist next to this file)
import { dirname, resolve } from 'node:path';
import { build } from 'esbuild';

const dist = resolve(process.argv[2] ?? resolve(import.meta.dirname, 'dist'));

await build({
  entryPoints: [resolve(dist, 'server.js')],
  outfile: resolve(dist, 'server.bundle.js'),
  bundle: true,
  platform: 'node',
  format: 'esm',
  target: 'node20',
  // A native addon: loaded from node_modules at run time, as before.
  external: ['better-sqlite3'],
  // fastify and pino are CommonJS and call require(); an ES module bundle needs one to give them.
  banner: {
    js: "import { createRequire as __tenancyRequire } from 'node:module'; const require = __tenancyRequire(import.meta.url);",
  },
  // Readable stack traces in the tenant's log: names are kept, nothing is minified.
  minify: false,
  // Module paths in the bundle's comments relative to the app folder, not the build machine's.
  absWorkingDir: dirname(dist),
  logLevel: 'warning',
});
