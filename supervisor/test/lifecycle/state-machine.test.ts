import type { TenantState } from '@tenancy/shared';
import t from 'tap';
import {
  holdsCapacity,
  type LifecycleEffect,
  type LifecycleEvent,
  transition,
} from '../../src/lifecycle/state-machine.js';

type Row = [name: string, from: TenantState, event: LifecycleEvent, to: TenantState, effects: LifecycleEffect[]];

const up = { type: 'observed', running: true, paused: false } as const;
const frozen = { type: 'observed', running: true, paused: true } as const;
const gone = { type: 'observed', running: false, paused: false } as const;
const failedStart: LifecycleEffect[] = [
  { type: 'stop-container', reason: 'failed-start' },
  { type: 'record-stop', reason: 'failed-start' },
];

const rows: Row[] = [
  // Waking up.
  ['asleep wakes', 'asleep', { type: 'wake' }, 'waking', [{ type: 'begin-wake' }]],
  ['failed retries fresh', 'failed', { type: 'wake' }, 'waking', [{ type: 'begin-wake' }]],
  ['paused resumes (no new container)', 'paused', { type: 'wake' }, 'waking', [{ type: 'begin-resume' }]],
  ['waking joins the wake in flight', 'waking', { type: 'wake' }, 'waking', []],
  ['running needs no wake', 'running', { type: 'wake' }, 'running', []],
  ['stopping ignores wake (the controller waits for the stop)', 'stopping', { type: 'wake' }, 'stopping', []],
  ['ready', 'waking', { type: 'ready' }, 'running', []],
  ['wake fails', 'waking', { type: 'wake-failed', timedOut: false }, 'failed', failedStart],
  ['wake times out', 'waking', { type: 'wake-failed', timedOut: true }, 'failed', failedStart],
  [
    'stop during a wake cancels it',
    'waking',
    { type: 'stop', reason: 'admin' },
    'stopping',
    [{ type: 'cancel-wake' }, { type: 'stop-container', reason: 'admin' }],
  ],
  [
    'container dies during a wake',
    'waking',
    { type: 'died', oom: false },
    'failed',
    [{ type: 'record-stop', reason: 'failed-start' }],
  ],
  // First stage of sleep: pause.
  ['idle pause', 'running', { type: 'pause' }, 'paused', [{ type: 'pause-container' }]],
  ['the engine refused the pause', 'paused', { type: 'pause-failed' }, 'running', []],
  ['pause of a sleeping tenant is a no-op', 'asleep', { type: 'pause' }, 'asleep', []],
  ['pause while waking is a no-op', 'waking', { type: 'pause' }, 'waking', []],
  ['second pause is a no-op', 'paused', { type: 'pause' }, 'paused', []],
  // Second stage: stop.
  ['idle stop', 'running', { type: 'stop', reason: 'idle' }, 'stopping', [{ type: 'stop-container', reason: 'idle' }]],
  [
    'paused too long: stop',
    'paused',
    { type: 'stop', reason: 'idle' },
    'stopping',
    [{ type: 'stop-container', reason: 'idle' }],
  ],
  [
    'memory low: stop a paused tenant',
    'paused',
    { type: 'stop', reason: 'memory' },
    'stopping',
    [{ type: 'stop-container', reason: 'memory' }],
  ],
  [
    'capacity stop',
    'running',
    { type: 'stop', reason: 'capacity' },
    'stopping',
    [{ type: 'stop-container', reason: 'capacity' }],
  ],
  ['stop of a sleeping tenant is a no-op', 'asleep', { type: 'stop', reason: 'admin' }, 'asleep', []],
  ['stop of a failed tenant is a no-op', 'failed', { type: 'stop', reason: 'admin' }, 'failed', []],
  ['second stop while stopping is a no-op', 'stopping', { type: 'stop', reason: 'idle' }, 'stopping', []],
  ['stopped', 'stopping', { type: 'stopped' }, 'asleep', []],
  ['died while stopping counts as stopped', 'stopping', { type: 'died', oom: false }, 'asleep', []],
  // Deaths.
  ['crash', 'running', { type: 'died', oom: false }, 'asleep', [{ type: 'record-stop', reason: 'crashed' }]],
  ['oom kill', 'running', { type: 'died', oom: true }, 'asleep', [{ type: 'record-stop', reason: 'oom' }]],
  [
    'a paused tenant killed',
    'paused',
    { type: 'died', oom: false },
    'asleep',
    [{ type: 'record-stop', reason: 'crashed' }],
  ],
  // Reconciliation with what the engine shows.
  ['observed running while asleep: adopt', 'asleep', up, 'running', [{ type: 'adopt' }]],
  ['observed running while failed: adopt', 'failed', up, 'running', [{ type: 'adopt' }]],
  ['observed paused while asleep: adopt paused', 'asleep', frozen, 'paused', [{ type: 'adopt' }]],
  ['vanished while running', 'running', gone, 'asleep', [{ type: 'record-stop', reason: 'crashed' }]],
  ['vanished while paused', 'paused', gone, 'asleep', [{ type: 'record-stop', reason: 'crashed' }]],
  ['still running', 'running', up, 'running', []],
  ['still paused (survives a supervisor restart)', 'paused', frozen, 'paused', []],
  ['frozen by someone else', 'running', frozen, 'paused', []],
  ['thawed by someone else', 'paused', up, 'running', [{ type: 'adopt' }]],
  ['still asleep', 'asleep', gone, 'asleep', []],
  ['interrupted wake that got running', 'waking', up, 'running', [{ type: 'adopt' }]],
  ['interrupted wake that did not', 'waking', gone, 'asleep', [{ type: 'record-stop', reason: 'failed-start' }]],
  ['interrupted stop that finished', 'stopping', gone, 'asleep', []],
  ['interrupted stop of a container still running', 'stopping', up, 'running', [{ type: 'adopt' }]],
  ['ready out of turn is ignored', 'asleep', { type: 'ready' }, 'asleep', []],
];

for (const [name, from, event, to, effects] of rows) {
  t.test(name, async (t) => {
    t.strictSame(transition(from, event), { next: to, effects });
  });
}

t.test('paused tenants hold no start slot; waking, running and stopping do', async (t) => {
  const states: TenantState[] = ['asleep', 'waking', 'running', 'paused', 'stopping', 'failed'];
  t.strictSame(
    states.filter((state) => holdsCapacity(state)),
    ['waking', 'running', 'stopping'],
  );
});
