import t from 'tap';
import { formatTable, formatTime } from '../../src/cli/table.js';

t.test('formatTable pads every column but the last', async (t) => {
  t.equal(
    formatTable(
      ['USER', 'STATE', 'NOTE'],
      [
        ['alice', 'running', ''],
        ['bob-with-long-id', 'asleep', null],
        ['c', undefined, 'x'],
      ],
    ),
    [
      'USER              STATE    NOTE',
      'alice             running',
      'bob-with-long-id  asleep',
      'c                          x',
    ].join('\n'),
  );
});

t.test('formatTime prints UTC to the second, or a dash', async (t) => {
  t.equal(formatTime(Date.UTC(2026, 10, 23, 4, 5, 6, 789)), '2026-11-23 04:05:06Z');
  t.equal(formatTime(null), '-');
  t.equal(formatTime(undefined), '-');
  t.equal(formatTime(Number.NaN), '-');
});
