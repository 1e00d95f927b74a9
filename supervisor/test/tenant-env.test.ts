import t from 'tap';
import { parseTenantEnv } from '../src/tenant-env.js';

t.test('TENANT_ENV: a JSON object of string variables, none the platform sets itself', async (t) => {
  t.same(parseTenantEnv(''), {});
  t.same(parseTenantEnv('  '), {});
  t.same(parseTenantEnv('{"LLM_BASE_URL":"http://m/v1","LLM_MODEL":"x","_A1":""}'), {
    LLM_BASE_URL: 'http://m/v1',
    LLM_MODEL: 'x',
    _A1: '',
  });
  const rejected: [string, RegExp][] = [
    ['{nope', /not valid JSON/],
    ['["A"]', /must be a JSON object/],
    ['"A=b"', /must be a JSON object/],
    ['{"1A":"x"}', /not a variable name/],
    ['{"A-B":"x"}', /not a variable name/],
    ['{"PORT":"1"}', /PORT is set by the platform/],
    ['{"TENANT_SECRET":"x"}', /set by the platform/],
    ['{"SUMMARY_TOKEN":"x"}', /set by the platform/],
    ['{"A":1}', /A must be a string/],
  ];
  for (const [input, message] of rejected) t.throws(() => parseTenantEnv(input), message, input);
  t.throws(() => parseTenantEnv('{"KEY":{"secret":"sk-live"}}'), { message: /^(?!.*sk-live)/ }, 'values never echoed');
});
