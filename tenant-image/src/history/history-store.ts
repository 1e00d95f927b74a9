import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';

/** One stored chat message. Times are epoch milliseconds. */
export interface Message {
  id: number;
  role: 'user' | 'assistant';
  content: string;
  tokens: number;
  createdAt: number;
}

/** Messages kept by default: 5,000 exchanges, a few MiB of text. */
export const DEFAULT_MAX_MESSAGES = 10_000;

const MIGRATIONS = [
  `CREATE TABLE messages (
     id         INTEGER PRIMARY KEY AUTOINCREMENT,
     role       TEXT NOT NULL CHECK (role IN ('user', 'assistant')),
     content    TEXT NOT NULL,
     tokens     INTEGER NOT NULL DEFAULT 0,
     created_at INTEGER NOT NULL
   ) STRICT;`,
];

/**
 * The user's chat history in their own SQLite file on the history volume.
 *
 * WAL with synchronous = FULL: an exchange is acknowledged to the user only after its commit is
 * on disk, so a `docker kill` (or power loss) never loses a message the user saw answered.
 */
export class HistoryStore {
  private readonly db: Database.Database;
  private readonly insert;
  private readonly prune;
  private readonly page;
  private readonly counts;

  /**
   * `maxMessages`: most messages kept (HISTORY_MAX_MESSAGES); each exchange past it drops the
   * oldest, so the history cannot grow without bound and fill the tenant's disk quota.
   */
  constructor(
    dir: string,
    private readonly maxMessages = DEFAULT_MAX_MESSAGES,
  ) {
    mkdirSync(dir, { recursive: true });
    this.db = new Database(join(dir, 'history.db'));
    this.db.pragma('journal_mode = WAL');
    this.db.pragma('synchronous = FULL');
    this.db.pragma('busy_timeout = 5000');
    const version = this.db.pragma('user_version', { simple: true }) as number;
    for (let step = version; step < MIGRATIONS.length; step++) {
      this.db.transaction(() => {
        this.db.exec(MIGRATIONS[step] ?? '');
        this.db.pragma(`user_version = ${step + 1}`);
      })();
    }
    this.insert = this.db.prepare(
      'INSERT INTO messages (role, content, tokens, created_at) VALUES (@role, @content, @tokens, @createdAt)',
    );
    // Everything older than the newest `keep`: ids only grow (AUTOINCREMENT), so they order by age.
    this.prune = this.db.prepare<{ keep: number }>(
      `DELETE FROM messages WHERE id <= (SELECT id FROM messages ORDER BY id DESC LIMIT 1 OFFSET @keep)`,
    );
    this.page = this.db.prepare<{ before: number | null; limit: number }, Message>(
      `SELECT id, role, content, tokens, created_at AS createdAt FROM messages
       WHERE (@before IS NULL OR id < @before) ORDER BY id DESC LIMIT @limit`,
    );
    this.counts = this.db.prepare<[], { messages: number; replies: number; tokens: number; last: number | null }>(
      `SELECT sum(role = 'user') AS messages, sum(role = 'assistant') AS replies,
              coalesce(sum(tokens), 0) AS tokens, max(created_at) AS last FROM messages`,
    );
  }

  /** Stores a user message and its reply in one transaction, pruning the oldest past the cap. */
  recordExchange(user: string, reply: string, tokens: number, now = Date.now()): { userId: number; replyId: number } {
    return this.db.transaction(() => {
      const userId = Number(
        this.insert.run({ role: 'user', content: user, tokens: 0, createdAt: now }).lastInsertRowid,
      );
      const replyId = Number(
        this.insert.run({ role: 'assistant', content: reply, tokens, createdAt: now }).lastInsertRowid,
      );
      this.prune.run({ keep: this.maxMessages });
      return { userId, replyId };
    })();
  }

  /** Newest first; `before` is the id to page back from. */
  list(limit: number, before?: number): Message[] {
    return this.page.all({ before: before ?? null, limit });
  }

  clear(): number {
    return this.db.prepare('DELETE FROM messages').run().changes;
  }

  stats(): { messages: number; replies: number; tokensUsed: number; lastActivity: number | null } {
    const row = this.counts.get();
    return {
      messages: row?.messages ?? 0,
      replies: row?.replies ?? 0,
      tokensUsed: row?.tokens ?? 0,
      lastActivity: row?.last ?? null,
    };
  }

  /** Folds the WAL into the database file and closes it: the clean end of a graceful stop. */
  close(): void {
    this.db.pragma('wal_checkpoint(TRUNCATE)');
    this.db.close();
  }
}
