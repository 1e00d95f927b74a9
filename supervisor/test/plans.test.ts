import t from 'tap';
import { createPlanTable, DEFAULT_PLAN } from '../src/plans.js';

t.test('the default plan is the hardening baseline', async (t) => {
  t.same(DEFAULT_PLAN, {
    memoryBytes: 4 * 1024 ** 3,
    nanoCpus: 2e9,
    pids: 512,
    egress: false,
    tmpBytes: 64 * 1024 ** 2,
    diskBytes: 1024 ** 3,
  });
  const table = createPlanTable('');
  t.same(table.limitsFor('free'), DEFAULT_PLAN);
  t.same(table.limitsFor('unknown-plan'), DEFAULT_PLAN, 'unknown plans fall back to the default');
});

t.test('PLANS adds plans whose missing fields take the defaults', async (t) => {
  const table = createPlanTable('{"pro": {"memoryMb": 8192, "cpus": 4, "egress": true}, "tiny": {"pids": 64}}');
  t.same(table.limitsFor('pro'), { ...DEFAULT_PLAN, memoryBytes: 8 * 1024 ** 3, nanoCpus: 4e9, egress: true });
  t.same(table.limitsFor('tiny'), { ...DEFAULT_PLAN, pids: 64 });
  t.same(createPlanTable('{"small": {"diskMb": 256}}').limitsFor('small'), {
    ...DEFAULT_PLAN,
    diskBytes: 256 * 1024 ** 2,
  });
  t.ok(table.has('pro'));
});

t.test('invalid PLANS are refused with a clear message', async (t) => {
  t.throws(() => createPlanTable('{'), /PLANS is not valid JSON/);
  t.throws(() => createPlanTable('{"pro": {"memoryMb": 1}}'), /PLANS is invalid at \/pro\/memoryMb/);
  t.throws(() => createPlanTable('{"pro": {"privileged": true}}'), /PLANS is invalid/);
  t.throws(() => createPlanTable('{"Bad Name": {}}'), /PLANS is invalid/);
  t.throws(() => createPlanTable('{"pro": {"diskMb": 8}}'), /PLANS is invalid at \/pro\/diskMb/);
  t.throws(() => createPlanTable('{"pro": {"diskMb": 1.5}}'), /PLANS is invalid at \/pro\/diskMb/);
});
