import { execFile } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t, { type Test } from 'tap';

const SETUP = join(import.meta.dirname, '..', '..', 'setup.sh');

/**
 * Runs setup.sh in a sandbox where every Docker-related command is a stub that records its call
 * and fails: the refusal must come before any of them runs, and if it ever did not, setup.sh
 * would stop at the stubs without touching this host's engine or packages.
 */
async function runSetup(t: Test, envFile: string | undefined, env: Record<string, string>, args: string[] = []) {
  const dir = mkdtempSync(join(tmpdir(), 'tenancy-setup-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const bin = join(dir, 'bin');
  const calls = join(dir, 'calls');
  mkdirSync(bin);
  writeFileSync(calls, '');
  for (const name of ['docker', 'dockerd', 'docker-compose', 'systemctl', 'apt-get', 'apt-cache']) {
    writeFileSync(join(bin, name), `#!/bin/sh\necho "${name} $*" >>'${calls}'\nexit 1\n`, { flag: 'w' });
    chmodSync(join(bin, name), 0o755);
  }
  const file = join(dir, '.env');
  if (envFile !== undefined) writeFileSync(file, envFile, { mode: 0o600 });
  const result = await new Promise<{ code: number; stderr: string }>((resolve) => {
    execFile(
      'bash',
      [SETUP, '--non-interactive', '--skip-build', ...args],
      {
        env: {
          PATH: `${bin}:${process.env.PATH ?? ''}`,
          HOME: dir,
          TENANCY_ENV_FILE: file,
          DOCKER_HOST: `unix://${join(dir, 'docker.sock')}`,
          SETUP_DOCKERD_LOG: join(dir, 'dockerd.log'),
          SETUP_DOCKERD_PIDFILE: join(dir, 'dockerd.pid'),
          ...env,
        },
        timeout: 30_000,
      },
      (error, _stdout, stderr) => resolve({ code: error ? Number(error.code ?? 1) : 0, stderr }),
    );
  });
  return { ...result, calls: readFileSync(calls, 'utf8'), envFileCreated: existsSync(file) };
}

const REFUSAL = /refusing to start the Cloudflare tunnel \(COMPOSE_PROFILES=[^)]*\) with AUTH_MODE=dev/;

t.test('setup.sh refuses to start the tunnel profile with dev login, before touching anything', async (t) => {
  const cases: [string, string | undefined, Record<string, string>, string[]][] = [
    ['dev in .env, prod profile in the environment', 'AUTH_MODE=dev\n', { COMPOSE_PROFILES: 'prod' }, []],
    ['dev in .env, prod profile in .env', 'AUTH_MODE=dev\nCOMPOSE_PROFILES=build-only,prod\n', {}, []],
    ['every profile (*)', 'AUTH_MODE=dev\n', { COMPOSE_PROFILES: '*' }, []],
    ['a new .env with the default login mode', undefined, { COMPOSE_PROFILES: 'prod' }, []],
    ['a new .env with --auth dev', undefined, { COMPOSE_PROFILES: 'prod' }, ['--auth', 'dev']],
    [
      'an override that is not the exact words',
      'AUTH_MODE=dev\nALLOW_DEV_LOGIN_ON_PUBLIC_URL=yes\n',
      { COMPOSE_PROFILES: 'prod' },
      [],
    ],
  ];
  for (const [name, envFile, env, args] of cases) {
    const run = await runSetup(t, envFile, env, args);
    t.equal(run.code, 1, `${name}: exit 1`);
    t.match(run.stderr, REFUSAL, `${name}: says why`);
    t.equal(run.calls, '', `${name}: no Docker command ran`);
    t.equal(run.envFileCreated, envFile !== undefined, `${name}: no .env written`);
  }
});

t.test('token login, no tunnel, or the loud override pass the check', async (t) => {
  const cases: [string, string | undefined, Record<string, string>, string[]][] = [
    ['token in .env with the prod profile', 'AUTH_MODE=token\n', { COMPOSE_PROFILES: 'prod' }, []],
    ['a new .env with --auth token and the prod profile', undefined, { COMPOSE_PROFILES: 'prod' }, ['--auth', 'token']],
    ['dev without the tunnel', 'AUTH_MODE=dev\nCOMPOSE_PROFILES=build-only\n', {}, []],
    [
      'dev with the tunnel and the override',
      'AUTH_MODE=dev\nALLOW_DEV_LOGIN_ON_PUBLIC_URL=yes-i-understand\n',
      { COMPOSE_PROFILES: 'prod' },
      [],
    ],
  ];
  for (const [name, envFile, env, args] of cases) {
    // Past the check setup.sh goes on to Docker, which the stubs refuse: it stops there.
    const run = await runSetup(t, envFile, env, args);
    t.notMatch(run.stderr, REFUSAL, `${name}: not refused`);
    t.match(run.calls, /^docker /m, `${name}: went on to the Docker step`);
  }
});
