import type { UpsertUserBody, UserRecord } from '@tenancy/shared';
import type { Db } from './database.js';

interface UserRow {
  user_id: string;
  email: string | null;
  plan: string;
  onboarding_completed: number;
  disabled: number;
  deletion_due_at: number | null;
}

const toUser = (row: UserRow): UserRecord => ({
  userId: row.user_id,
  email: row.email,
  plan: row.plan,
  onboardingCompleted: row.onboarding_completed === 1,
  disabled: row.disabled === 1,
  // Present only while a deletion is scheduled: clients of older contracts see no new field.
  ...(row.deletion_due_at === null ? {} : { deletionDueAt: row.deletion_due_at }),
});

/** Users as the gateway reports them at login. */
export function createUsers(db: Db, now: () => number) {
  const get = db.prepare<[string], UserRow>('SELECT * FROM users WHERE user_id = ?');
  const insert = db.prepare(
    `INSERT INTO users (user_id, email, plan, onboarding_completed, created_at, last_login_at)
     VALUES (@userId, @email, @plan, @onboarding, @now, @now)`,
  );
  const update = db.prepare(
    // A sign-in ends any inactivity warning (INACTIVE_TENANT_DAYS) at once.
    `UPDATE users SET email = @email, plan = @plan, onboarding_completed = @onboarding, last_login_at = @now,
       inactive_warned_at = NULL
     WHERE user_id = @userId`,
  );
  const setDisabled = db.prepare('UPDATE users SET disabled = ? WHERE user_id = ?');
  const upsert = db.transaction((userId: string, body: UpsertUserBody): UserRecord => {
    const existing = get.get(userId);
    const params = {
      userId,
      email: body.email ?? existing?.email ?? null,
      plan: body.plan ?? existing?.plan ?? 'free',
      onboarding: (body.onboardingCompleted ?? existing?.onboarding_completed === 1) ? 1 : 0,
      now: now(),
    };
    (existing ? update : insert).run(params);
    return toUser(get.get(userId) as UserRow);
  });

  return {
    get(userId: string): UserRecord | undefined {
      const row = get.get(userId);
      return row ? toUser(row) : undefined;
    },

    /** Records a login: creates the user or updates it; omitted fields keep their value (plan defaults to free). */
    upsert(userId: string, body: UpsertUserBody): UserRecord {
      return upsert(userId, body);
    },

    /** A disabled user may neither log in nor wake a container. Returns false for an unknown user. */
    setDisabled(userId: string, disabled: boolean): boolean {
      return setDisabled.run(disabled ? 1 : 0, userId).changes === 1;
    },
  };
}
