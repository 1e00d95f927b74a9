import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Teardown } from '@tenancy/test-support';
import t from 'tap';
import { DEFAULT_MAX_MESSAGES, HistoryStore } from '../../src/history/history-store.js';

function store(t: Teardown, maxMessages?: number): HistoryStore {
  const dir = mkdtempSync(join(tmpdir(), 'tenant-history-'));
  const history = new HistoryStore(dir, maxMessages);
  t.teardown(() => {
    history.close();
    rmSync(dir, { recursive: true, force: true });
  });
  return history;
}

t.test('the history keeps the newest messages up to its cap, pruning the oldest', async (t) => {
  const history = store(t, 4);
  for (let i = 1; i <= 5; i++) history.recordExchange(`question ${i}`, `answer ${i}`, i, 1_000 + i);
  t.strictSame(
    history.list(10).map((message) => message.content),
    ['answer 5', 'question 5', 'answer 4', 'question 4'],
    'the two newest exchanges, newest first',
  );
  t.strictSame(history.stats(), { messages: 2, replies: 2, tokensUsed: 9, lastActivity: 1_005 });
});

t.test('under the cap nothing is pruned; the default cap is 10,000 messages', async (t) => {
  t.equal(DEFAULT_MAX_MESSAGES, 10_000);
  const history = store(t);
  for (let i = 1; i <= 3; i++) history.recordExchange(`q${i}`, `a${i}`, 0, i);
  t.equal(history.list(100).length, 6);
});
