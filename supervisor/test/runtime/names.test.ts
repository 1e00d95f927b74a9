import t from 'tap';
import { parseExtraLabels } from '../../src/runtime/labels.js';
import { deriveIdentity, objectNames } from '../../src/runtime/names.js';

const KEY = 'k'.repeat(32);

t.test('identities are stable, keyed, and never contain the user id', async (t) => {
  const a = deriveIdentity(KEY, 'alice@example.com');
  t.same(deriveIdentity(KEY, 'alice@example.com'), a, 'stable');
  t.match(a.hash, /^[0-9a-f]{24}$/);
  t.not(deriveIdentity('x'.repeat(32), 'alice@example.com').hash, a.hash, 'depends on the key');
  t.not(deriveIdentity(KEY, 'bob').hash, a.hash);
  t.not(a.secret, a.summaryToken, 'separate purposes give separate values');
  for (const value of Object.values(a)) t.notMatch(value, /alice/);
});

t.test('object names are valid Docker names whatever the user id holds', async (t) => {
  for (const userId of ['../../etc', 'a b/c', 'ü🙂', '-rf', 'x'.repeat(200)]) {
    const names = objectNames('tenancy', deriveIdentity(KEY, userId).hash);
    for (const name of Object.values(names)) t.match(name, /^[a-z0-9][a-z0-9_.-]+$/, `${userId}: ${name}`);
  }
});

t.test('extra labels parse and may not override ownership labels', async (t) => {
  t.same(parseExtraLabels(''), {});
  t.same(parseExtraLabels('a=b, c.d=e=f ,flag'), { a: 'b', 'c.d': 'e=f', flag: '' });
  t.throws(() => parseExtraLabels('dev.tenancy.instance=evil'), RangeError);
  t.throws(() => parseExtraLabels('bad key=x'), RangeError);
});
