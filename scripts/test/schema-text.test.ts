import { Type } from '@sinclair/typebox';
import t from 'tap';
import { fieldsOf, typeText } from '../schema-text.js';

t.test('a nullable field keeps the description its member carries', async (t) => {
  const schema = Type.Object({
    pausedAt: Type.Union([Type.Null(), Type.Number({ description: 'When the tenant was paused' })]),
    plain: Type.String({ description: 'A plain field', default: 'x' }),
    bare: Type.Union([Type.Null(), Type.String()]),
  });
  const rows = fieldsOf(schema as never);
  t.strictSame(
    rows.map((row) => [row.name, row.type, row.notes]),
    [
      ['pausedAt', 'number | null', 'When the tenant was paused'],
      ['plain', 'string', 'A plain field; default `"x"`'],
      ['bare', 'string | null', ''],
    ],
  );
  t.equal(typeText(Type.Integer({ minimum: 0 }) as never), 'integer (≥ 0)');
});
