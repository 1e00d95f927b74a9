import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Type } from '@sinclair/typebox';
import t from 'tap';
import { ConfigError, Duration, describeConfig, loadConfig, Secret } from '../src/config.js';

const schema = Type.Object({
  PORT: Type.Integer({ minimum: 1, maximum: 65535, default: 4010, description: 'TCP port to listen on' }),
  VERBOSE: Type.Boolean({ default: false, description: 'Log more' }),
  IDLE_TIMEOUT: Duration('20m', 'Time without activity before a tenant is stopped'),
  ADMIN_TOKEN: Secret('Bearer token of the admin API'),
  MODE: Type.Union([Type.Literal('a'), Type.Literal('b')], { default: 'a', description: 'Mode' }),
});
const token = 'x'.repeat(32);

t.test('defaults apply, strings convert, durations decode to milliseconds', async (t) => {
  const config = loadConfig(schema, { ADMIN_TOKEN: token, VERBOSE: 'true', IDLE_TIMEOUT: '3s' });
  t.same(config, { PORT: 4010, VERBOSE: true, IDLE_TIMEOUT: 3_000, ADMIN_TOKEN: token, MODE: 'a' });
  t.equal(loadConfig(schema, { ADMIN_TOKEN: token }).IDLE_TIMEOUT, 1_200_000);
  t.ok(Object.isFrozen(config));
});

t.test('an empty variable counts as unset', async (t) => {
  t.equal(loadConfig(schema, { ADMIN_TOKEN: token, PORT: '' }).PORT, 4010);
});

t.test('every problem is reported at once and secrets are never echoed', async (t) => {
  const err = t.throws(() => loadConfig(schema, { PORT: '99999', IDLE_TIMEOUT: 'soon', ADMIN_TOKEN: 'short-secret' }));
  t.type(err, ConfigError);
  const problems = (err as ConfigError).problems.join('\n');
  t.match(problems, /PORT/);
  t.match(problems, /IDLE_TIMEOUT/);
  t.match(problems, /ADMIN_TOKEN: .*\(got \(hidden\)\)/);
  t.notMatch(problems, /short-secret/);
  t.equal((err as ConfigError).code, 'CONFIG_ERR_INVALID');
});

t.test('a missing required secret is an error', async (t) => {
  t.throws(() => loadConfig(schema, {}), /ADMIN_TOKEN/);
});

t.test('secrets can come from <NAME>_FILE, without the trailing newline, but not from both', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'config-test-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const file = join(dir, 'token');
  await writeFile(file, `${token}\n`);
  t.equal(loadConfig(schema, { ADMIN_TOKEN_FILE: file }).ADMIN_TOKEN, token);
  t.throws(() => loadConfig(schema, { ADMIN_TOKEN_FILE: file, ADMIN_TOKEN: token }), /not both/);
  t.throws(() => loadConfig(schema, { ADMIN_TOKEN_FILE: join(dir, 'missing') }), /cannot read .*ENOENT/);
  t.throws(
    () => loadConfig(schema, { PORT_FILE: file, ADMIN_TOKEN: token, PORT: 'x' }),
    /PORT/,
    '_FILE only for secrets',
  );
});

t.test('describeConfig lists each variable with its documentation', async (t) => {
  const rows = describeConfig(schema);
  t.same(
    rows.map((row) => [row.name, row.default, row.secret, row.required]),
    [
      ['PORT', 4010, false, false],
      ['VERBOSE', false, false, false],
      ['IDLE_TIMEOUT', '20m', false, false],
      ['ADMIN_TOKEN', undefined, true, true],
      ['MODE', 'a', false, false],
    ],
  );
  t.ok(rows.every((row) => row.description.length > 0));
});
