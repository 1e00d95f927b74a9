/**
 * `tenancy-admin`: the operator's command line over the supervisor's admin API.
 *
 *   tenancy-admin list [--state running] [--json]
 *   tenancy-admin status <user> [--json]
 *   tenancy-admin logs <user> [--tail 200]
 *   tenancy-admin start <user> | pause <user> | stop <user>
 *   tenancy-admin delete <user> --yes
 *   tenancy-admin audit [--user <user>] [--action tenant.stop] [--limit 50] [--json]
 *   tenancy-admin summary [--json]
 *   tenancy-admin backup [--json]
 *   tenancy-admin restore <backup file> [--database <path>] [--yes] [--json]
 *   tenancy-admin admins [--json]
 *   tenancy-admin admin-create <name> [--expires 90d] [--json]
 *   tenancy-admin admin-revoke <id> [--json]
 *   tenancy-admin api-keys [<user>] [--json]
 *   tenancy-admin api-key-revoke <id> [--json]
 *
 * Reads SUPERVISOR_URL (default http://127.0.0.1:4010) and ADMIN_TOKEN or ADMIN_TOKEN_FILE.
 * `restore` is the exception: it works on the database file itself, offline (DATABASE_PATH).
 */
import { createWriteStream, readFileSync } from 'node:fs';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { parseArgs } from 'node:util';
import { isTenancyError, parseDuration } from '@tenancy/shared';
import { SupervisorConfigSchema } from '../config.js';
import { restoreDatabase } from '../store/restore.js';
import { formatTable, formatTime } from './table.js';

const USAGE = `usage: tenancy-admin <command> [options]

commands:
  list [--state STATE]            tenants, with state, last activity and idle deadline
  status USER                     one tenant in full
  logs USER [--tail N]            the last N lines of the tenant's container output
  start USER                      wake the tenant and wait until it is ready
  pause USER                      freeze the tenant (memory kept, wakes in milliseconds)
  stop USER                       stop the tenant's container
  delete USER --yes               remove the tenant's container, network and volumes
  export USER --out FILE          everything held about the user (both volumes and their record)
                                  as one tar, streamed to a new FILE (- for standard output)
  disable USER                    refuse the user's logins and wakes, and stop their container
  enable USER                     allow the user again
  audit [--user U] [--action A] [--limit N]
  summary                         tenants by state and usage totals
  backup                          online backup of the central database
  restore FILE [--database PATH] --yes
                                  replace the central database with a backup; the supervisor
                                  must be stopped (start it afterwards: it reconciles tenants)
  admins                          named admin identities (never their tokens)
  admin-create NAME [--expires D] a named admin token for an operator (printed once; D like
                                  90d or 12h, default never); needs the bootstrap ADMIN_TOKEN
  admin-revoke ID                 refuse that identity's token from now on; bootstrap only
  api-keys [USER]                 users' personal API keys, or one user's (never the keys)
  api-key-revoke ID               revoke a user's API key on every gateway replica

options:
  --json                          print the API's JSON instead of a table
  -h, --help                      this text

environment: SUPERVISOR_URL (default http://127.0.0.1:4010), ADMIN_TOKEN or ADMIN_TOKEN_FILE;
             restore: DATABASE_PATH (default ${String(SupervisorConfigSchema.properties.DATABASE_PATH.default)})`;

interface Connection {
  url: string;
  token: string;
}

function connection(env: NodeJS.ProcessEnv): Connection {
  const token = env.ADMIN_TOKEN || (env.ADMIN_TOKEN_FILE ? readFileSync(env.ADMIN_TOKEN_FILE, 'utf8').trim() : '');
  if (!token) throw new CliError('set ADMIN_TOKEN (or ADMIN_TOKEN_FILE) to the supervisor admin token');
  return { url: (env.SUPERVISOR_URL ?? 'http://127.0.0.1:4010').replace(/\/$/, ''), token };
}

class CliError extends Error {}

async function call(
  conn: Connection,
  method: string,
  path: string,
  json?: unknown,
): Promise<{ status: number; body: unknown; text: string }> {
  let res: Response;
  for (;;) {
    try {
      res = await fetch(`${conn.url}${path}`, {
        method,
        headers: {
          authorization: `Bearer ${conn.token}`,
          ...(json === undefined ? {} : { 'content-type': 'application/json' }),
        },
        ...(json === undefined ? {} : { body: JSON.stringify(json) }),
      });
    } catch (err) {
      throw new CliError(
        `cannot reach the supervisor at ${conn.url}: ${(err as Error).cause ?? (err as Error).message}`,
      );
    }
    // A start still in the queue or booting: the supervisor says when to ask again, so do.
    if (res.status !== 503 || !res.headers.has('retry-after')) break;
    const body = (await res
      .clone()
      .json()
      .catch(() => ({}))) as { code?: string };
    if (body.code !== 'SUP_ERR_WAKE_PENDING') break;
    await new Promise((resolve) => setTimeout(resolve, Number(res.headers.get('retry-after')) * 1000 || 1000));
  }
  const text = await res.text();
  let body: unknown = text;
  if (res.headers.get('content-type')?.includes('json')) body = text ? JSON.parse(text) : null;
  if (res.status >= 400) {
    const problem = body as { code?: string; message?: string };
    throw new CliError(`${res.status} ${problem.code ?? ''}: ${problem.message ?? text}`.trim());
  }
  return { status: res.status, body, text };
}

/**
 * Streams a download of the admin API to a file (or standard output), never holding it whole:
 * an export holds both of a tenant's volumes. Answers the bytes written.
 */
async function download(conn: Connection, path: string, out: string): Promise<number> {
  let res: Response;
  try {
    res = await fetch(`${conn.url}${path}`, { headers: { authorization: `Bearer ${conn.token}` } });
  } catch (err) {
    throw new CliError(`cannot reach the supervisor at ${conn.url}: ${(err as Error).cause ?? (err as Error).message}`);
  }
  if (res.status >= 400 || !res.body) {
    const text = await res.text();
    const problem = (() => {
      try {
        return JSON.parse(text) as { code?: string; message?: string };
      } catch {
        return {};
      }
    })();
    throw new CliError(`${res.status} ${problem.code ?? ''}: ${problem.message ?? text}`.trim());
  }
  let bytes = 0;
  const body = Readable.fromWeb(res.body as never).on('data', (chunk: Buffer) => {
    bytes += chunk.length;
  });
  await pipeline(body, out === '-' ? process.stdout : createWriteStream(out, { flags: 'wx' }));
  return bytes;
}

type Row = Record<string, unknown>;

/** The account's fate, as the console shows it: a deletion pending, or the inactivity warning. */
function accountNote(tenant: Row): string {
  if (typeof tenant.deletionDueAt === 'number') return `deletion due ${formatTime(tenant.deletionDueAt)}`;
  const warning = tenant.inactiveWarning as { deletionAt?: unknown } | null | undefined;
  if (warning) return `inactive: deletion on ${formatTime(warning.deletionAt)} unless they sign in`;
  return 'active';
}

export async function run(argv: string[], env: NodeJS.ProcessEnv, print: (text: string) => void): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      json: { type: 'boolean', default: false },
      state: { type: 'string' },
      tail: { type: 'string', default: '200' },
      user: { type: 'string' },
      action: { type: 'string' },
      limit: { type: 'string', default: '50' },
      yes: { type: 'boolean', default: false },
      database: { type: 'string' },
      expires: { type: 'string' },
      out: { type: 'string' },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  const [command, user] = positionals;
  if (values.help || !command) {
    print(USAGE);
    return command || values.help ? 0 : 2;
  }
  const needUser = () => {
    if (!user) throw new CliError(`${command} needs a user id`);
    return encodeURIComponent(user);
  };
  const out = (body: unknown, table: () => string) => print(values.json ? JSON.stringify(body, null, 2) : table());
  // Offline: no supervisor to call, so no token needed.
  if (command === 'restore') {
    const databasePath =
      values.database ?? (env.DATABASE_PATH || String(SupervisorConfigSchema.properties.DATABASE_PATH.default));
    return restore(user, databasePath, values.yes, out);
  }
  const conn = connection(env);

  switch (command) {
    case 'list': {
      const query = new URLSearchParams({ limit: '500', ...(values.state ? { state: values.state } : {}) });
      const { body } = await call(conn, 'GET', `/v1/tenants?${query}`);
      const items = (body as { items: Row[] }).items;
      out(body, () =>
        formatTable(
          ['USER', 'STATE', 'LAST ACTIVITY', 'SLEEPS AT', 'STOP REASON', 'WAKES'],
          items.map((t) => [
            t.userId,
            t.state,
            formatTime(t.lastActivity),
            formatTime(t.idleDeadline),
            t.stopReason ?? '',
            t.wakeCount,
          ]),
        ),
      );
      return 0;
    }
    case 'status':
    case 'start':
    case 'pause':
    case 'stop': {
      const method = command === 'status' ? 'GET' : 'POST';
      const path = command === 'status' ? `/v1/tenants/${needUser()}` : `/v1/tenants/${needUser()}/${command}`;
      const { body } = await call(conn, method, path);
      const t = body as Row & { limits: Row; disk?: Row | null };
      const mib = (bytes: unknown) => `${Math.round(Number(bytes) / 1024 ** 2)} MiB`;
      out(body, () =>
        formatTable(
          ['FIELD', 'VALUE'],
          [
            ['user', t.userId],
            ['tenant id', t.tenantId],
            ['state', t.phase ? `${t.state} (${t.phase})` : t.state],
            ['plan', t.plan],
            ['endpoint', t.endpoint ?? ''],
            ['last activity', formatTime(t.lastActivity)],
            ['sleeps at', formatTime(t.idleDeadline)],
            ['paused at', formatTime(t.pausedAt)],
            ['stop reason', [t.stopReason, t.stopDetail].filter(Boolean).join(': ')],
            ['wakes', `${t.wakeCount} (last took ${t.lastWakeMs ?? '-'} ms, ${t.failureCount} failed)`],
            ['last seen', formatTime(t.lastSeenAt)],
            ['account', accountNote(t)],
            [
              'limits',
              `${Number(t.limits.memoryBytes) / 1024 ** 3} GiB, ${t.limits.cpus} CPUs, ${t.limits.pids} PIDs, egress ${t.limits.egress ? 'on' : 'off'}, disk ${mib(t.limits.diskBytes)}`,
            ],
            // Only the detail (status) carries the disk; null: unbounded, or not mounted since a reboot.
            ...(t.disk === undefined
              ? []
              : [['disk', t.disk ? `${mib(t.disk.usedBytes)} used of ${mib(t.disk.sizeBytes)}` : 'not mounted']]),
          ],
        ),
      );
      return 0;
    }
    case 'logs': {
      const { text } = await call(
        conn,
        'GET',
        `/v1/tenants/${needUser()}/logs?tail=${encodeURIComponent(values.tail)}`,
      );
      print(text.replace(/\n$/, ''));
      return 0;
    }
    case 'delete': {
      const id = needUser();
      if (!values.yes) throw new CliError(`delete removes ${user}'s files and history for good: add --yes to confirm`);
      await call(conn, 'DELETE', `/v1/tenants/${id}?confirm=${id}`);
      print(values.json ? JSON.stringify({ deleted: user }) : `deleted ${user}`);
      return 0;
    }
    case 'export': {
      const id = needUser();
      if (!values.out) throw new CliError('export needs --out FILE (or --out - for standard output)');
      const written = await download(conn, `/v1/users/${id}/export`, values.out);
      if (values.out !== '-')
        print(
          values.json
            ? JSON.stringify({ exported: user, bytes: written })
            : `exported ${user} to ${values.out} (${written} bytes)`,
        );
      return 0;
    }
    case 'disable':
    case 'enable': {
      const { body } = await call(conn, 'POST', `/v1/users/${needUser()}/${command}`);
      print(values.json ? JSON.stringify(body, null, 2) : `${command}d ${user}`);
      return 0;
    }
    case 'audit': {
      const query = new URLSearchParams({
        limit: values.limit,
        ...(values.user ? { target: values.user } : {}),
        ...(values.action ? { action: values.action } : {}),
      });
      const { body } = await call(conn, 'GET', `/v1/audit?${query}`);
      out(body, () =>
        formatTable(
          ['TIME', 'ACTOR', 'ACTION', 'TARGET', 'RESULT', 'DETAIL'],
          (body as { items: Row[] }).items.map((e) => [
            formatTime(e.at),
            e.actor,
            e.action,
            e.target ?? '',
            e.result,
            e.detail ? JSON.stringify(e.detail) : '',
          ]),
        ),
      );
      return 0;
    }
    case 'summary': {
      const { body } = await call(conn, 'GET', '/v1/summary');
      const { tenants, usage } = body as { tenants: Row; usage: Row };
      out(body, () =>
        formatTable(
          ['WHAT', 'VALUE'],
          [...Object.entries(tenants).map(([state, n]) => [`tenants ${state}`, n]), ...Object.entries(usage)],
        ),
      );
      return 0;
    }
    case 'backup': {
      const { body } = await call(conn, 'POST', '/v1/backup');
      const b = body as Row;
      out(body, () => `backup written to ${b.path} (${b.bytes} bytes in ${b.ms} ms)`);
      return 0;
    }
    case 'admins': {
      const { body } = await call(conn, 'GET', '/v1/admins');
      out(body, () =>
        formatTable(
          ['ID', 'NAME', 'CREATED', 'BY', 'EXPIRES', 'LAST USED', 'REVOKED'],
          (body as { items: Row[] }).items.map((a) => [
            a.id,
            a.name,
            formatTime(a.createdAt),
            a.createdBy,
            a.expiresAt === null ? 'never' : formatTime(a.expiresAt),
            formatTime(a.lastUsedAt),
            a.revokedAt === null ? '' : `${formatTime(a.revokedAt)} by ${a.revokedBy}`,
          ]),
        ),
      );
      return 0;
    }
    case 'admin-create': {
      if (!user) throw new CliError('admin-create needs a name');
      let expiresInSeconds: number | undefined;
      if (values.expires !== undefined) {
        try {
          expiresInSeconds = Math.round(parseDuration(values.expires) / 1000);
        } catch (err) {
          throw new CliError(`--expires: ${(err as Error).message}`);
        }
      }
      const { body } = await call(conn, 'POST', '/v1/admins', {
        name: user,
        ...(expiresInSeconds === undefined ? {} : { expiresInSeconds }),
      });
      const a = body as Row;
      out(body, () =>
        [
          `created admin identity ${a.name} (id ${a.id}, expires ${a.expiresAt === null ? 'never' : formatTime(a.expiresAt)})`,
          'its token, shown this once (give it to its holder as ADMIN_TOKEN or ADMIN_TOKEN_FILE):',
          String(a.token),
        ].join('\n'),
      );
      return 0;
    }
    case 'admin-revoke': {
      if (!user) throw new CliError('admin-revoke needs the identity id (see tenancy-admin admins)');
      const { body } = await call(conn, 'DELETE', `/v1/admins/${encodeURIComponent(user)}`);
      const a = body as Row;
      out(body, () => `revoked admin identity ${a.name} (id ${a.id})`);
      return 0;
    }
    case 'api-keys': {
      const query = user === undefined ? '' : `?userId=${encodeURIComponent(user)}`;
      const { body } = await call(conn, 'GET', `/v1/api-keys${query}`);
      out(body, () =>
        formatTable(
          ['ID', 'USER', 'NAME', 'CREATED', 'EXPIRES', 'LAST USED', 'REVOKED'],
          (body as { items: Row[] }).items.map((k) => [
            k.id,
            k.userId,
            k.name,
            formatTime(k.createdAt),
            k.expiresAt === null ? 'never' : formatTime(k.expiresAt),
            formatTime(k.lastUsedAt),
            k.revokedAt === null ? '' : `${formatTime(k.revokedAt)} by ${k.revokedBy}`,
          ]),
        ),
      );
      return 0;
    }
    case 'api-key-revoke': {
      if (!user) throw new CliError('api-key-revoke needs the key id (see tenancy-admin api-keys)');
      const { body } = await call(conn, 'DELETE', `/v1/api-keys/${encodeURIComponent(user)}`);
      const k = body as Row;
      out(body, () => `revoked API key ${k.name} (id ${k.id}) of ${k.userId}`);
      return 0;
    }
    default:
      throw new CliError(`unknown command ${JSON.stringify(command)}\n\n${USAGE}`);
  }
}

function restore(
  backupPath: string | undefined,
  databasePath: string,
  yes: boolean,
  out: (body: unknown, table: () => string) => void,
): number {
  if (!backupPath) throw new CliError('restore needs the backup file');
  let result: ReturnType<typeof restoreDatabase>;
  try {
    result = restoreDatabase(backupPath, databasePath, { replace: yes });
  } catch (err) {
    if (isTenancyError(err)) throw new CliError(`${err.code}: ${err.message}`);
    throw err;
  }
  out(result, () =>
    [
      `restored ${result.from} to ${result.path}: ${result.users} users, ${result.tenants} tenants, ${result.auditEntries} audit entries`,
      result.replaced ? `the database it replaced is kept at ${result.replaced}` : 'there was no database to replace',
      'start the supervisor: it reconciles the tenants with the engine',
    ].join('\n'),
  );
  return 0;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  run(process.argv.slice(2), process.env, (text) => process.stdout.write(`${text}\n`))
    .then((code) => process.exit(code))
    .catch((err: unknown) => {
      process.stderr.write(`tenancy-admin: ${err instanceof CliError ? err.message : String(err)}\n`);
      process.exit(1);
    });
}
