import t from 'tap';
import { firstFreeSubnet, overlaps, parseCidr, subnetAt, subnetCount } from '../../src/runtime/subnet-pool.js';

t.test('parseCidr accepts network addresses and rejects the rest', async (t) => {
  t.same(parseCidr('10.201.0.0/16'), { base: 0x0ac90000, prefix: 16 });
  for (const bad of ['10.201.0.1/16', '10.201.0.0', '300.0.0.0/8', '10.0.0.0/33', 'x/16']) {
    t.throws(() => parseCidr(bad), RangeError, bad);
  }
});

t.test('a /16 pool holds 4096 /28 subnets in order', async (t) => {
  const pool = parseCidr('10.201.0.0/16');
  t.equal(subnetCount(pool, 28), 4096);
  t.equal(subnetAt(pool, 28, 0), '10.201.0.0/28');
  t.equal(subnetAt(pool, 28, 1), '10.201.0.16/28');
  t.equal(subnetAt(pool, 28, 16), '10.201.1.0/28');
  t.equal(subnetAt(pool, 28, 4095), '10.201.255.240/28');
  t.throws(() => subnetCount(pool, 8), RangeError);
});

t.test('overlaps', async (t) => {
  t.ok(overlaps(parseCidr('10.0.0.0/8'), parseCidr('10.201.0.16/28')));
  t.notOk(overlaps(parseCidr('10.201.0.0/28'), parseCidr('10.201.0.16/28')));
  t.ok(overlaps(parseCidr('10.201.0.16/28'), parseCidr('10.201.0.16/28')));
});

t.test('firstFreeSubnet skips taken subnets and engine networks, and reports exhaustion', async (t) => {
  const pool = parseCidr('10.201.0.0/26');
  t.equal(firstFreeSubnet(pool, 28, new Set()), '10.201.0.0/28');
  t.equal(firstFreeSubnet(pool, 28, new Set(['10.201.0.0/28'])), '10.201.0.16/28');
  t.equal(firstFreeSubnet(pool, 28, new Set(['10.201.0.0/28']), [parseCidr('10.201.0.16/29')]), '10.201.0.32/28');
  const all = new Set(['10.201.0.0/28', '10.201.0.16/28', '10.201.0.32/28', '10.201.0.48/28']);
  t.equal(firstFreeSubnet(pool, 28, all), undefined);
});
