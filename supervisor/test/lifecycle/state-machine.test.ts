import t from 'tap';
import {
  type LifecycleEffect,
  type LifecycleEvent,
  type TenantStatus,
  transition,
} from '../../src/lifecycle/state-machine.js';

type Row = [name: string, from: TenantStatus, event: LifecycleEvent, to: TenantStatus, effects: LifecycleEffect[]];

const asleep: TenantStatus = { state: 'asleep' };
const failed: TenantStatus = { state: 'failed' };
const running: TenantStatus = { state: 'running' };
const stopping: TenantStatus = { state: 'stopping' };
const waking = (phase: TenantStatus['phase']): TenantStatus => ({ state: 'waking', phase });

const rows: Row[] = [
  ['asleep wakes', asleep, { type: 'wake' }, waking('queued'), [{ type: 'begin-wake' }]],
  ['failed retries fresh', failed, { type: 'wake' }, waking('queued'), [{ type: 'begin-wake' }]],
  ['waking joins the wake in flight', waking('starting'), { type: 'wake' }, waking('starting'), []],
  ['running needs no wake', running, { type: 'wake' }, running, []],
  ['stopping ignores wake (the controller waits for the stop)', stopping, { type: 'wake' }, stopping, []],
  ['phase creating', waking('queued'), { type: 'phase', phase: 'creating' }, waking('creating'), []],
  ['phase starting', waking('creating'), { type: 'phase', phase: 'starting' }, waking('starting'), []],
  [
    'phase waiting-health',
    waking('starting'),
    { type: 'phase', phase: 'waiting-health' },
    waking('waiting-health'),
    [],
  ],
  ['ready', waking('waiting-health'), { type: 'ready' }, running, [{ type: 'notify-ready' }]],
  [
    'wake fails',
    waking('starting'),
    { type: 'wake-failed', timedOut: false },
    failed,
    [
      { type: 'stop-container', reason: 'failed-start' },
      { type: 'record-stop', reason: 'failed-start' },
      { type: 'notify-failed', timedOut: false },
    ],
  ],
  [
    'wake times out',
    waking('waiting-health'),
    { type: 'wake-failed', timedOut: true },
    failed,
    [
      { type: 'stop-container', reason: 'failed-start' },
      { type: 'record-stop', reason: 'failed-start' },
      { type: 'notify-failed', timedOut: true },
    ],
  ],
  [
    'stop during a wake cancels it',
    waking('creating'),
    { type: 'stop', reason: 'admin' },
    stopping,
    [{ type: 'cancel-wake' }, { type: 'stop-container', reason: 'admin' }],
  ],
  [
    'container dies during a wake',
    waking('waiting-health'),
    { type: 'died', oom: false },
    failed,
    [
      { type: 'record-stop', reason: 'failed-start' },
      { type: 'notify-failed', timedOut: false },
    ],
  ],
  ['idle stop', running, { type: 'stop', reason: 'idle' }, stopping, [{ type: 'stop-container', reason: 'idle' }]],
  [
    'capacity stop',
    running,
    { type: 'stop', reason: 'capacity' },
    stopping,
    [{ type: 'stop-container', reason: 'capacity' }],
  ],
  ['stop of a sleeping tenant is a no-op', asleep, { type: 'stop', reason: 'admin' }, asleep, []],
  ['stop of a failed tenant is a no-op', failed, { type: 'stop', reason: 'admin' }, failed, []],
  ['second stop while stopping is a no-op', stopping, { type: 'stop', reason: 'idle' }, stopping, []],
  ['stopped', stopping, { type: 'stopped' }, asleep, []],
  ['died while stopping counts as stopped', stopping, { type: 'died', oom: false }, asleep, []],
  ['crash', running, { type: 'died', oom: false }, asleep, [{ type: 'record-stop', reason: 'crashed' }]],
  ['oom kill', running, { type: 'died', oom: true }, asleep, [{ type: 'record-stop', reason: 'oom' }]],
  ['observed running while asleep: adopt', asleep, { type: 'observed', running: true }, running, [{ type: 'adopt' }]],
  ['observed running while failed: adopt', failed, { type: 'observed', running: true }, running, [{ type: 'adopt' }]],
  [
    'vanished while running',
    running,
    { type: 'observed', running: false },
    asleep,
    [{ type: 'record-stop', reason: 'crashed' }],
  ],
  ['still running', running, { type: 'observed', running: true }, running, []],
  ['still asleep', asleep, { type: 'observed', running: false }, asleep, []],
  ['ready out of turn is ignored', asleep, { type: 'ready' }, asleep, []],
  ['phase out of turn is ignored', running, { type: 'phase', phase: 'starting' }, running, []],
];

for (const [name, from, event, to, effects] of rows) {
  t.test(name, async (t) => {
    t.same(transition(from, event), { next: to, effects });
  });
}
