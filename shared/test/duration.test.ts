import t from 'tap';
import { formatDuration, parseDuration } from '../src/duration.js';

t.test('parseDuration accepts every unit and bare seconds', async (t) => {
  const rows: [string, number][] = [
    ['250ms', 250],
    ['45s', 45_000],
    ['45', 45_000],
    ['1.5s', 1_500],
    ['20m', 1_200_000],
    ['12h', 43_200_000],
    ['1d', 86_400_000],
    [' 3 s ', 3_000],
    ['0', 0],
  ];
  for (const [text, ms] of rows) t.equal(parseDuration(text), ms, text);
});

t.test('parseDuration rejects what is not a duration', async (t) => {
  for (const text of ['', 's', '-5s', '5 minutes', '5x', '1e3', 'NaN']) {
    t.throws(() => parseDuration(text), RangeError, JSON.stringify(text));
  }
});

t.test('formatDuration picks the largest exact unit', async (t) => {
  const rows: [number, string][] = [
    [1_200_000, '20m'],
    [45_000, '45s'],
    [1_500, '1500ms'],
    [0, '0ms'],
    [86_400_000, '1d'],
  ];
  for (const [ms, text] of rows) t.equal(formatDuration(ms), text, String(ms));
});
