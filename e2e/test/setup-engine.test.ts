import { execFile } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { promisify } from 'node:util';
import { type Teardown, testRunId } from '@tenancy/test-support';
import t from 'tap';

const run = promisify(execFile);
const ROOT = join(import.meta.dirname, '..', '..');
const SETUP = join(ROOT, 'setup.sh');
const isRoot = process.getuid?.() === 0;
// The Compose package setup.sh picks with apt-cache policy: the first of these the distribution has.
const COMPOSE_PACKAGE = 'docker-compose(?:-v2|-plugin)?';
// With the engine, ca-certificates when the host lacks them (dockerd needs them for registries).
const ENGINE_PACKAGES = 'docker\\.io (?:ca-certificates )?';

/**
 * The path where setup.sh has to start an engine itself, on a host whose own engine must not be
 * disturbed: DOCKER_HOST names a socket in a fresh folder where nothing answers, so setup.sh starts
 * a second dockerd there, exactly as it starts one at the default socket on a host without
 * systemd. Its data, state, bridge and firewall settings are its own (--bridge=none,
 * --iptables=false), so it leaves the running engine alone. `--engine-only` stops setup.sh once
 * the engine and Compose are ready, before .env and the stack (compose-stack.test.ts runs those).
 */
t.test(
  'setup.sh starts a dockerd of its own when no engine answers, and leaves it to the next run',
  { skip: isRoot ? false : 'starting dockerd needs root' },
  async (t) => {
    const dir = mkdtempSync(join(tmpdir(), `tenancy-engine-${testRunId}-`));
    t.teardown(() => stopEngineIn(dir));
    const socket = join(dir, 'docker.sock');
    const log = join(dir, 'dockerd.log');
    const pidfile = join(dir, 'dockerd.pid');
    const envFile = join(dir, '.env');
    const env = {
      ...process.env,
      DOCKER_HOST: `unix://${socket}`,
      TENANCY_ENV_FILE: envFile,
      SETUP_DOCKERD_LOG: log,
      SETUP_DOCKERD_PIDFILE: pidfile,
      SETUP_DOCKERD_ARGS: [
        `--data-root ${join(dir, 'data')}`,
        `--exec-root ${join(dir, 'exec')}`,
        '--bridge=none --iptables=false --ip-masq=false --ip-forward=false',
      ].join(' '),
    };

    const first = await runSetup(['--non-interactive', '--engine-only'], env);
    t.equal(first.code, 0, 'setup.sh succeeded', { stderr: first.stderr });
    t.comment(`setup.sh started its own dockerd and returned in ${first.ms} ms`);
    t.match(
      first.stderr,
      new RegExp(
        `no Docker engine answers at ${escapeRegExp(socket)} \\((no systemd here|not systemd's socket)\\): starting dockerd in the background\n`,
      ),
    );
    const pid = Number(readFileSync(pidfile, 'utf8'));
    t.match(first.stderr, `dockerd is pid ${pid}: log ${log}, pid file ${pidfile}; it does not start again at boot`);
    t.match(first.stderr, /the Docker engine answers after \d+\.\d{3}s\n/);
    t.match(first.stderr, 'the Docker engine and Compose are ready: stopping here (--engine-only)');
    t.notOk(existsSync(envFile), '--engine-only writes no .env');

    // It is the engine setup.sh started: its data is in the folder, it outlives setup.sh in a
    // session of its own (so Ctrl-C on setup.sh would not stop it), and it logs where it said.
    const info = await run('docker', ['info', '--format', '{{.DockerRootDir}}'], { env });
    t.equal(info.stdout.trim(), join(dir, 'data'), 'the engine at DOCKER_HOST is the new one');
    const runningOne = await run('docker', ['info', '--format', '{{.DockerRootDir}}']);
    t.not(runningOne.stdout.trim(), join(dir, 'data'), 'and the engine the other tests use is still another one');
    t.equal(readFileSync(`/proc/${pid}/comm`, 'utf8').trim(), 'dockerd', 'the pid file names a running dockerd');
    t.equal(sessionOf(pid), pid, 'dockerd leads its own session');
    t.ok(statSync(log).size > 0, 'dockerd writes its log where setup.sh said');

    // The next run finds it answering and starts nothing.
    const second = await runSetup(['--non-interactive', '--engine-only'], env);
    t.equal(second.code, 0, 'setup.sh succeeded again', { stderr: second.stderr });
    t.notMatch(second.stderr, 'starting dockerd');
    t.match(second.stderr, /Docker engine \d+\.\d+/);
    t.equal(Number(readFileSync(pidfile, 'utf8')), pid, 'the same dockerd');
  },
);

/**
 * Where setup.sh may not or cannot install or start Docker, it says what to run by hand and fails
 * without installing anything. "Missing" is a PATH without those commands, never an uninstall.
 */
t.test('setup.sh prints the manual steps where it does not install or start Docker itself', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'tenancy-setup-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const envFile = join(dir, '.env');
  const noDocker = pathWithout(t, (name) => name.startsWith('docker'));
  const noCompose = pathWithout(t, (name) => name === 'docker-compose');
  const hasComposeV2 = await run('docker', ['compose', 'version']).then(
    () => true,
    () => false,
  );
  const deadSocket = join(dir, 'nothing.sock');
  const cases = [
    {
      name: 'Docker missing and --no-install: the apt commands, nothing installed',
      args: ['--no-install'],
      path: noDocker,
      expect: [
        /Docker Engine and Docker Compose are not installed; the distribution's packages: docker\.io /,
        'error: not installing them (--no-install). To do it by hand:',
        new RegExp(`\n  apt-get update\n  apt-get install -y ${ENGINE_PACKAGES}${COMPOSE_PACKAGE}\n  \\./setup\\.sh\n`),
      ],
    },
    {
      name: 'only Compose missing and --no-install: only its package',
      args: ['--no-install'],
      path: noCompose,
      skip: hasComposeV2 && 'this host has the Compose v2 plugin, which a PATH cannot hide',
      expect: [
        new RegExp(`Docker Compose is not installed; the distribution's packages: ${COMPOSE_PACKAGE}\n`),
        new RegExp(`\n  apt-get install -y ${COMPOSE_PACKAGE}\n`),
      ],
    },
    {
      name: 'Docker missing and not root: run as root, or the apt commands with sudo',
      args: ['--non-interactive'],
      path: noDocker,
      user: 'nobody',
      expect: [
        'error: installing them needs root: run sudo ./setup.sh, or do it by hand:',
        new RegExp(`\n  sudo apt-get update\n  sudo apt-get install -y ${ENGINE_PACKAGES}${COMPOSE_PACKAGE}\n`),
      ],
    },
    {
      name: 'an engine that does not answer and not root: how to start it, or to get its socket',
      args: ['--non-interactive'],
      path: process.env.PATH,
      dockerHost: `unix://${deadSocket}`,
      user: 'nobody',
      expect: [
        `error: no Docker engine answers at ${deadSocket}. Either it is not running, or you may not use its socket:`,
        '\n    sudo systemctl enable --now docker ',
        '\n    sudo usermod -aG docker nobody\n',
      ],
    },
  ];
  for (const row of cases) {
    t.test(row.name, { skip: row.skip || (row.user && !isRoot ? 'changing user needs root' : false) }, async (t) => {
      const env: NodeJS.ProcessEnv = { ...process.env, PATH: row.path, TENANCY_ENV_FILE: envFile };
      if (row.dockerHost) env.DOCKER_HOST = row.dockerHost;
      const result = await runSetup(row.args, env, row.user);
      t.equal(result.code, 1, 'setup.sh fails', { stderr: result.stderr });
      for (const expected of row.expect) t.match(result.stderr, expected);
      t.notMatch(
        result.stderr,
        /installing .* with apt|starting dockerd|systemctl could not/,
        'installs and starts nothing',
      );
      t.notOk(existsSync(envFile), 'and writes no .env');
    });
  }
});

/** What one setup.sh run printed, how it ended and how long it took. */
interface SetupRun {
  code: number;
  stdout: string;
  stderr: string;
  ms: number;
}

/** Runs setup.sh to its end (as `user` when given) and returns its exit code and output. */
async function runSetup(args: string[], env: NodeJS.ProcessEnv, user?: string): Promise<SetupRun> {
  const [file, argv] = user
    ? [
        'setpriv',
        [`--reuid=${user}`, `--regid=${user === 'nobody' ? 'nogroup' : user}`, '--clear-groups', SETUP, ...args],
      ]
    : [SETUP, args];
  const started = performance.now();
  try {
    const { stdout, stderr } = await run(file, argv, { cwd: ROOT, env, timeout: 120_000 });
    return { code: 0, stdout, stderr, ms: Math.round(performance.now() - started) };
  } catch (err) {
    const failed = err as { code?: unknown; stdout?: string; stderr?: string };
    if (typeof failed.code !== 'number') throw err;
    return {
      code: failed.code,
      stdout: failed.stdout ?? '',
      stderr: failed.stderr ?? '',
      ms: Math.round(performance.now() - started),
    };
  }
}

/**
 * A PATH of one folder of symlinks to every command on this PATH except those `drop` names: a
 * host where they are not installed, as far as setup.sh can tell. Readable by every user.
 */
function pathWithout(t: Teardown, drop: (name: string) => boolean): string {
  const bin = mkdtempSync(join(tmpdir(), 'tenancy-path-'));
  t.teardown(() => rmSync(bin, { recursive: true, force: true }));
  chmodSync(bin, 0o755);
  const linked = new Set<string>();
  for (const folder of (process.env.PATH ?? '').split(delimiter)) {
    let names: string[];
    try {
      names = readdirSync(folder);
    } catch {
      continue;
    }
    for (const name of names) {
      // The first of a name on PATH wins, as for the shell.
      if (linked.has(name) || drop(name)) continue;
      symlinkSync(join(folder, name), join(bin, name));
      linked.add(name);
    }
  }
  return bin;
}

/**
 * Stops every process whose command line names `dir` (the dockerd setup.sh started there and the
 * containerd it runs), unmounts what they left mounted inside it, and removes the folder.
 * dockerd is no child of this process, so its end is watched through /proc.
 */
async function stopEngineIn(dir: string): Promise<void> {
  for (const pid of processesNaming(dir)) signal(pid, 'SIGTERM');
  await gone(() => processesNaming(dir), 30_000);
  for (const pid of processesNaming(dir)) signal(pid, 'SIGKILL');
  await gone(() => processesNaming(dir), 10_000);
  const mounts = readFileSync('/proc/self/mounts', 'utf8')
    .split('\n')
    .map((line) => line.split(' ')[1] ?? '')
    .filter((point) => point.startsWith(`${dir}/`))
    .reverse();
  for (const point of mounts) await run('umount', ['-l', point]);
  rmSync(dir, { recursive: true, force: true });
}

function processesNaming(dir: string): number[] {
  const pids: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      if (readFileSync(`/proc/${entry}/cmdline`, 'utf8').includes(dir)) pids.push(Number(entry));
    } catch {
      // exited meanwhile
    }
  }
  return pids;
}

function signal(pid: number, name: NodeJS.Signals): void {
  try {
    process.kill(pid, name);
  } catch {
    // exited meanwhile
  }
}

async function gone(list: () => number[], timeoutMs: number): Promise<void> {
  const started = Date.now();
  while (list().length > 0 && Date.now() - started < timeoutMs) {
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/** The session id of a process (field 6 of /proc/PID/stat, after the parenthesised name). */
function sessionOf(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[3]);
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
